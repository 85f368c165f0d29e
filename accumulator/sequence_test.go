package accumulator

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// The transitions of an idempotent partition, one test each, on the fake
// clock: what the sender may drain after each answer, and what sequence
// numbers and epoch the bytes carry.

// idempotent is a harness whose batches hold one 600-byte record each, with
// producer id 7 already assigned unless noID. Its broker then knows the
// producer on tp0, as if it had acknowledged a batch of it before: tp0
// keeps several requests in flight from its first batch (see knownTo).
func idempotent(t *testing.T, noID bool, mod func(*Config)) *harness {
	h := newHarness(t, func(c *Config) {
		c.Idempotent = true
		c.Linger = 0
		if mod != nil {
			mod(c)
		}
	})
	if !noID {
		h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 0})
		h.knownTo(node, tp0)
	}
	return h
}

// knownTo books that broker n acknowledged a batch of tp under the
// producer's current id, as its latest answer to a request sent just now:
// tp may send another request to n while one is in flight, for
// PipelineIdle.
func (h *harness) knownTo(n int32, tp TopicPartition) {
	id, ok := h.acc.ProducerID()
	require.True(h.t, ok, "a broker knows the producer only by its id")
	p := h.acc.partition(tp)
	p.mu.Lock()
	p.producer, p.acked, p.ackedBy, p.lastSent = id, true, n, h.clk.Now()
	p.mu.Unlock()
}

var big = make([]byte, 600) // one record per 1024-byte batch

// stamp is what a drained batch's bytes say about its producer.
type stampOf struct {
	id    int64
	epoch int16
	seq   int32
}

func stamped(t *testing.T, b *Batch) stampOf {
	t.Helper()
	d, _, err := record.DecodeBatch(b.Encoded())
	require.NoError(t, err)
	return stampOf{d.ProducerID, d.ProducerEpoch, d.BaseSequence}
}

// drainOne drains tp0 and returns its batch, failing unless there is
// exactly one.
func (h *harness) drainOne(what string) *Batch {
	h.t.Helper()
	return h.drainOneOf(tp0, what)
}

// drainOneOf is drainOne for tp.
func (h *harness) drainOneOf(tp TopicPartition, what string) *Batch {
	h.t.Helper()
	bs, _ := h.drain([]TopicPartition{tp}, 1<<20)
	require.Len(h.t, bs, 1, what)
	return bs[0]
}

func (h *harness) drainNone(what string) {
	h.t.Helper()
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(h.t, bs, what)
}

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

// A broker that no longer knows the producer (its state expired on an idle
// partition) takes any first sequence: b0 refused before any append and
// b1, pipelined behind it, written, b0 sent again would land after b1. It
// fails instead, certainly not written, with its callback before b1's, and
// the sequences restart behind the gap it leaves.
func TestABatchALaterOnePassedFails(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.retry(b0, 0) // NOT_ENOUGH_REPLICAS, say: refused before any append
	h.acc.Complete(b1, 5, -1, nil)

	r0 := h.outcome(0)
	require.ErrorIs(t, r0.Err, errPassed)
	require.ErrorIs(t, r0.Err, errRetry, "the refusal is kept")
	require.NotErrorIs(t, r0.Err, ErrMaybeWritten, "no attempt of b0 was written")
	require.NoError(t, h.outcome(1).Err)
	require.Equal(t, []int{0, 1}, h.orderOf())
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2 under a new epoch, behind the gap")))
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

func TestOutOfOrderBehindAnEarlierRetryIsAPlainRetry(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.retry(b0, 0)                                                                   // NOT_LEADER, say
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true}) // b0 was not written before it
	b0 = h.drainOne("b0 again")
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, b0))
	h.acc.Complete(b0, 0, -1, nil)
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, h.drainOne("b1 again, same epoch and sequence")))
}

func TestOutOfOrderAtTheNextSequenceRestartsUnderANewEpoch(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.acc.Complete(b0, 10, -1, nil)
	// The broker lost the producer's state (an unclean leader election,
	// say): the next sequence is refused.
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	b1 = h.drainOne("b1 under epoch 1 from sequence 0")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, b1))
	h.drainNone("under a new epoch, one request at a time until one is acknowledged")
	h.acc.Complete(b1, 11, -1, nil)
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("then b2")))
	require.NoError(t, h.outcome(0).Err)
	require.NoError(t, h.outcome(1).Err, "b1 was retried, not failed")
}

