package sender

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol/kerr"
)

// A transactional producer's new epoch comes from its coordinator only as a
// transaction ends (an abort's, a v1 end after a request went unanswered,
// every v2 end), and the producer wakes no sender with it, where an
// idempotent producer's new id wakes every sender. None is needed: by then
// AbortTransaction has failed every batch not in flight, those waiting for
// that epoch included, and the end has waited for the outcomes of those in
// flight, so no record waits for the epoch; no transaction begins, and no
// record is appended, until EndTransaction follows it; and the first record
// of the next transaction starts a batch, whose append wakes its broker's
// sender (AppendResult.Wake), which sends it at once under the new epoch
// from sequence 0. A partition left behind the epoch with a batch kept for
// its sequence (expired in flight, its answer lost) goes along at that pass
// too, whichever partition of the broker the record is for. The rig wakes
// the sender only as the producer does: for an append that says so, and for
// the accumulator's Wake.
func TestTheFirstRecordAfterATransactionsNewEpochGoesAtOnceUnderIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		// leave makes tp0's record 1, sent as the rig's next request c,
		// leave its partition behind epoch 0: waiting for a new one
		// (waits), or with its batch kept for its sequence.
		leave func(r *rig, c *call)
		waits bool
	}{
		{"a sequence refused", func(r *rig, c *call) {
			c.done(answer(c.req, kerr.OutOfOrderSequenceNumber.Code, -1), nil)
		}, true},
		{"a batch expired in flight", func(r *rig, c *call) {
			r.clk.Advance(time.Minute) // the rig's DeliveryTimeout
			r.acc.Expire(r.clk.Now())
			c.done(nil, fmt.Errorf("Produce v11: %w", conn.ErrRequestTimeout))
			require.ErrorIs(r.t, r.outcome(1).Err, accumulator.ErrDeliveryTimeout)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTransactionalRig(t)
			r.produce(parts[0], 1)
			c := r.next()
			require.Equal(t, [3]int64{7, 0, 0}, producerOf(t, c))
			tc.leave(r, c)
			require.Eventually(t, r.acc.SequencesInDoubt, 10*time.Second, time.Millisecond,
				"tp0's sequence is not in doubt within 10s")

			// The abort, its new epoch, and the next transaction.
			aborted := errors.New("aborted")
			r.acc.AbortTransaction(aborted)
			if tc.waits {
				require.ErrorIs(t, r.outcome(1).Err, aborted, "the batch waiting for the epoch fails in the abort")
			}
			r.acc.SetProducerID(accumulator.ProducerID{ID: 7, Epoch: 1})
			r.acc.EndTransaction()

			r.produceAsTheProducerDoes(parts[1], 2)
			c = r.next()
			require.Equal(t, []int32{1}, c.partitions())
			require.Equal(t, [3]int64{7, 1, 0}, producerOf(t, c), "tp1's first batch under the new epoch")
			c.done(answer(c.req, 0, 10), nil)

			r.produceAsTheProducerDoes(parts[0], 3)
			c = r.next()
			require.Equal(t, [3]int64{7, 1, 0}, producerOf(t, c), "tp0's sequences restart under the new epoch")
			c.done(answer(c.req, 0, 20), nil)
			require.NoError(t, r.outcome(2).Err)
			require.NoError(t, r.outcome(3).Err)
		})
	}
}

// produceAsTheProducerDoes appends a record to tp, with id as its callback
// value, and wakes the sender only if the append says so, as the
// producer's Produce does; produce wakes it whatever the append says.
func (r *rig) produceAsTheProducerDoes(tp accumulator.TopicPartition, id int) {
	r.t.Helper()
	if r.appendRecord(tp, id).Wake {
		r.s.Wake()
	}
}
