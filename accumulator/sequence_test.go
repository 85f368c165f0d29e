package accumulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The transitions of an idempotent partition, one test each, on the fake
// clock: what the sender may drain after each answer, and what sequence
// numbers and epoch the bytes carry.

func TestProducerIDIsAskedForOnceAndSequencesStartAtZero(t *testing.T) {
	h := idempotent(t, true, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	h.drainNone("no batch leaves before the producer has an id")
	ready, _ := h.acc.Ready(node, []TopicPartition{tp0}, false, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, 1, h.asked, "the id is asked for once, however often the sender looks")

	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 3})
	h.knownTo(node, tp0)
	require.Equal(t, stampOf{7, 3, 0}, stamped(t, h.drainOne("first batch")))
	require.Equal(t, stampOf{7, 3, 1}, stamped(t, h.drainOne("second batch, pipelined")))
}

func TestSequencesFollowRecordCounts(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 5 {
		h.add(tp0, i, []byte("small")) // five records, one batch
	}
	first := h.drainOne("the batch of five")
	h.add(tp0, 5, []byte("next"))
	second := h.drainOne("the next batch")
	require.Equal(t, int32(0), stamped(t, first).seq)
	require.Equal(t, int32(5), stamped(t, second).seq, "a batch's sequence is its first record's")
}

func TestSequencesWrapAfterMaxInt32(t *testing.T) {
	require.Equal(t, int32(1), addSeq(2147483646, 3))
	require.Equal(t, int32(0), addSeq(2147483647, 1))
	require.Equal(t, int32(10), addSeq(5, 5))
}

func TestAtMostMaxInFlightBatchesOfAPartition(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 7 {
		h.add(tp0, i, big)
	}
	var sent []*Batch
	for i := range 5 {
		sent = append(sent, h.drainOne("batch in flight"))
		require.Equal(t, int32(i), stamped(t, sent[i]).seq)
	}
	h.drainNone("a sixth batch of the partition must wait")
	h.acc.Complete(sent[0], 0, -1, nil)
	require.Equal(t, int32(5), stamped(t, h.drainOne("an answer frees a place")).seq)
}

// A leader with no state for the producer takes any first sequence, so an
// idempotent partition keeps one request in flight until its broker has
// acknowledged one: after its first batch, after a failure, and on a new
// leader. Otherwise, of two requests in flight, the first could be refused
// (NOT_LEADER_OR_FOLLOWER, the broker not yet the leader) and the second
// written ahead of it: the 3-broker cluster did so for new topics.
func TestOneRequestInFlightUntilTheBrokerAcknowledgesOne(t *testing.T) {
	h := idempotent(t, false, nil)
	tp1 := part(1) // unlike tp0, never acknowledged
	drain := func(n int32) []*Batch {
		bs, _, _ := h.acc.Drain(nil, n, []TopicPartition{tp1}, 0, 1<<20, false, h.clk.Now())
		return bs
	}
	for i := range 5 {
		h.add(tp1, i, big)
	}
	b0 := drain(node)
	require.Len(t, b0, 1, "the first batch")
	require.Empty(t, drain(node), "no second request before the first is acknowledged")

	h.retry(b0[0], 0) // NOT_LEADER_OR_FOLLOWER, say
	b0 = drain(node)
	require.Len(t, b0, 1, "the first batch again")
	require.Empty(t, drain(node), "a refusal acknowledges nothing")

	h.acc.Complete(b0[0], 0, -1, nil)
	b1, b2 := drain(node), drain(node)
	require.Len(t, b1, 1, "once acknowledged, the batches behind go")
	require.Len(t, b2, 1, "pipelined")
	require.Equal(t, []int32{1, 2}, []int32{stamped(t, b1[0]).seq, stamped(t, b2[0]).seq})

	// The leader moves: the new one acknowledges a batch before it gets two.
	h.acc.Complete(b1[0], 1, -1, nil)
	h.acc.Complete(b2[0], 2, -1, nil)
	require.Len(t, drain(node+1), 1, "the new leader's first request")
	require.Empty(t, drain(node+1), "the new leader has acknowledged nothing yet")

	// Without idempotence nothing is learnt from an acknowledgement.
	plain := newHarness(t, func(c *Config) { c.Linger = 0 })
	plain.add(tp1, 0, big)
	plain.add(tp1, 1, big)
	bs, _ := plain.drain([]TopicPartition{tp1}, 1024)
	require.Len(t, bs, 1)
	bs, _ = plain.drain([]TopicPartition{tp1}, 1024)
	require.Len(t, bs, 1, "without idempotence a partition pipelines from its first batch")
}

// The bug behind reordered retries: batches failing together used to go
// back to the front of the queue in reverse order.
func TestRetriesGoBackInSequenceOrder(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, big)
	}
	b0, b1, b2 := h.drainOne("b0"), h.drainOne("b1"), h.drainOne("b2")
	bytes1 := append([]byte(nil), b1.Encoded()...)

	h.retry(b2, 100*time.Millisecond) // answers in any order
	h.drainNone("a retry waits for every request sent before its failure")
	h.retry(b1, 100*time.Millisecond)
	h.retry(b0, 100*time.Millisecond)
	h.drainNone("retries wait for their backoff, and b3 may not pass them")

	h.clk.Advance(100 * time.Millisecond)
	for i, want := range []*Batch{b0, b1, b2} {
		got := h.drainOne("the retries, in order")
		require.Same(t, want, got, "retry %d", i)
		require.Equal(t, int32(i), stamped(t, got).seq)
		if i == 0 {
			h.drainNone("after a failure, one request at a time until one is acknowledged")
			h.acc.Complete(got, 0, -1, nil)
		}
	}
	require.Equal(t, bytes1, b1.Encoded(), "a retry resends the same bytes: the broker deduplicates by them")
	require.Equal(t, int32(3), stamped(t, h.drainOne("then the batch never sent")).seq)
}

func TestAnotherBrokerWaitsUntilRequestsInFlightAreAnswered(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0 := h.drainOne("to the old leader")
	parts := []TopicPartition{tp0}
	ready, _ := h.acc.Ready(node+1, parts, false, h.clk.Now())
	require.False(t, ready, "the new leader's sender may not drain while the old one has requests in flight")
	bs, _, _ := h.acc.Drain(nil, node+1, parts, 0, 1<<20, false, h.clk.Now())
	require.Empty(t, bs)

	h.acc.Complete(b0, 0, -1, nil)
	require.Contains(t, h.woken, tp0, "the waiting sender is woken once nothing is in flight")
	bs, _, _ = h.acc.Drain(nil, node+1, parts, 0, 1<<20, false, h.clk.Now())
	require.Len(t, bs, 1)
	require.Equal(t, int32(1), stamped(t, bs[0]).seq)
}

func TestNonIdempotentBatchesCarryNoProducer(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 0, big)
	require.Equal(t, stampOf{-1, -1, -1}, stamped(t, h.drainOne("b0")))
	require.Zero(t, h.asked)
}

func TestAPartitionLeftBehindCatchesUpWhenIdle(t *testing.T) {
	h := idempotent(t, false, nil)
	b1 := bumpedByTp0(t, h)
	h.retry(b1, 0) // NOT_LEADER, say: refused, so not written
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "renumbered under the epoch tp0 moved to, before anything more is sent")
}
