package sender

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestRetriableErrorRetriesAfterBackoffWithSameBytes(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[1], 1)
	c := r.next()
	sent := append([]byte(nil), c.req.Topics[0].Partitions[0].Records...)
	c.done(answer(c.req, kerr.NotLeaderOrFollower.Code, -1), nil)

	retry := r.afterBackoff(120 * time.Millisecond)
	require.Equal(t, sent, retry.req.Topics[0].Partitions[0].Records, "a retry resends the identical batch")
	retry.done(answer(retry.req, 0, 7), nil)
	require.Equal(t, int64(7), r.outcome(1).Offset)
	require.Contains(t, r.refreshesAsked(), "NOT_LEADER_OR_FOLLOWER", "NOT_LEADER_OR_FOLLOWER asks for fresh metadata")
	require.Equal(t, int64(1), r.s.cfg.Counters.Retries.Load())
}

// A retry or a split is counted before its batches can go again: the
// sender woken for them may send them, and their outcome come, before the
// goroutine that handed them back runs on, so a Send that returned could
// see nothing counted. Both were counted after the accumulator returned.
func TestARetryOrSplitIsCountedBeforeItsBatchesCanGoAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int16
		counter func(*Counters) *atomic.Int64
		atOnce  int // requests sent without a backoff, answered so that the rig stops
	}{
		{"retry", kerr.NotLeaderOrFollower.Code, func(c *Counters) *atomic.Int64 { return &c.Retries }, 0},
		{"split", kerr.MessageTooLarge.Code, func(c *Counters) *atomic.Int64 { return &c.Splits }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *rig
			var answered atomic.Bool
			var countedAtWake atomic.Int64
			countedAtWake.Store(-1)
			r = newRigWith(t, rigConfig{
				sender: func(c *Config) { c.MaxInFlight = 1 },
				acc: func(c *accumulator.Config) {
					c.Wake = func(accumulator.TopicPartition) {
						if answered.Load() {
							countedAtWake.CompareAndSwap(-1, tc.counter(r.s.cfg.Counters).Load())
						}
						r.s.Wake()
					}
				},
			})
			// Held on a first request, the sender lets two records share
			// a batch, which can be split.
			r.produce(parts[1], 0)
			first := r.next()
			r.produce(parts[0], 1)
			r.produce(parts[0], 2)
			first.done(answer(first.req, 0, 0), nil)
			refused := r.next()
			answered.Store(true)
			refused.done(answer(refused.req, tc.code, -1), nil)
			require.Eventually(t, func() bool { return countedAtWake.Load() >= 0 }, 10*time.Second, time.Millisecond,
				"no wake for the batches sent back within 10s")
			require.Equal(t, int64(1), countedAtWake.Load(), "counted when the batches went back")
			for range tc.atOnce {
				c := r.next()
				c.done(answer(c.req, 0, 10), nil)
			}
		})
	}
}

func TestBrokenConnectionRetries(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(nil, io.ErrUnexpectedEOF)
	retry := r.afterBackoff(120 * time.Millisecond)
	retry.done(answer(retry.req, 0, 3), nil)
	require.Equal(t, int64(3), r.outcome(1).Offset)
}

func TestDeliveryTimeoutStopsRetries(t *testing.T) {
	r := newRigWith(t, rigConfig{acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second }})
	r.produce(parts[0], 1)
	c := r.next()
	r.clk.Advance(time.Second)
	c.done(answer(c.req, kerr.NotEnoughReplicas.Code, -1), nil)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, accumulator.ErrDeliveryTimeout)
	require.ErrorIs(t, out.Err, kerr.NotEnoughReplicas, "the last broker error is kept")
	// A batch that fails rather than going again is no retry (it counted
	// as one before).
	require.Zero(t, r.s.cfg.Counters.Retries.Load())
	require.Equal(t, int64(1), r.s.cfg.Counters.Requests.Load())
}

func TestLeaderHintRetriesAtOnce(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	resp := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
	resp.Topics[0].Partitions[0].CurrentLeader = &protocol.ProduceResponseLeader{LeaderID: 2, LeaderEpoch: 9}
	resp.NodeEndpoints = []protocol.ProduceResponseNodeEndpoint{{NodeID: 2, Host: "b2", Port: 9092}}
	c.done(resp, nil)
	retry := r.next() // no clock advance: a hinted retry has no backoff
	retry.done(answer(retry.req, 0, 5), nil)
	require.Equal(t, int64(5), r.outcome(1).Offset)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Equal(t, []string{"t-0->2@9 host=true"}, r.hints)
	require.NotContains(t, r.refreshes, "NOT_LEADER_OR_FOLLOWER", "the hint makes a refresh unnecessary")
}

func TestStaleLeaderHintKeepsTheBackoff(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	resp := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
	resp.Topics[0].Partitions[0].CurrentLeader = &protocol.ProduceResponseLeader{LeaderID: 1, LeaderEpoch: 0}
	c.done(resp, nil)
	retry := r.afterBackoff(120 * time.Millisecond) // fails if the retry came before the backoff
	retry.done(answer(retry.req, 0, 5), nil)
	require.Equal(t, int64(5), r.outcome(1).Offset)
	require.Contains(t, r.refreshesAsked(), "NOT_LEADER_OR_FOLLOWER", "a hint without news leaves metadata to a refresh")
}

// A leader that appended a batch but could not replicate it in time says
// so (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND): if the batch
// fails later, it may have been written. So may a batch answered
// KAFKA_STORAGE_ERROR (the flush after an append failed), or
// NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION with acks=all and the
// base offset of an append: Kafka answers so when the partition leaves the
// leader while it waits for its followers (in a controlled shutdown, say).
// NOT_ENOUGH_REPLICAS, and those two with base offset -1 or acks=1, refuse
// before appending: a later failure was certainly not written.
func TestAnAnswerOfAppendedButNotReplicatedMakesTheBatchMaybeWritten(t *testing.T) {
	for _, tc := range []struct {
		code         *kerr.Error
		baseOffset   int64
		acks         int16
		maybeWritten bool
	}{
		{kerr.RequestTimedOut, -1, -1, true},
		{kerr.NotEnoughReplicasAfterAppend, -1, -1, true},
		{kerr.NotEnoughReplicas, -1, -1, false},
		{kerr.NotEnoughReplicas, 7, -1, false},
		{kerr.NotLeaderOrFollower, 7, -1, true},
		{kerr.NotLeaderOrFollower, 0, -1, true},
		{kerr.UnknownTopicOrPartition, 7, -1, true},
		{kerr.KafkaStorageError, 7, -1, true},
		{kerr.KafkaStorageError, -1, 1, true},
		{kerr.NotLeaderOrFollower, -1, -1, false},
		{kerr.NotLeaderOrFollower, 7, 1, false},
	} {
		t.Run(fmt.Sprintf("%s/base_offset_%d/acks_%d", tc.code.Name, tc.baseOffset, tc.acks), func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.Acks = tc.acks })
			r.produce(parts[0], 1)
			c := r.next()
			c.done(answer(c.req, tc.code.Code, tc.baseOffset), nil)
			require.Eventually(t, func() bool { return r.clk.Timers() > 0 }, 10*time.Second, time.Millisecond,
				"the sender armed no backoff timer: the answer was not booked as a retry")
			r.acc.Abort(errors.New("closing"))
			out := r.outcome(1)
			require.ErrorIs(t, out.Err, accumulator.ErrClosed)
			require.Equal(t, tc.maybeWritten, errors.Is(out.Err, accumulator.ErrMaybeWritten), "%v", out.Err)
		})
	}
}