// A retry that an earlier attempt may have written, refused as out of
// order as the partition's next batch, may still have been written: a
// broker restarted from its snapshot recognises only the producer's last
// batch as a duplicate, and b1's attempt went with b0's. It fails with
// ErrMaybeWritten rather than go under a new epoch, where it could be
// written twice, or again and again under its own until its
// DeliveryTimeout, holding up the batches behind it; those restart.
func TestOutOfOrderAfterAnUnansweredAttemptFails(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.clk.Advance(500 * time.Millisecond)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	// Their connection broke: either may have been written.
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.clk.Advance(600 * time.Millisecond)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten, "b0 expired waiting for its retry")
	h.add(tp0, 2, big)
	b1 = h.drainOne("b1 again")
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, b1), "under its own epoch: an answer settles whether it was written")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	r1 := h.outcome(1)
	require.ErrorIs(t, r1.Err, errRetry)
	require.ErrorIs(t, r1.Err, ErrMaybeWritten, "b1 failed at once, and may have been written")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2 under epoch 1 from sequence 0")))
}

// A retry that an earlier attempt may have written, refused as the
// partition's next batch by a broker that no longer knows the producer
// (UNKNOWN_PRODUCER_ID), may still have been written: it fails with
// ErrMaybeWritten rather than go under a new epoch, and the batches behind
// it go on under that epoch.
func TestAnUnknownProducerAfterAnUnansweredAttemptFails(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0 := h.drainOne("b0")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	b0 = h.drainOne("b0 again")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, errRetry)
	require.ErrorIs(t, r.Err, ErrMaybeWritten)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b1 under epoch 1 from sequence 0")))
}

// x refused for good leaves a gap at its sequence; a behind it is refused
// as out of order as the partition's next batch, and b's answer is lost
// (maybe written). The restart waits for b alone, which goes under its own
// epoch, where an answer may settle it; a, which the broker cannot take
// under that epoch, waits for the restart rather than go again and again
// until its DeliveryTimeout, holding up the partition.
func TestARestartWaitsOnlyForTheRetriesThatMayHaveBeenWritten(t *testing.T) {
	h, a, b := gapThenUnanswered(t)
	// Refused as out of order in turn, b settles nothing: it fails.
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.ErrorIs(t, h.outcome(2).Err, ErrMaybeWritten)
	require.Same(t, a, h.drainOne("a restarted"))
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, a))
	h.acc.Complete(a, 0, -1, nil)
	require.NoError(t, h.outcome(1).Err, "a was retried, not failed")
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("the last batch, behind a")))
}

// As above, but b was written, ahead of a, by a broker that no longer knew
// the producer: acknowledged, b passes a, which fails rather than follow b
// in the log, and the sequences restart behind it.
func TestARetrySettledAheadOfARestartPassesTheUnwrittenBatch(t *testing.T) {
	h, _, b := gapThenUnanswered(t)
	h.acc.Complete(b, 5, -1, nil)
	require.NoError(t, h.outcome(2).Err)
	require.ErrorIs(t, h.outcome(1).Err, errPassed)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the last batch, restarted")))
}

// The restart's gap is behind the retries here: a, refused before any
// append (not written), and b, unanswered (maybe written), go first in
// their order under their epoch, which takes them both; b alone, ahead of
// a, would be refused as out of order and fail as maybe written.
func TestRetriesAheadOfTheGapGoInOrderBeforeTheRestart(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = 2 * time.Second })
	for i := range 4 {
		h.add(tp0, i, big)
	}
	a, b, x := h.drainOne("a"), h.drainOne("b"), h.drainOne("x")
	h.acc.Retry(a, Retry{At: h.clk.Now(), Cause: errRetry})
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Complete(x, -1, -1, errors.New("INVALID_RECORD"))
	require.Same(t, a, h.drainOne("a first"))
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, a))
	h.acc.Complete(a, 0, -1, nil)
	require.Same(t, b, h.drainOne("then b"))
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, b))
	h.acc.Complete(b, 1, -1, nil)
	require.NoError(t, h.outcome(0).Err)
	require.NoError(t, h.outcome(1).Err)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the last batch, behind the gap, restarted")))
}

