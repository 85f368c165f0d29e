package embedded_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
)

func TestStartTopicsAndAddrs(t *testing.T) {
	c := start(t, embedded.Options{Brokers: 3, Topics: map[string]int32{"three": 3, "default": 0}})

	addrs := c.Addrs()
	require.Len(t, addrs, 3)
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", host)
	}

	cl := newClient(t, c)
	meta := metadata(t, cl, "three")
	assert.Len(t, meta.Brokers, 3)
	assert.Len(t, meta.Topics[0].Partitions, 3)
	assert.Len(t, metadata(t, cl, "default").Topics[0].Partitions, 1, "DefaultPartitions defaults to 1")

	require.NoError(t, c.CreateTopic("later", 2))
	assert.Len(t, metadata(t, cl, "later").Topics[0].Partitions, 2)
	err := c.CreateTopic("later", 2)
	assert.ErrorIs(t, err, kerr.TopicAlreadyExists)
}

func TestAutoCreateTopics(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[auto], func(t *testing.T) {
			c := start(t, embedded.Options{AutoCreateTopics: auto, DefaultPartitions: 2})
			req := kmsg.NewPtrMetadataRequest()
			req.AllowAutoTopicCreation = true
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("auto")
			req.Topics = append(req.Topics, rt)
			meta, err := req.RequestWith(ctxT(t), newClient(t, c))
			require.NoError(t, err)
			require.Len(t, meta.Topics, 1)
			if !auto {
				assert.Equal(t, kerr.UnknownTopicOrPartition.Code, meta.Topics[0].ErrorCode)
				return
			}
			require.Zero(t, meta.Topics[0].ErrorCode)
			assert.Len(t, meta.Topics[0].Partitions, 2)
		})
	}
}

func TestLogger(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}, Logger: logger})
	ctx := ctxT(t)
	f := c.CloseConnOnNextProduce(1)
	require.NoError(t, produce(ctx, newClient(t, c), "t", "v"))
	require.NoError(t, f.Wait(ctx))
	c.Close()

	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, buf.String(), "component=kfake")
	// At info, as Options.Logger says: kfake's levels mapped onto slog's
	// one for one, where a swap of two went unseen.
	assert.Regexp(t, `level=INFO msg="[^"]*connection closed by fault injection`, buf.String())
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestMoveLeader(t *testing.T) {
	c := start(t, embedded.Options{Brokers: 2, Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "before"))

	from := c.Leader("t", 0)
	require.Contains(t, []int32{0, 1}, from)
	to := 1 - from
	epoch := metadata(t, cl, "t").Topics[0].Partitions[0].LeaderEpoch

	require.NoError(t, c.MoveLeader("t", 0, to))
	assert.Equal(t, to, c.Leader("t", 0))
	p := metadata(t, cl, "t").Topics[0].Partitions[0]
	assert.Equal(t, to, p.Leader)
	assert.Greater(t, p.LeaderEpoch, epoch, "leader epoch must be bumped")

	// kgo still sends to the old leader, is told NOT_LEADER_OR_FOLLOWER,
	// refreshes metadata and retries.
	require.NoError(t, produce(ctx, cl, "t", "after"))
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0))

	assert.Error(t, c.MoveLeader("t", 0, 7), "unknown node")
	assert.Error(t, c.MoveLeader("nope", 0, to), "unknown topic")
	assert.Equal(t, int32(-1), c.Leader("nope", 0))
}

func TestShuffleLeadersBumpsEpochs(t *testing.T) {
	c := start(t, embedded.Options{Brokers: 3, Topics: map[string]int32{"t": 4}})
	before := c.Kfake().PartitionInfos("t")
	c.ShuffleLeaders()
	after := c.Kfake().PartitionInfos("t")
	require.Len(t, after, len(before))
	for i := range after {
		assert.Greater(t, after[i].Epoch, before[i].Epoch, "partition %d", after[i].Partition)
	}
}

func TestStopAndRestartBroker(t *testing.T) {
	c := start(t, embedded.Options{Brokers: 2, Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "before"))

	victim := c.Leader("t", 0)
	addr := addrOf(t, metadata(t, cl, "t"), victim)
	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()

	require.NoError(t, c.StopBroker(victim))

	// The open connection is closed rather than left talking to a broker
	// that is gone: with a FIN if the broker had accepted it, or a reset
	// if it still waited in the listener's backlog when the listener
	// closed (the dial returns before the broker accepts).
	require.NoError(t, idle.SetReadDeadline(time.Now().Add(testTimeout)))
	_, err = idle.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading an open connection to a stopped broker: %v, want EOF or a reset: it must be closed", err)
	}
	_, err = net.DialTimeout("tcp", addr, testTimeout)
	require.Error(t, err, "a stopped broker must not accept connections")

	meta := metadata(t, cl, "t")
	require.Len(t, meta.Brokers, 1)
	assert.NotEqual(t, victim, meta.Topics[0].Partitions[0].Leader)
	require.NoError(t, produce(ctx, cl, "t", "while stopped"))

	require.NoError(t, c.RestartBroker(victim))
	meta = metadata(t, cl, "t")
	require.Len(t, meta.Brokers, 2)
	assert.Equal(t, addr, addrOf(t, meta, victim), "a restarted broker keeps its address")
	back, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	back.Close()
	require.NoError(t, produce(ctx, cl, "t", "after"))
	assert.Equal(t, int64(3), highWatermark(t, c, "t", 0), "no record is lost across the restart")

	assert.Error(t, c.RestartBroker(victim), "already running")
	assert.Error(t, c.StopBroker(9), "unknown node")
	require.NoError(t, c.StopBroker(victim))
	err = c.StopBroker(1 - victim)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "cannot remove all brokers"), err.Error())
}

func TestClose(t *testing.T) {
	c, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	addr := c.Addrs()[0]
	c.Close()
	c.Close() // a second Close is harmless

	_, err = net.DialTimeout("tcp", addr, testTimeout)
	assert.Error(t, err, "a closed cluster must not accept connections")
	assert.Nil(t, c.Addrs())
	assert.ErrorIs(t, c.CreateTopic("t", 1), embedded.ErrClosed)
	assert.ErrorIs(t, c.MoveLeader("t", 0, 0), embedded.ErrClosed)
	assert.ErrorIs(t, c.StopBroker(0), embedded.ErrClosed)
	assert.ErrorIs(t, c.RestartBroker(0), embedded.ErrClosed)
	assert.Equal(t, int32(-1), c.Leader("t", 0))
	c.ShuffleLeaders()
}
