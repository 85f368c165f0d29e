package accumulator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gokafka/producer/record"
	"github.com/stretchr/testify/require"
)

// An aborted transaction's batches that wait (never sent, or refused and
// waiting for the epoch only the end of the transaction brings) fail at
// once; one in flight fails when its answer asks for a retry; no record is
// taken until the transaction ends. Without this an abort, which waits for
// every record's outcome, waited for records that waited for it.
func TestAbortTransactionFailsWhatWaits(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.Transactional = true })
	for i := range 4 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.acc.Complete(b0, 10, -1, nil)
	// b1's sequence is refused: the partition waits for a new epoch, which
	// a transactional producer gets only once the transaction has ended.
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.drainNone("the partition waits for a new epoch")
	require.True(t, h.pending(1))
	require.True(t, h.pending(2))

	aborted := errors.New("transaction aborted")
	h.acc.AbortTransaction(aborted)
	require.NoError(t, h.outcome(0).Err)
	for _, id := range []int{1, 2, 3} {
		require.ErrorIs(t, h.outcome(id).Err, aborted, "record %d", id)
	}
	require.True(t, h.acc.SequencesInDoubt(), "b1 was sent, then failed: a gap")
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: big}, Callback: 9})
	require.ErrorIs(t, err, aborted, "no record joins a transaction being aborted")

	h.acc.EndTransaction()
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 1}) // the abort's new epoch
	h.add(tp0, 4, big)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the next transaction, under the new epoch")))
	require.False(t, h.acc.SequencesInDoubt())
}

// An append waiting for a new batch's memory when the transaction's abort
// begins fails at once with the abort's error: the abort waits for every
// record of the transaction, and the memory the append waits for may come
// back only once the abort's records' callbacks have run (an abort called
// from a callback waits for itself). Once the transaction ends, an append
// waits for memory again: left stopped, every record of the transactions
// after that found the pool full would fail with the old abort's error.
func TestAnAbortEndsTheWaitsForMemoryUntilTheTransactionEnds(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.Transactional = true; c.MaxBlock = time.Hour })
	var taken [][]byte
	for h.pool.Available() > 0 {
		buf, err := h.pool.Allocate(context.Background(), 1024, 0)
		require.NoError(t, err)
		taken = append(taken, buf)
	}
	appendWaiting := func(id int) <-chan error {
		appended := make(chan error, 1)
		go func() {
			_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("v")}, Callback: id})
			appended <- err
		}()
		waitFor(t, "the append to wait for memory or return", func() bool { return h.pool.Waiters() == 1 || len(appended) > 0 })
		return appended
	}
	appended := appendWaiting(0)
	aborted := errors.New("transaction aborted")
	h.acc.AbortTransaction(aborted)
	require.ErrorIs(t, receive(t, appended, "the append still waits for memory after the abort began"), aborted)

	h.acc.EndTransaction()
	appended = appendWaiting(1)
	require.Len(t, appended, 0, "the next transaction's append did not wait for memory")
	h.pool.Deallocate(taken[0])
	require.NoError(t, receive(t, appended, "the append did not get the memory given back"))
}

// A retry that may have been written, failed by an abort while it waits,
// keeps its sequence in doubt: the abort must take a new epoch, which
// fences off its lost attempt. Taken out of its partition instead, as if
// never written, it would leave SequencesInDoubt false: a v1 abort would
// take no new epoch, and the lost attempt could land in the next
// transaction, under the same epoch.
func TestAnAbortedMaybeWrittenRetryLeavesItsSequenceInDoubt(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.Transactional = true })
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	h.acc.Retry(b0, Retry{At: h.clk.Now().Add(time.Second), Cause: errRetry, MaybeWritten: true})
	aborted := errors.New("transaction aborted")
	h.acc.AbortTransaction(aborted)
	err := h.outcome(0).Err
	require.ErrorIs(t, err, aborted)
	require.ErrorIs(t, err, ErrMaybeWritten)
	require.True(t, h.acc.SequencesInDoubt(), "b0 may have been written: the abort needs a new epoch")

	h.acc.EndTransaction()
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 1}) // the abort's new epoch
	h.add(tp0, 1, big)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the next transaction, under the new epoch")))
	require.False(t, h.acc.SequencesInDoubt())
}