// gapThenUnanswered leaves tp0 waiting to restart its sequences: x, the
// first of four one-record batches, refused for good, a refused as out of
// order, b unanswered; it returns once b, which may have been written, is
// in flight again alone, under its own epoch.
func gapThenUnanswered(t *testing.T) (h *harness, a, b *Batch) {
	h = idempotent(t, false, func(c *Config) { c.DeliveryTimeout = 2 * time.Second })
	for i := range 4 {
		h.add(tp0, i, big)
	}
	x, a, b := h.drainOne("x"), h.drainOne("a"), h.drainOne("b")
	invalid := errors.New("INVALID_RECORD")
	h.acc.Complete(x, -1, -1, invalid)
	h.acc.Retry(a, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	require.Same(t, b, h.drainOne("b first, alone"))
	require.Equal(t, stampOf{7, 0, 2}, stamped(t, b), "under its own epoch")
	h.drainNone("nothing else until b's answer")
	return h, a, b
}

func TestAFailedBatchLeavesAGapAndTheSequencesRestart(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	corrupt := errors.New("CORRUPT_MESSAGE")
	h.acc.Complete(b0, -1, -1, corrupt)
	require.ErrorIs(t, h.outcome(0).Err, corrupt)
	require.NotErrorIs(t, h.outcome(0).Err, ErrMaybeWritten, "a broker's refusal means not written")
	h.drainNone("nothing goes while b1, sent behind the gap, is in flight")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	b1 = h.drainOne("b1 restarted under epoch 1")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, b1))
	h.acc.Complete(b1, 0, -1, nil)
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("b2")))
}

// A restart waits for the batches in flight. After a failure a partition
// sends one request at a time until one is acknowledged, which holds it
// back anyway; the restart's own wait is left to do so only when an
// acknowledgement comes while a restart is due: here b1's, past the gap b0
// left (its broker no longer knew the producer), with b2 in flight behind
// it. Restarted before b2's answer, the sequences would number b2 again
// under the new epoch while its bytes say the old one, and b3 would go at
// once.
func TestARestartWaitsForTheBatchesInFlightAfterAnAcknowledgement(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, big)
	}
	b0, b1, b2 := h.drainOne("b0"), h.drainOne("b1"), h.drainOne("b2")
	h.acc.Complete(b0, -1, -1, errors.New("INVALID_RECORD")) // a gap
	h.acc.Complete(b1, 5, -1, nil)
	h.drainNone("the restart waits for b2, in flight")
	h.acc.Complete(b2, 6, -1, nil)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b3, restarted once nothing is in flight")))
}

func TestEpochBumpsAreSharedAndAnExhaustedEpochAsksForANewID(t *testing.T) {
	h := idempotent(t, false, nil)
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 32766})
	tp1 := part(1)
	h.add(tp0, 0, big)
	h.add(tp1, 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, tp1}, 1<<20)
	require.Len(t, bs, 2)
	for _, b := range bs {
		h.acc.Complete(b, -1, -1, errRetry) // refused: a gap in both partitions
	}
	h.add(tp0, 2, big)
	h.add(tp1, 3, big)
	b2 := h.drainOne("tp0's next batch")
	require.Equal(t, stampOf{7, 32767, 0}, stamped(t, b2), "tp0 restarts under the next epoch")
	bs, _ = h.drain([]TopicPartition{tp1}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 32767, 0}, stamped(t, bs[0]), "tp1 adopts the epoch tp0 moved to, without bumping it again")

	h.acc.Complete(b2, -1, -1, errRetry) // another gap in tp0
	h.add(tp0, 4, big)
	h.drainNone("epoch 32767 is the last: the partition waits for a new id")
	require.Equal(t, 1, h.asked)
	h.acc.SetProducerID(ProducerID{ID: 8, Epoch: 0})
	require.Equal(t, stampOf{8, 0, 0}, stamped(t, h.drainOne("under the new id")))
}

