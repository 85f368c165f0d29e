package fakebroker

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestProduceAssignsOffsetsAndKeepsRecords(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	cn := dial(t, c, 0, conn.Config{})
	_, p := produce(t, cn, 12, "t", 0, batch(t, "a", "b", "c"))
	require.Zero(t, p.ErrorCode)
	require.Equal(t, int64(0), p.BaseOffset)
	_, p = produce(t, cn, 3, "t", 0, batch(t, "d"))
	require.Equal(t, int64(3), p.BaseOffset, "offsets continue per partition, whatever the version")

	recs := c.Records("t", 0)
	require.Len(t, recs, 4)
	for i, want := range []string{"a", "b", "c", "d"} {
		require.Equal(t, int64(i), recs[i].Offset)
		require.Equal(t, want, string(recs[i].Value))
		require.Equal(t, "k"+want, string(recs[i].Key))
	}
	require.Equal(t, int64(1001), recs[1].Timestamp, "absolute timestamp: base + delta")
	require.Equal(t, int64(4), c.ProduceCount())
	require.Equal(t, int64(4), c.HighWatermark("t", 0))
	require.Zero(t, c.HighWatermark("t", 1))
}

func TestProduceCountOnlyMode(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	cn := dial(t, c, 0, conn.Config{})
	_, p := produce(t, cn, 12, "t", 0, batch(t, "a", "b", "c"))
	require.Zero(t, p.ErrorCode)
	require.Equal(t, int64(3), c.HighWatermark("t", 0))
	require.Nil(t, c.Records("t", 0))
}

func TestProduceRejectsCorruptBatch(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	cn := dial(t, c, 0, conn.Config{})
	b := batch(t, "a")
	b[len(b)-1] ^= 0xff
	_, p := produce(t, cn, 12, "t", 0, b)
	require.Equal(t, kerr.CorruptMessage.Code, p.ErrorCode)
	require.Contains(t, *p.ErrorMessage, "crc")
	require.Zero(t, c.ProduceCount())
}

func TestProduceUnknownPartitionAndMessageTooLarge(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}, MaxMessageBytes: 100})
	cn := dial(t, c, 0, conn.Config{})
	_, p := produce(t, cn, 12, "t", 1, batch(t, "a"))
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, p.ErrorCode)
	_, p = produce(t, cn, 12, "nope", 0, batch(t, "a"))
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, p.ErrorCode)
	_, p = produce(t, cn, 12, "t", 0, batch(t, "aaaaaaaaaa", "bbbbbbbbbbb", "cccccccccc"))
	require.Equal(t, kerr.MessageTooLarge.Code, p.ErrorCode)
	_, p = produce(t, cn, 12, "t", 0, batch(t, "a"))
	require.Zero(t, p.ErrorCode, "a small batch fits")
}

// message.max.bytes is the largest batch Kafka takes, counted with its log
// overhead: one of that size is written, one a byte larger refused. A fake
// taking a byte more would let a producer's batches overrun the limit by
// one in every test that sets it.
func TestMessageMaxBytesIsTheLargestBatchTaken(t *testing.T) {
	b := batch(t, "a", "b")
	c := start(t, Options{Topics: map[string]int32{"t": 1}, MaxMessageBytes: len(b)})
	cn := dial(t, c, 0, conn.Config{})
	_, p := produce(t, cn, 12, "t", 0, b)
	require.Zero(t, p.ErrorCode, "a batch of message.max.bytes")

	c.SetMaxMessageBytes(len(b) - 1)
	_, p = produce(t, cn, 12, "t", 0, b)
	require.Equal(t, kerr.MessageTooLarge.Code, p.ErrorCode, "a batch a byte over message.max.bytes")
	require.Equal(t, int64(-1), p.BaseOffset)
	require.Equal(t, int64(2), c.ProduceCount(), "the refused batch appends nothing")
}

