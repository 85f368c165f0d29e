package integration

// The harness of the cluster failure tests (cluster_*_test.go): a real
// Apache Kafka cluster of three brokers, run by kafka/broker.sh start
// --nodes 3, whose brokers the tests kill, stop and start again through the
// same script. The tests run when KAFKA_BROKERS lists three brokers and skip
// otherwise. The script is found beside this package (kafka/broker.sh) and
// reaches the cluster's state through KAFKA_STATE_DIR, which the tests
// inherit from the environment that started the cluster.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/testbroker"
)

// clusterWait bounds each wait of a cluster test for the cluster to change
// (a leader to move, a broker to rejoin): a killed broker is fenced by the
// controller after broker.session.timeout.ms (9 s) and a restarted one
// registers after the same, so a healthy run needs well under half of it.
const clusterWait = 90 * time.Second

// clusterBrokers is how many brokers the failure tests need.
const clusterBrokers = 3

// kafkaCluster is the cluster of KAFKA_BROKERS, driven by broker.sh.
type kafkaCluster struct {
	script string
	seeds  []string
	ids    []int32 // the broker ids, as broker.sh and Kafka number them
}

// brokerNode is one line of broker.sh nodes.
type brokerNode struct {
	id      int32
	port    int
	pid     int // 0 when stopped
	running bool
}

// clusterFor returns the three-broker cluster of KAFKA_BROKERS, with every
// broker running and, when the test ends, every broker the test stopped
// started again. It skips the test when KAFKA_BROKERS does not list three
// brokers. When it does but broker.sh does not run them, it skips too,
// unless KAFKA_STATE_DIR is set: then the cluster was meant to be broker.sh's
// and the test fails, so that CI cannot skip these tests by mistake.
func clusterFor(t *testing.T) *kafkaCluster {
	t.Helper()
	seeds := testbroker.EnvBrokers()
	if len(seeds) != clusterBrokers {
		t.Skipf("cluster failure test: KAFKA_BROKERS lists %d broker(s), want the %d of `kafka/broker.sh start --nodes 3`",
			len(seeds), clusterBrokers)
	}
	script, err := filepath.Abs(filepath.Join("kafka", "broker.sh"))
	require.NoError(t, err)
	c := &kafkaCluster{script: script, seeds: seeds}

	out, err := c.try("nodes")
	var nodes []brokerNode
	if err == nil {
		nodes, err = parseNodes(out)
	}
	if err == nil {
		err = c.matchSeeds(nodes)
	}
	if err != nil {
		msg := fmt.Sprintf("cluster failure test: KAFKA_BROKERS=%s is not a cluster that %s runs: %v", os.Getenv("KAFKA_BROKERS"), script, err)
		if os.Getenv("KAFKA_STATE_DIR") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (set KAFKA_STATE_DIR to the directory broker.sh was started with)")
	}
	for _, n := range nodes {
		c.ids = append(c.ids, n.id)
		if !n.running { // left stopped by an earlier test that failed
			c.startNode(t, n.id)
			continue
		}
		// A broker an earlier test froze is left frozen if that test's
		// process died before its cleanup (a -timeout panic, Ctrl-C);
		// broker.sh sees it running. SIGCONT does nothing to one that runs.
		if err := thaw(n.pid); err != nil {
			t.Logf("thawing broker %d (pid %d): %v", n.id, n.pid, err)
		}
	}
	t.Cleanup(func() { c.restore(t) })
	c.awaitBrokers(t, clusterBrokers)
	return c
}

// matchSeeds checks that the seeds are exactly broker.sh's brokers.
func (c *kafkaCluster) matchSeeds(nodes []brokerNode) error {
	var ports []string
	for _, n := range nodes {
		ports = append(ports, "127.0.0.1:"+strconv.Itoa(n.port))
	}
	if !slices.Equal(slices.Sorted(slices.Values(ports)), slices.Sorted(slices.Values(c.seeds))) {
		return fmt.Errorf("broker.sh runs %v", ports)
	}
	return nil
}

