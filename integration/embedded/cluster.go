// Package embedded runs an in-process Kafka cluster (franz-go's kfake) for
// tests and for the kprod command, with the faults a producer must survive:
// failed, slow and dropped produce requests, lost responses, leadership
// moves and stopped brokers.
//
// kfake speaks the Kafka protocol over real TCP on 127.0.0.1, so a client
// under test cannot tell it from a broker except by what it chooses to
// fake. Node IDs are 0 to Brokers-1.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ErrClosed is returned by the methods of a closed Cluster.
var ErrClosed = errors.New("embedded: cluster closed")

// Options configures Start. The zero value is one broker with no topics.
type Options struct {
	// Brokers is how many brokers to run. Default 1.
	Brokers int

	// Topics are created at start: name to partition count (values below
	// 1 take DefaultPartitions).
	Topics map[string]int32

	// AutoCreateTopics creates a topic when a client asks for its
	// metadata and allows auto creation, as a real broker with
	// auto.create.topics.enable=true does. Default false.
	AutoCreateTopics bool

	// DefaultPartitions is the partition count of auto-created topics and
	// of CreateTopic with a count below 1 (num.partitions). Default 1.
	DefaultPartitions int32

	// Logger receives the cluster's log; nil discards it. kfake logs
	// little: requests it could not serve (an injected connection close
	// among them, at info) and consumer group changes.
	Logger *slog.Logger

	// Kfake are more options for kfake itself: SASL users (kfake.EnableSASL,
	// kfake.Superuser), TLS (kfake.TLS), broker configs (kfake.BrokerConfigs).
	Kfake []kfake.Opt
}

// Cluster is a running in-process cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	fake      *kfake.Cluster
	listeners *listeners
	closing   chan struct{} // closed by Close: ends injected delays
	ports     map[int32]int // node ID to port, set by Start, kept across StopBroker
	closeOnce sync.Once

	// closed is set by Close. kfake's administrative calls block forever
	// on a closed cluster, so we check it before each.
	closed atomic.Bool
}

// Start starts a cluster listening on free ports of 127.0.0.1.
func Start(opts Options) (*Cluster, error) {
	brokers := opts.Brokers
	if brokers <= 0 {
		brokers = 1
	}
	partitions := opts.DefaultPartitions
	if partitions <= 0 {
		partitions = 1
	}
	ls := &listeners{byPort: make(map[int]*listener)}
	kopts := []kfake.Opt{
		kfake.NumBrokers(brokers),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.ListenFn(ls.listen),
	}
	if opts.AutoCreateTopics {
		kopts = append(kopts, kfake.AllowAutoTopicCreation())
	}
	if opts.Logger != nil {
		kopts = append(kopts, kfake.WithLogger(slogLogger{opts.Logger}))
	}
	kopts = append(kopts, opts.Kfake...)
	fake, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: starting cluster: %w", err)
	}
	c := &Cluster{
		fake:      fake,
		listeners: ls,
		closing:   make(chan struct{}),
		ports:     make(map[int32]int, brokers),
	}
	// kfake numbers its first brokers 0..n-1 in listening order.
	for i, addr := range fake.ListenAddrs() {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("embedded: broker address: %w", err)
		}
		c.ports[int32(i)] = int(ap.Port())
	}
	for name, n := range opts.Topics {
		if err := c.CreateTopic(name, n); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Addrs returns "127.0.0.1:port" of every running broker, for a client's
// seed brokers, or nil once the cluster is closed.
func (c *Cluster) Addrs() []string {
	if c.closed.Load() {
		return nil
	}
	return c.fake.ListenAddrs()
}

// CreateTopic creates a topic; partitions below 1 take
// Options.DefaultPartitions. It fails if the topic exists.
func (c *Cluster) CreateTopic(name string, partitions int32) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.fake.CreateTopic(name, partitions, nil); err != nil {
		return fmt.Errorf("embedded: creating topic %q: %w", name, err)
	}
	return nil
}

// Leader returns the node ID leading the partition, or -1 if it does not
// exist or the cluster is closed.
func (c *Cluster) Leader(topic string, partition int32) int32 {
	if c.closed.Load() {
		return -1
	}
	return c.fake.LeaderFor(topic, partition)
}

// MoveLeader makes toNode the partition's leader and bumps its leader epoch.
// Clients still sending to the old leader get NOT_LEADER_OR_FOLLOWER and
// must refresh their metadata.
func (c *Cluster) MoveLeader(topic string, partition, toNode int32) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.fake.MoveTopicPartition(topic, partition, toNode); err != nil {
		return fmt.Errorf("embedded: moving %s/%d to node %d: %w", topic, partition, toNode, err)
	}
	return nil
}

// ShuffleLeaders gives every partition a randomly chosen leader and bumps
// every leader epoch, as after a wave of elections.
// It does nothing once the cluster is closed.
func (c *Cluster) ShuffleLeaders() {
	if !c.closed.Load() {
		c.fake.ShufflePartitionLeaders()
	}
}

// StopBroker takes a broker down: it stops listening, every open
// connection to it is closed, metadata no longer lists it, and the
// partitions are spread over the remaining brokers (new leaders, bumped
// epochs). The data stays: the partitions live in the cluster, not in the
// broker, as if fully replicated. The last broker cannot be stopped.
func (c *Cluster) StopBroker(node int32) error {
	if c.closed.Load() {
		return ErrClosed
	}
	port, ok := c.ports[node]
	if !ok {
		return fmt.Errorf("embedded: stopping broker: node %d unknown", node)
	}
	if err := c.fake.RemoveNode(node); err != nil {
		return fmt.Errorf("embedded: stopping broker %d: %w", node, err)
	}
	c.listeners.closeConns(port)
	return nil
}

// RestartBroker brings a stopped broker back with its node ID on its old
// port. Partition leadership is then shuffled over all brokers.
func (c *Cluster) RestartBroker(node int32) error {
	if c.closed.Load() {
		return ErrClosed
	}
	port, ok := c.ports[node]
	if !ok {
		return fmt.Errorf("embedded: restarting broker: node %d unknown", node)
	}
	if _, _, err := c.fake.AddNode(node, port); err != nil {
		return fmt.Errorf("embedded: restarting broker %d on port %d: %w", node, port, err)
	}
	return nil
}

// Kfake returns the underlying kfake cluster, for what this package does not
// wrap (kfake.Fault with topic or partition selectors, Control functions,
// PartitionInfo, ...).
func (c *Cluster) Kfake() *kfake.Cluster { return c.fake }

// Close shuts the cluster down without waiting for injected delays: held
// requests end with their connections. It is safe to call more than once.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		// kfake first, so that a held request is not let through to a
		// cluster still running; then release the delay timers.
		c.fake.Close()
		close(c.closing)
	})
}

// slogLogger adapts kfake's logger to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	case kfake.LogLevelInfo:
		sl = slog.LevelInfo
	case kfake.LogLevelDebug:
		sl = slog.LevelDebug
	default:
		return
	}
	ctx := context.Background()
	if s.l.Enabled(ctx, sl) {
		s.l.Log(ctx, sl, fmt.Sprintf(format, args...), "component", "kfake")
	}
}