// A broker that lost leadership names the new leader and its address at
// v10+ (KIP-951), and says only NOT_LEADER_OR_FOLLOWER before.
func TestProduceToFormerLeader(t *testing.T) {
	c := start(t, Options{Nodes: 2, Topics: map[string]int32{"t": 1}})
	leader, epoch, err := c.Leader("t", 0)
	require.NoError(t, err)
	require.Equal(t, int32(0), leader)
	require.NoError(t, c.SetLeader("t", 0, 1))
	_, epoch2, _ := c.Leader("t", 0)
	require.Equal(t, epoch+1, epoch2)

	cn := dial(t, c, 0, conn.Config{})
	resp, p := produce(t, cn, 12, "t", 0, batch(t, "a"))
	require.Equal(t, kerr.NotLeaderOrFollower.Code, p.ErrorCode)
	require.Equal(t, &protocol.ProduceResponseLeader{LeaderID: 1, LeaderEpoch: epoch2}, p.CurrentLeader)
	require.Len(t, resp.NodeEndpoints, 1)
	require.Equal(t, int32(1), resp.NodeEndpoints[0].NodeID)

	_, p = produce(t, cn, 9, "t", 0, batch(t, "a"))
	require.Equal(t, kerr.NotLeaderOrFollower.Code, p.ErrorCode)
	require.Nil(t, p.CurrentLeader, "no hint before v10")

	cn1 := dial(t, c, 1, conn.Config{})
	_, p = produce(t, cn1, 12, "t", 0, batch(t, "a"))
	require.Zero(t, p.ErrorCode)
}

func TestProduceHookInjectsErrors(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 2}})
	msg := "bad record"
	c.OnProduce(func(node int32, req *protocol.ProduceRequest) Action {
		return Action{
			All: &Failure{Err: kerr.NotEnoughReplicas},
			Partitions: map[TopicPartition]*Failure{{"t", 1}: {Err: kerr.InvalidRecord, Message: "nope",
				RecordErrors: []protocol.ProduceResponseRecordError{{BatchIndex: 0, BatchIndexErrorMessage: &msg}}}},
		}
	})
	cn := dial(t, c, 0, conn.Config{})
	resp, err := request(t, cn, produceReq(1, "t", map[int32][]byte{0: batch(t, "a"), 1: batch(t, "b")}), 12)
	require.NoError(t, err)
	for _, p := range resp.(*protocol.ProduceResponse).Topics[0].Partitions {
		switch p.Index {
		case 0:
			require.Equal(t, kerr.NotEnoughReplicas.Code, p.ErrorCode)
			require.Nil(t, p.ErrorMessage)
		case 1:
			require.Equal(t, kerr.InvalidRecord.Code, p.ErrorCode)
			require.Equal(t, "nope", *p.ErrorMessage)
			require.Equal(t, "bad record", *p.RecordErrors[0].BatchIndexErrorMessage)
		}
	}
	require.Zero(t, c.ProduceCount(), "failed partitions append nothing")
	require.Equal(t, int64(1), c.ProduceRequests())

	c.OnProduce(nil)
	_, p := produce(t, cn, 12, "t", 0, batch(t, "a"))
	require.Zero(t, p.ErrorCode)
}

func TestProduceHookDelaysDropsAndHangs(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	do := func(a Action) { c.OnProduce(func(int32, *protocol.ProduceRequest) Action { return a }) }

	do(Action{Delay: 50 * time.Millisecond})
	cn := dial(t, c, 0, conn.Config{})
	began := time.Now()
	_, p := produce(t, cn, 12, "t", 0, batch(t, "a"))
	require.Zero(t, p.ErrorCode)
	require.GreaterOrEqual(t, time.Since(began), 50*time.Millisecond)

	do(Action{Drop: true})
	_, err := request(t, cn, produceReq(1, "t", map[int32][]byte{0: batch(t, "a")}), 12)
	require.ErrorIs(t, err, conn.ErrDisconnected)

	held := make(chan struct{}, 1)
	c.OnProduce(func(int32, *protocol.ProduceRequest) Action {
		held <- struct{}{}
		return Action{Hang: true}
	})
	// The hung request's timeout runs on a fake clock: on the wall clock,
	// a timeout short enough for the test would also bound the ApiVersions
	// handshake inside Dial, which a loaded machine can delay past it.
	fake := clock.NewFake(time.Unix(1000, 0))
	cn = dial(t, c, 0, conn.Config{Clock: fake, RequestTimeout: time.Second})
	hung := make(chan error, 1)
	cn.SendVersion(context.Background(), produceReq(1, "t", map[int32][]byte{0: batch(t, "a")}), 12,
		func(_ protocol.Response, err error) { hung <- err })
	// The clock moves once the broker holds the request, and in tenths of
	// the timeout, so that an answer or a close in place of the hang has
	// some real time to arrive before the timeout.
	bounded.Receive(t, held, wait, "the broker never read the Produce")
	deadline := time.Now().Add(wait)
	for {
		fake.Advance(100 * time.Millisecond)
		select {
		case err := <-hung:
			require.ErrorIs(t, err, conn.ErrRequestTimeout)
			require.Equal(t, int64(1), c.ProduceCount(), "dropped and hung requests append nothing")
			return
		case <-time.After(5 * time.Millisecond): // paces the fake clock only
		}
		require.True(t, time.Now().Before(deadline), "the hung request had not timed out after %v", wait)
	}
}