// restore starts every broker the test left stopped, so that the next test
// finds the whole cluster.
func (c *kafkaCluster) restore(t *testing.T) {
	nodes, err := c.nodes()
	if err != nil {
		t.Errorf("restoring the cluster: %v", err)
		return
	}
	for _, n := range nodes {
		if !n.running {
			if _, err := c.try("start-node", strconv.Itoa(int(n.id))); err != nil {
				t.Errorf("restoring the cluster: %v", err)
			}
		}
	}
}

// try runs broker.sh with args and returns its stdout; its error carries
// the script's stderr.
func (c *kafkaCluster) try(args ...string) (string, error) {
	return runBrokerScript(c.script, 3*time.Minute, args...)
}

// run runs broker.sh with args, failing the test if it fails.
func (c *kafkaCluster) run(t *testing.T, args ...string) {
	t.Helper()
	_, err := c.try(args...)
	require.NoError(t, err)
	t.Logf("broker.sh %s", strings.Join(args, " "))
}

func (c *kafkaCluster) kill(t *testing.T, id int32) {
	t.Helper()
	c.run(t, "kill", strconv.Itoa(int(id)))
}

func (c *kafkaCluster) stopNode(t *testing.T, id int32) {
	t.Helper()
	c.run(t, "stop-node", strconv.Itoa(int(id)))
}

// startNode starts broker id again; broker.sh returns once it serves.
func (c *kafkaCluster) startNode(t *testing.T, id int32) {
	t.Helper()
	c.run(t, "start-node", strconv.Itoa(int(id)))
}

func (c *kafkaCluster) nodes() ([]brokerNode, error) {
	out, err := c.try("nodes")
	if err != nil {
		return nil, err
	}
	return parseNodes(out)
}

// parseNodes reads broker.sh nodes: ID PORT PID STATE per line.
func parseNodes(out string) ([]brokerNode, error) {
	var nodes []brokerNode
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("broker.sh nodes: line %q is not ID PORT PID STATE", line)
		}
		id, err1 := strconv.ParseInt(f[0], 10, 32)
		port, err2 := strconv.Atoi(f[1])
		n := brokerNode{id: int32(id), port: port, running: f[3] == "running"}
		var err3 error
		if n.running {
			n.pid, err3 = strconv.Atoi(f[2])
		}
		if err1 != nil || err2 != nil || err3 != nil || (f[3] != "running" && f[3] != "stopped") {
			return nil, fmt.Errorf("broker.sh nodes: line %q is not ID PORT PID STATE", line)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// partitionState is what metadata says of one partition.
type partitionState struct {
	leader int32
	isr    []int32
}

// clusterState is one Metadata answer: the live brokers, and the
// partitions of a topic.
type clusterState struct {
	brokers    []int32
	partitions map[int32]partitionState
}

// state asks the cluster for its brokers and topic's partitions ("" for
// none), through a client of its own so that a dead broker it knew of does
// not linger.
func (c *kafkaCluster) state(ctx context.Context, topic string) (clusterState, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds...))
	if err != nil {
		return clusterState{}, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	if topic != "" {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return clusterState{}, err
	}
	st := clusterState{partitions: map[int32]partitionState{}}
	for _, b := range resp.Brokers {
		st.brokers = append(st.brokers, b.NodeID)
	}
	slices.Sort(st.brokers)
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return clusterState{}, fmt.Errorf("topic %s: %w", topic, err)
		}
		for _, p := range rt.Partitions {
			st.partitions[p.Partition] = partitionState{leader: p.Leader, isr: slices.Sorted(slices.Values(p.ISR))}
		}
	}
	return st, nil
}