// A new producer id (the epoch ran out) is one no broker knows, and a
// broker takes any first sequence from a producer it does not know: a
// partition acknowledged under the old id keeps one request in flight
// again until its broker acknowledges one under the new id, whether the
// partition takes the id restarting its sequences or with none to restart.
func TestANewIDKeepsOneRequestInFlightUntilTheBrokerAcknowledgesOne(t *testing.T) {
	h := idempotent(t, false, nil)
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 32767})
	tp1 := part(1)
	h.knownTo(node, tp1)
	h.add(tp1, 0, big)
	h.acc.Complete(h.drainOneOf(tp1, "tp1's batch"), 0, -1, nil)
	// tp0's latest answer is an acknowledgement, which passed a batch
	// refused before it: a gap, under the last epoch.
	h.add(tp0, 1, big)
	h.add(tp0, 2, big)
	b1, b2 := h.drainOne("b1"), h.drainOne("b2")
	h.retry(b1, 0)
	h.acc.Complete(b2, 0, -1, nil)
	require.ErrorIs(t, h.outcome(1).Err, errPassed)
	for i := 3; i < 6; i++ {
		h.add(tp0, i, big)
	}
	h.drainNone("the epoch is spent: tp0 waits for a new id")
	h.acc.SetProducerID(ProducerID{ID: 8, Epoch: 0})

	b3 := h.drainOne("tp0 restarts under the new id")
	require.Equal(t, stampOf{8, 0, 0}, stamped(t, b3))
	h.drainNone("no second request before the broker acknowledges the new id")
	h.acc.Complete(b3, 1, -1, nil)
	h.drainOne("once acknowledged, the batches behind go")
	h.drainOne("pipelined")

	// tp1 has no sequence to restart: it takes the new id as it starts.
	h.add(tp1, 6, big)
	h.add(tp1, 7, big)
	require.Equal(t, stampOf{8, 0, 0}, stamped(t, h.drainOneOf(tp1, "tp1 under the new id")))
	bs, _ := h.drain([]TopicPartition{tp1}, 1<<20)
	require.Empty(t, bs, "no second request of tp1 before the broker acknowledges the new id")
}

// A topic deleted and created again under its name is one whose leaders
// may have no state for the producer, as under a new id: a partition
// acknowledged before keeps one request in flight again until its leader
// acknowledges one sent since. The answer to a request sent before, to the
// old topic (or to the new one before the producer learnt of it),
// acknowledges nothing of the new one. Other topics go on pipelining.
func TestARecreatedTopicKeepsOneRequestInFlightUntilTheBrokerAcknowledgesOne(t *testing.T) {
	h := idempotent(t, false, nil) // tp0 pipelines
	other := TopicPartition{Topic: "other", Partition: 0}
	h.knownTo(node, other)
	for i := range 5 {
		h.add(tp0, i, big)
	}
	old := h.drainOne("b0, to the old topic")
	h.acc.Recreated([]string{tp0.Topic})
	h.drainNone("nothing behind b0 once the topic is re-created")
	h.acc.Complete(old, 0, -1, nil)
	b1 := h.drainOne("b1, the first request to the new topic")
	h.drainNone("b0's acknowledgement, from the old topic, acknowledged nothing of the new")
	h.acc.Complete(b1, 0, -1, nil)
	h.drainOne("once acknowledged, the batches behind go")
	h.drainOne("pipelined")

	h.add(other, 5, big)
	h.add(other, 6, big)
	h.drainOneOf(other, "another topic's batch")
	h.drainOneOf(other, "pipelined behind it, its topic not re-created")
}

func TestFatalFailsAllButWhatTheBrokerWrote(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	h.add(tp0, 2, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	fenced := errors.New("INVALID_PRODUCER_EPOCH")
	h.acc.Fatal(Fenced, fenced)
	require.ErrorIs(t, h.outcome(2).Err, fenced, "the queued batch fails at once")
	require.ErrorIs(t, h.outcome(2).Err, ErrProducerStopped, "and says the producer stopped")
	h.acc.Complete(b0, 5, -1, nil)
	require.NoError(t, h.outcome(0).Err, "a batch written before is still acknowledged")
	h.retry(b1, 0)
	require.ErrorIs(t, h.outcome(1).Err, fenced, "a retry fails instead")
	_, err := h.acc.Append(t.Context(), tp0, nil, &Record{Data: record.Data{Value: big}, Callback: 3})
	require.ErrorIs(t, err, fenced)
	h.drainNone("nothing is drained after a fatal error")
}

// A batch expired in flight has its outcome, but its sequence stays: the
// partition may not move past it by guessing.
func TestExpiredInFlightBatchIsResolvedByALaterAcknowledgement(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.clk.Advance(500 * time.Millisecond)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.clk.Advance(500 * time.Millisecond)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "its request may still write it")

	// The connection broke under both requests.
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.add(tp0, 2, big)
	again := h.drainOne("b1 is retried with its old sequence: its fate decides b0's")
	require.Same(t, b1, again)
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, again))
	h.drainNone("b2 may not pass the unresolved b0 while b1 is in flight")
	h.acc.Complete(b1, 11, -1, nil) // b1 written, so b0 was too
	require.Equal(t, int64(11), h.outcome(1).Offset)
	require.Equal(t, stampOf{7, 0, 2}, stamped(t, h.drainOne("b2 follows under the same epoch")))
	require.Equal(t, int64(-1), h.outcome(0).Offset, "b0 still has its one outcome")
}