// With acks=0 Kafka sends no answer at all; the records still land.
func TestProduceAcksZeroHasNoAnswer(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	cn := dial(t, c, 0, conn.Config{})
	type answer struct {
		resp protocol.Response
		err  error
	}
	done := make(chan answer, 1)
	cn.SendVersion(context.Background(), produceReq(0, "t", map[int32][]byte{0: batch(t, "a", "b")}), 12,
		func(resp protocol.Response, err error) { done <- answer{resp, err} })
	a := bounded.Receive(t, done, wait, "no outcome for the acks=0 Produce")
	require.NoError(t, a.err)
	require.Nil(t, a.resp, "acks=0: done once written")
	// The connection is answered in order, so a later request's answer
	// means the Produce was handled, and that no stray answer came first.
	metadata(t, cn, 12, false, "t")
	require.Equal(t, int64(2), c.ProduceCount())
}

// Kafka answers an acks=0 request that it refused for a partition (here
// one that does not exist) by closing the connection, the only way to tell
// the producer; the partitions it took are written all the same.
func TestProduceAcksZeroRefusedClosesTheConnection(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	cn := dial(t, c, 0, conn.Config{})
	done := make(chan error, 1)
	cn.SendVersion(context.Background(), produceReq(0, "t", map[int32][]byte{0: batch(t, "a"), 7: batch(t, "b")}), 12,
		func(_ protocol.Response, err error) { done <- err })
	require.NoError(t, bounded.Receive(t, done, wait, "no outcome for the acks=0 Produce"), "acks=0: done once written")
	bounded.Receive(t, cn.Done(), wait, "the connection of a refused acks=0 request stayed open")
	require.ErrorIs(t, cn.Err(), conn.ErrDisconnected)
	require.Equal(t, int64(1), c.ProduceCount(), "partition 0 is written all the same")
}

func TestCloseEndsConnectionsAndDelays(t *testing.T) {
	c, err := Start(Options{Topics: map[string]int32{"t": 1}})
	require.NoError(t, err)
	delayed := make(chan struct{}, 1)
	c.OnProduce(func(int32, *protocol.ProduceRequest) Action {
		delayed <- struct{}{}
		return Action{Delay: time.Hour}
	})
	cn := dial(t, c, 0, conn.Config{})
	done := make(chan error, 1)
	cn.SendVersion(context.Background(), produceReq(1, "t", map[int32][]byte{0: batch(t, "a")}), 12,
		func(_ protocol.Response, err error) { done <- err })
	// Close once the request is being delayed: closed before the fake
	// read it, the connection ended with no delay to end, and the test
	// passed with Close leaving delays to run their course.
	bounded.Receive(t, delayed, wait, "the broker never read the Produce")
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close did not return while a reply was delayed")
	}
	select {
	case err := <-done:
		require.ErrorIs(t, err, conn.ErrDisconnected)
	case <-time.After(wait):
		t.Fatal("the client did not see the connection close")
	}
	c.Close() // idempotent
}