// await waits up to clusterWait until cond holds of the cluster's state
// for topic; cond reports what it still misses through c.
func (c *kafkaCluster) await(t *testing.T, what, topic string, cond func(c *assert.CollectT, st clusterState)) {
	t.Helper()
	require.EventuallyWithT(t, func(collect *assert.CollectT) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		st, err := c.state(ctx, topic)
		if !assert.NoError(collect, err, "metadata") {
			return
		}
		cond(collect, st)
	}, clusterWait, 100*time.Millisecond, "waiting until %s", what)
}

// awaitBrokers waits until metadata lists n live brokers.
func (c *kafkaCluster) awaitBrokers(t *testing.T, n int) {
	t.Helper()
	c.await(t, fmt.Sprintf("%d brokers are registered", n), "", func(collect *assert.CollectT, st clusterState) {
		assert.Len(collect, st.brokers, n, "brokers in metadata")
	})
}

// awaitFullISR waits until every partition of topic has every broker in
// sync, as an operator waits for no under-replicated partitions before
// restarting the next broker.
func (c *kafkaCluster) awaitFullISR(t *testing.T, topic string) {
	t.Helper()
	c.await(t, "every partition of "+topic+" is fully replicated", topic, func(collect *assert.CollectT, st clusterState) {
		assert.NotEmpty(collect, st.partitions, "partitions")
		for p, ps := range st.partitions {
			assert.Equal(collect, c.ids, ps.isr, "ISR of partition %d", p)
		}
	})
}

// awaitLeadersOff waits until no partition of topic is led by broker id
// and every partition has a leader.
func (c *kafkaCluster) awaitLeadersOff(t *testing.T, topic string, id int32) {
	t.Helper()
	c.await(t, fmt.Sprintf("broker %d leads no partition of %s", id, topic), topic, func(collect *assert.CollectT, st clusterState) {
		for p, ps := range st.partitions {
			assert.GreaterOrEqual(collect, ps.leader, int32(0), "leader of partition %d", p)
			assert.NotEqual(collect, id, ps.leader, "leader of partition %d", p)
		}
	})
}

// ledBy returns the partitions of topic that broker id leads.
func (c *kafkaCluster) ledBy(t *testing.T, topic string, id int32) []int32 {
	t.Helper()
	st, err := c.state(testCtx(t), topic)
	require.NoError(t, err)
	var ps []int32
	for p, s := range st.partitions {
		if s.leader == id {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// leaderOf returns the broker that leads partition p of topic.
func (c *kafkaCluster) leaderOf(t *testing.T, topic string, p int32) int32 {
	t.Helper()
	st, err := c.state(testCtx(t), topic)
	require.NoError(t, err)
	ps, ok := st.partitions[p]
	require.True(t, ok, "metadata has no partition %d of %s", p, topic)
	require.GreaterOrEqual(t, ps.leader, int32(0), "partition %d of %s has no leader", p, topic)
	return ps.leader
}

// addPartitions grows topic to n partitions.
func (c *kafkaCluster) addPartitions(t *testing.T, topic string, n int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, n
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(testTimeout / time.Millisecond)
	resp, err := req.RequestWith(testCtx(t), cl)
	require.NoError(t, err, "adding partitions to %s", topic)
	require.Len(t, resp.Topics, 1)
	require.NoError(t, kerr.ErrorForCode(resp.Topics[0].ErrorCode), "adding partitions to %s", topic)
	t.Logf("%s grown to %d partitions", topic, n)
}

// startingNode starts broker id again in the background, for a test that
// injects another fault while it restarts; the channel gives broker.sh's
// error once the broker serves or the start failed.
func (c *kafkaCluster) startingNode(id int32) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.try("start-node", strconv.Itoa(int(id)))
		done <- err
	}()
	return done
}

// startNodes starts the brokers ids again all at once, as after an outage
// of several, and returns once every one serves.
func (c *kafkaCluster) startNodes(t *testing.T, ids ...int32) {
	t.Helper()
	var starting []<-chan error
	for _, id := range ids {
		starting = append(starting, c.startingNode(id))
	}
	for i, done := range starting {
		require.NoError(t, <-done)
		t.Logf("broker.sh start-node %d", ids[i])
	}
}