func TestExpiredInFlightBatchLeftUnresolvedRestartsTheSequences(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	total := h.pool.Available()
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	h.clk.Advance(time.Second)
	require.Equal(t, noDeadline, h.acc.Expire(h.clk.Now()))
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten)
	h.add(tp0, 1, big)
	h.drainNone("b1 waits while b0's request may still be written")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b1 under a new epoch, which fences off b0's late write")))
	h.acc.Complete(b0, 0, -1, nil) // ignored: b0 is not in flight
	h.sync()
	require.Equal(t, total-1024, h.pool.Available(), "b0's memory is back; b1's is in flight")
}

func TestExpiryOfARetryThatCannotHaveBeenWritten(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	h.retry(b0, 5*time.Second) // NOT_ENOUGH_REPLICAS: the broker refused it
	require.Equal(t, time.Second, h.acc.Expire(h.clk.Now()), "a batch waiting for a retry still has its deadline")
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, errRetry, "the timeout names the last cause")
	require.NotErrorIs(t, r.Err, ErrMaybeWritten)
	h.add(tp0, 1, big)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the gap it leaves restarts the sequences")))
}

// resentMaybeWritten is an idempotent harness whose record 0's batch went
// unanswered (it may have been written) and is drained again: its retry.
func resentMaybeWritten(t *testing.T) (*harness, *Batch) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.acc.Retry(h.drainOne("b0"), Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	return h, h.drainOne("b0 again")
}

func TestUnansweredAttemptMakesAnyLaterFailureMaybeWritten(t *testing.T) {
	h, b0 := resentMaybeWritten(t)
	denied := errors.New("TOPIC_AUTHORIZATION_FAILED")
	h.acc.Complete(b0, -1, -1, denied)
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, denied)
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "the first attempt may have been written")
}

// A retry that may have been written, refused for its sequence after the
// producer stopped for good (another partition's answer fenced it), fails
// with the stop's error as well as maybe written. Broken, its error said
// only that it was not sent again under a newer epoch, as if the producer
// went on: a caller that stops on errors.Is(err, ErrProducerStopped) kept
// producing, every later record refused.
func TestAMaybeWrittenRetryRefusedItsSequenceAfterAStopSaysTheProducerStopped(t *testing.T) {
	h, b0 := resentMaybeWritten(t)
	fenced := errors.New("PRODUCER_FENCED")
	h.acc.Fatal(Fenced, fenced)
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	err := h.outcome(0).Err
	require.ErrorIs(t, err, ErrMaybeWritten)
	require.ErrorIs(t, err, ErrProducerStopped, "the producer had stopped: %v", err)
	require.ErrorIs(t, err, fenced, "and why")
}

// A retry that may have been written, refused for its sequence as its
// partition's next batch, fails (resent under a new epoch it could be
// written twice), and the sequences restart for the retry waiting behind
// it: that one goes under the new epoch, from sequence 0. Broken, it went
// once more under the old epoch, behind a sequence the broker lacks, to be
// refused in turn: a round trip and an attempt lost for each retry behind.
func TestARetryBehindAMaybeWrittenOneRefusedItsSequenceGoesUnderTheNewEpoch(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry})
	b0 = h.drainOne("b0 again, alone")
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, b0), "under its own epoch")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b1 again")), "b1 restarts the sequences under epoch 1")
}