// A test that reads the log after closing its client waits for
// OpenConnections to reach zero: a request still held by a hook or a delay
// when the client hung up is handled, and may append, before then.
func TestAConnectionCountsAsOpenUntilItsLastRequestIsHandled(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	held, release := make(chan struct{}, 1), make(chan struct{})
	handle := sync.OnceFunc(func() { close(release) })
	t.Cleanup(handle) // should the test fail: Close waits for the hook
	c.OnProduce(func(int32, *protocol.ProduceRequest) Action {
		held <- struct{}{}
		<-release
		return Action{}
	})
	cn := dial(t, c, 0, conn.Config{})
	cn.SendVersion(context.Background(), produceReq(1, "t", map[int32][]byte{0: batch(t, "a")}), 12,
		func(protocol.Response, error) {})
	bounded.Receive(t, held, wait, "the broker never read the Produce")
	cn.Close()
	require.Equal(t, 1, c.OpenConnections(), "the held request's connection, closed by the client")
	handle()
	require.Eventually(t, func() bool { return c.OpenConnections() == 0 }, wait, time.Millisecond,
		"the connection still counts as open after its request was handled")
	require.Equal(t, int64(1), c.ProduceCount(), "the held request appends after its client hung up")
}

// Kafka takes exactly one batch of magic 2 per partition at Produce v3+,
// every version the fake speaks (ProduceRequest.validateRecords), and
// refuses anything else with INVALID_RECORD, no message and log start
// offset -1, before it asks whether it leads the partition: node 1, which
// does not, answers the same. What its framing cannot read, a length below
// 14 or a magic above 2, is CORRUPT_MESSAGE, answered alike. Before, the
// fake appended two batches, and answered no batch or magic 1 with
// CORRUPT_MESSAGE.
func TestProduceRefusesAnythingButOneBatchOfMagic2(t *testing.T) {
	magic1, magic3, short := batch(t, "a"), batch(t, "a"), batch(t, "a")
	magic1[16] = 1 // the magic byte, read before the CRC
	magic3[16] = 3
	binary.BigEndian.PutUint32(short[8:], 13) // the length field: below a v0 message's overhead
	for _, tc := range []struct {
		name string
		data []byte
		want *kerr.Error
	}{
		{"two batches", append(batch(t, "a"), batch(t, "b")...), kerr.InvalidRecord},
		{"no batch", []byte{}, kerr.InvalidRecord},
		{"magic 1", magic1, kerr.InvalidRecord},
		// What Kafka's framing cannot read is corrupt, not invalid.
		{"magic 3", magic3, kerr.CorruptMessage},
		{"a length of 13", short, kerr.CorruptMessage},
		{"12 zero bytes", make([]byte, 12), kerr.CorruptMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Leader: func(string, int32) int32 { return 0 }})
			for node := range int32(2) {
				_, p := produce(t, dial(t, c, node, conn.Config{}), 12, "t", 0, tc.data)
				require.Equal(t, tc.want.Code, p.ErrorCode, "node %d: error %d", node, p.ErrorCode)
				require.Equal(t, int64(-1), p.BaseOffset)
				require.Equal(t, int64(-1), p.LogStartOffset, "Kafka's answer before any append")
				require.Nil(t, p.ErrorMessage)
			}
			require.Zero(t, c.ProduceCount())
		})
	}
}

// Bytes after the batch too few to frame another are left out of the
// append, as Kafka trims them, and the batch is appended.
func TestProduceAppendsTheBatchBeforeBytesTooFewForAnother(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after []byte
	}{
		{"3 bytes", []byte{1, 2, 3}},
		{"part of a second batch", batch(t, "b")[:20]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
			_, p := produce(t, dial(t, c, 0, conn.Config{}), 12, "t", 0, append(batch(t, "a"), tc.after...))
			require.Zero(t, p.ErrorCode, "error %d", p.ErrorCode)
			require.Equal(t, int64(0), p.BaseOffset)
			recs := c.Records("t", 0)
			require.Len(t, recs, 1)
			require.Equal(t, "a", string(recs[0].Value))
		})
	}
}