// A doubt booked under an epoch the producer has left since (a sequence
// lost, or a batch answered by no one, before the abort that brought the
// new epoch) asks for no further one: the new epoch fences it already, and
// the partition restarts its sequences under that one without asking
// (nextEpoch). Counted until a pass visited the partition, which comes only
// once its leader's sender has something to send, it made every v1 abort
// after it ask the coordinator for another epoch, in transactions that
// sent nothing to that broker.
func TestADoubtUnderAnOlderEpochAsksForNoNewOne(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(h *harness, b *Batch)
	}{
		{"a sequence lost", func(h *harness, b *Batch) {
			h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
		}},
		{"a batch answered by no one", func(h *harness, b *Batch) {
			h.clk.Advance(2 * time.Second)
			h.acc.Expire(h.clk.Now())
			h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			h := idempotent(t, false, func(c *Config) {
				c.Transactional = true
				c.DeliveryTimeout = time.Second
				c.EpochNeeded = func(TopicPartition, error) { asked++ }
			})
			h.add(tp0, 0, big)
			tc.leave(h, h.drainOne("b0"))
			h.acc.AbortTransaction(errors.New("transaction aborted"))
			require.Error(t, h.outcome(0).Err)
			require.True(t, h.acc.SequencesInDoubt(), "tp0's sequence is in doubt under epoch 0")

			h.acc.EndTransaction()
			h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 1}) // the abort's new epoch
			asked = 0
			require.False(t, h.acc.SequencesInDoubt(), "epoch 1 fences what epoch 0 left in doubt: no pass needed")

			h.add(tp0, 1, big)
			require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("tp0's next batch")), "tp0 restarts under epoch 1")
			require.Zero(t, asked, "tp0 asked for an epoch beyond 1")
		})
	}
}

// A partition the transaction refuses to admit (it can no longer commit)
// fails its batches never sent with the refusal, rather than hold them
// until the abort, and a Flush with them; one sent keeps its place.
func TestAPartitionRefusedAdmissionFailsItsBatchesNeverSent(t *testing.T) {
	abortable := errors.New("the transaction must be aborted")
	var refusal error
	h := idempotent(t, false, func(c *Config) {
		c.Transactional = true
		c.Admit = func(TopicPartition) (bool, error) { return refusal == nil, refusal }
	})
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0, admitted")
	h.acc.EndTransaction() // the partition asks again
	refusal = abortable
	h.add(tp0, 1, big)
	h.add(tp0, 2, big)
	h.drainNone("refused")
	for _, id := range []int{1, 2} {
		require.ErrorIs(t, h.outcome(id).Err, abortable, "record %d", id)
	}
	require.True(t, h.pending(0), "b0, in flight, waits for its answer")
	h.acc.Complete(b0, 0, -1, nil)
	require.NoError(t, h.outcome(0).Err)
}

func TestARetryDuringATransactionAbortFails(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.Transactional = true })
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	aborted := errors.New("transaction aborted")
	h.acc.AbortTransaction(aborted)
	require.True(t, h.pending(0), "in flight: its answer settles it")
	h.retry(b0, 0)
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, aborted)
	require.ErrorIs(t, r.Err, errRetry, "the reason for the retry is kept")
	h.drainNone("nothing is sent again")
	h.sync()
	require.Zero(t, h.acc.Incomplete())
}

// A transactional producer whose batch is refused INVALID_PRODUCER_EPOCH
// at its current epoch is not stopped: the coordinator bumped the epoch as
// it timed the transaction out, which aborting the transaction settles.
// The batch fails; the records queued behind it wait for the abort, and
// new ones are taken. Broken, such a timeout stopped the producer for good,
// as a fencing does (TestAnEpochRefusedAsCurrentIsFatal): every record
// failed with ErrProducerStopped, where an abort would have let it go on.
func TestATransactionalEpochRefusedAsCurrentDoesNotStopTheProducer(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.Transactional = true })
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	h.acc.Retry(h.drainOne("b0"), Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	err := h.outcome(0).Err
	require.ErrorIs(t, err, errRetry)
	require.NotErrorIs(t, err, ErrProducerStopped, "a transactional producer is not stopped for it")
	require.True(t, h.pending(1), "record 1 waits for the abort")
	h.add(tp0, 2, big) // fails the test if Append refuses it
}

// A transactional partition whose sequences must restart tells why, once:
// the failure that left the gap is the transaction's reason to abort.
func TestATransactionalRestartSaysWhy(t *testing.T) {
	type need struct {
		tp    TopicPartition
		cause error
	}
	var needs []need
	h := idempotent(t, false, func(c *Config) {
		c.Transactional = true
		c.EpochNeeded = func(tp TopicPartition, cause error) { needs = append(needs, need{tp, cause}) }
	})
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	refused := errors.New("INVALID_RECORD")
	h.acc.Complete(b0, -1, -1, refused)
	// b1, sent behind the gap, is refused too: a consequence, not the
	// cause.
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.drainNone("the partition waits for a new epoch")
	h.drainNone("still")
	require.Equal(t, []need{{tp0, refused}}, needs, "told once, with the cause")
	require.Zero(t, h.asked, "NeedProducerID is not for a transactional producer's epoch")
}