func TestSplitHalvesKeepTheSequences(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, []byte("four records in one batch"))
	}
	parent := h.drainOne("the batch of four")
	h.add(tp0, 4, []byte("the next batch"))
	next := h.drainOne("the next batch")
	require.Equal(t, int32(4), stamped(t, next).seq)

	require.True(t, h.acc.Split(parent, errRetry, nil))
	h.acc.Retry(next, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true}) // the broker lacked the parent
	for i, want := range []stampOf{{7, 0, 0}, {7, 0, 2}, {7, 0, 4}} {
		b := h.drainOne("halves, then the next batch")
		require.Equal(t, want, stamped(t, b), "batch %d", i)
		h.acc.Complete(b, int64(100+want.seq), -1, nil)
	}
	for i := range 5 {
		require.Equal(t, int64(100+i), h.outcome(i).Offset)
	}
}

func TestNonIdempotentBatchesCarryNoProducer(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 0, big)
	require.Equal(t, stampOf{-1, -1, -1}, stamped(t, h.drainOne("b0")))
	require.Zero(t, h.asked)
}

// bumpedByTp0 leaves tp0 restarted under epoch 1 and tp1 with batch b1
// in flight under epoch 0, as after a fault on tp0 only.
func bumpedByTp0(t *testing.T, h *harness) (b1 *Batch) {
	tp1 := part(1)
	h.add(tp0, 0, big)
	h.add(tp1, 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, tp1}, 1<<20)
	require.Len(t, bs, 2)
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("tp0 under epoch 1")))
	return bs[1]
}

func TestAnEpochRefusedAsOlderThanOursGoesAgainUnderOurs(t *testing.T) {
	h := idempotent(t, false, nil)
	b1 := bumpedByTp0(t, h)
	// A broker that tracks epochs across partitions refuses tp1's batch.
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "refused, so certainly unwritten: renumbered under the producer's epoch")
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, h.outcome(1).Err)
}

func TestAnEpochRefusedAfterAnUnansweredAttemptFails(t *testing.T) {
	h := idempotent(t, false, nil)
	b1 := bumpedByTp0(t, h)
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, bs[0]), "an attempt that may have been written keeps its epoch")
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, errRetry)
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "resent under another epoch it could be written twice, so it fails instead")
	h.add(part(1), 2, big)
	bs, _ = h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "the partition goes on under the producer's epoch")
}

// tp1's a is refused for its epoch, older than the producer's, by a
// broker that tracks epochs across partitions, while b behind it waits to
// be sent again, maybe written. b goes alone under its epoch: refused in
// turn, it fails, maybe written, and a goes under the producer's epoch,
// rather than again and again under the one refused.
func TestAnEpochRefusedAheadOfAnUnansweredRetryWaitsForItAlone(t *testing.T) {
	h := idempotent(t, false, nil)
	tp1 := part(1)
	h.add(tp0, 0, big)
	h.add(tp1, 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, tp1}, 1<<20)
	require.Len(t, bs, 2)
	h.acc.Complete(bs[1], 0, -1, nil) // acknowledged: tp1 pipelines
	h.add(tp1, 2, big)
	h.add(tp1, 3, big)
	a, b := h.drainOneOf(tp1, "a"), h.drainOneOf(tp1, "b, pipelined behind a")
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("tp0 under epoch 1")))

	h.acc.Retry(a, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	require.Same(t, b, h.drainOneOf(tp1, "b first, alone"))
	require.Equal(t, stampOf{7, 0, 2}, stamped(t, b), "under its own epoch")
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	require.ErrorIs(t, h.outcome(3).Err, ErrMaybeWritten)
	require.Same(t, a, h.drainOneOf(tp1, "a under the producer's epoch"))
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, a))
	h.acc.Complete(a, 1, -1, nil)
	require.NoError(t, h.outcome(2).Err, "a was retried, not failed")
}

func TestAnEpochRefusedAsCurrentIsFatal(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0 := h.drainOne("b0")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, errRetry)
	require.Contains(t, r.Err.Error(), "fenced")
	require.ErrorIs(t, h.outcome(1).Err, errRetry, "everything queued fails")
}

func TestAPartitionLeftBehindCatchesUpWhenIdle(t *testing.T) {
	h := idempotent(t, false, nil)
	b1 := bumpedByTp0(t, h)
	h.retry(b1, 0) // NOT_LEADER, say: refused, so not written
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "renumbered under the epoch tp0 moved to, before anything more is sent")
}

// A broker answers a duplicate with the batch's maximum timestamp where a
// LogAppendTime would be: on a CreateTime topic the records keep their own.
func TestADuplicateKeepsTheRecordsTimestamps(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.acc.Complete(h.drainOne("b0"), 0, -1, nil) // a first attempt: CreateTime
	h.add(tp0, 1, big)
	b1 := h.drainOne("b1")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Complete(h.drainOne("b1 again"), 1, 999, nil) // the duplicate's answer
	require.NotEqual(t, int64(999), h.outcome(1).Timestamp)

	h.add(part(1), 2, big)
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	h.acc.Complete(bs[0], 0, 777, nil) // a LogAppendTime topic
	require.Equal(t, int64(777), h.outcome(2).Timestamp)
}

// A topic created again may stamp its records otherwise than the old one
// (message.timestamp.type): a retried batch's LogAppendTime from the new
// topic is the records' timestamp, though the old topic kept their own.
// Before, the old topic's CreateTime held, and the broker's time was
// dropped.
func TestARecreatedTopicLearnsItsTimestampsAgain(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.acc.Complete(h.drainOne("b0"), 0, -1, nil) // a first attempt: CreateTime
	h.acc.Recreated([]string{tp0.Topic})
	h.add(tp0, 1, big)
	b1 := h.drainOne("b1")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry})
	h.acc.Complete(h.drainOne("b1 again"), 0, 999, nil) // a LogAppendTime topic
	require.Equal(t, int64(999), h.outcome(1).Timestamp)

	// Nor does the answer to a batch sent to the old topic, answered after
	// the metadata named the new one, teach the new topic anything.
	h = idempotent(t, false, nil)
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0, to the old topic")
	h.acc.Recreated([]string{tp0.Topic})
	h.acc.Complete(b0, 0, -1, nil) // the old topic's CreateTime
	h.add(tp0, 1, big)
	b1 = h.drainOne("b1, to the new topic")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry})
	h.acc.Complete(h.drainOne("b1 again"), 1, 999, nil)
	require.Equal(t, int64(999), h.outcome(1).Timestamp, "the new topic's append time")
}

// A batch whose request never left (the connection died before writing
// it: a re-authentication refused while the request waited its turn) was
// never sent, though it has its sequence: FailUnsent fails it with the
// refusal, as it fails the batches never drained, and the partition's
// sequences restart behind the gap it leaves. A batch that was sent keeps
// its place. Before, a batch drained once was kept, and waited for its
// DeliveryTimeout behind a broker that refused every connection.
func TestFailUnsentFailsABatchWhoseRequestNeverLeft(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, big)
	}
	b0 := h.drainOne("b0")
	h.acc.Complete(b0, 10, -1, nil)
	b1, b2 := h.drainOne("b1"), h.drainOne("b2")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, NotSent: true})
	h.acc.Retry(b2, Retry{At: h.clk.Now(), Cause: errRetry}) // NOT_ENOUGH_REPLICAS, say

	refused := errors.New("SASL authentication failed")
	h.acc.FailAllUnsent(refused)
	err := h.outcome(1).Err
	require.ErrorIs(t, err, refused, "the batch whose request never left")
	require.NotErrorIs(t, err, ErrMaybeWritten)
	require.ErrorIs(t, h.outcome(3).Err, refused, "the batch never drained")
	require.True(t, h.pending(2), "the batch sent keeps its place")

	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2, renumbered under a new epoch behind b1's gap")))
}

// A broker that refuses the producer fails the unsent batches of the
// partitions it leads, and of no other: one that leads none just now (its
// partitions moved between its drain and the refusal) fails nothing. Before,
// no partitions meant every partition, and one broker's refused
// authentication failed the batches waiting for every other broker.
func TestARefusalForNoPartitionsFailsNothing(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	refused := errors.New("SASL authentication failed")
	h.acc.FailUnsent(nil, refused)
	h.acc.FailUnsent([]TopicPartition{}, refused)
	require.True(t, h.pending(0), "a refusal for no partitions failed the record")
	h.acc.FailUnsent([]TopicPartition{tp0}, refused)
	require.ErrorIs(t, h.outcome(0).Err, refused)
}

// A timeout's error counts the requests that reached the broker, not those
// that died unwritten.
func TestATimeoutCountsOnlyTheRequestsThatLeft(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.acc.Retry(h.drainOne("b0"), Retry{At: h.clk.Now(), Cause: errRetry, NotSent: true})
	h.acc.Retry(h.drainOne("b0 again"), Retry{At: h.clk.Now(), Cause: errRetry})
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(0).Err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.Contains(t, err.Error(), "sent once")
}
