package sender

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
)

// MaxInFlight bounds the requests awaiting answers, even for a full
// batch, which would go behind one in flight otherwise. A batch that is
// not full waits for the answer anyway, so with one the bound went
// unchecked: sending MaxInFlight+1 requests passed.
func TestMaxInFlightBoundsPipelining(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxInFlight = 1 })
	r.produce(parts[0], 1)
	first := r.next()
	r.produceFull(parts[1], 2)
	r.passed()
	select {
	case c := <-r.conn.requests:
		t.Fatalf("a second request (partitions %v) was sent while the first awaited its answer", c.partitions())
	default:
	}
	first.done(answer(first.req, 0, 0), nil)
	second := r.next()
	require.Equal(t, int32(1), second.req.Topics[0].Partitions[0].Index)
	second.done(answer(second.req, 0, 0), nil)
	r.outcome(2)
}

// With a request in flight, records that fill no batch wait for its answer
// and then go together, rather than each behind it in a request of its
// own; a full batch goes at once, up to MaxInFlight, and takes the waiting
// ones along.
func TestRecordsWaitForTheAnswerInFlightUnlessTheyFillABatch(t *testing.T) {
	r := newRig(t, nil) // no linger, MaxInFlight 5
	r.produce(parts[0], 1)
	first := r.next()
	r.produce(parts[0], 2)
	r.produceFull(parts[1], 3)
	full := r.next()
	require.ElementsMatch(t, []int32{0, 1}, full.partitions(), "the full batch goes before the answer, with the waiting one")
	r.produce(parts[0], 4)
	r.produce(parts[1], 5)
	first.done(answer(first.req, 0, 0), nil)
	full.done(answer(full.req, 0, 10), nil)
	after := r.next()
	require.ElementsMatch(t, []int32{0, 1}, after.partitions(), "the records that came meanwhile go in one request")
	after.done(answer(after.req, 0, 20), nil)
	for id := 1; id <= 5; id++ {
		require.NoError(t, r.outcome(id).Err, "record %d", id)
	}
}

// A waiting batch that a full batch's request leaves out, for lack of
// room, goes in the next request while the first is still in flight: it
// does not wait for an answer that another request will follow.
func TestABatchLeftOutOfARequestGoesWithoutWaitingForTheAnswer(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxRequestSize = 16<<10 + 100 }) // a full batch and nothing beside it
	r.produce(parts[0], 1)
	first := r.next()
	r.produce(parts[0], 2)
	r.produceFull(parts[1], 3)
	full := r.next()
	require.Equal(t, []int32{1}, full.partitions(), "the full batch goes alone: the waiting one does not fit beside it")
	left := r.next()
	require.Equal(t, []int32{0}, left.partitions(), "the batch left out goes next, with both requests still in flight")
	first.done(answer(first.req, 0, 0), nil)
	full.done(answer(full.req, 0, 10), nil)
	left.done(answer(left.req, 0, 1), nil)
	for id := 1; id <= 3; id++ {
		require.NoError(t, r.outcome(id).Err, "record %d", id)
	}
}

// A request that has no room for a partition's batch starts the next
// drain at that partition: a partition early in the broker's list whose
// batches fill every request does not keep a later one waiting behind all
// of them, as long as its DeliveryTimeout. Drained from the list's start
// every time, partition 1 here went after both of partition 0's batches.
func TestAPartitionLeftOutForRoomGoesFirstInTheNextRequest(t *testing.T) {
	r := newRig(t, func(c *Config) {
		c.MaxInFlight = 1
		c.MaxRequestSize = 16<<10 + 100 // a full batch and nothing beside it
	})
	// Held on a first request, the sender finds two full batches for
	// partition 0 and one for partition 1 once it is answered.
	r.produce(parts[1], 0)
	first := r.next()
	r.produceFull(parts[0], 1)
	r.produceFull(parts[0], 2)
	r.produceFull(parts[1], 3)
	first.done(answer(first.req, 0, 0), nil)
	var order []int32
	for range 3 {
		c := r.next()
		order = append(order, c.partitions()...)
		c.done(answer(c.req, 0, 10), nil)
	}
	require.Equal(t, []int32{0, 1, 0}, order, "the partitions of the requests after the first, in order")
	for id := 0; id <= 3; id++ {
		require.NoError(t, r.outcome(id).Err, "record %d", id)
	}
}

// A batch whose DeliveryTimeout passes while its broker is dialled is not
// sent once the connection is up: Drain reads the clock after Connect, and
// the batch waits for Expire, which fails it as never sent. Drained at the
// time read before the dial, it went out past its deadline, and Expire,
// finding it in flight, failed it as maybe written, though its request
// might be refused unwritten.
func TestABatchThatTimesOutDuringTheDialIsNotSent(t *testing.T) {
	var r *rig
	r = newRigWith(t, rigConfig{
		acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second },
		sender: func(c *Config) {
			c.Hooks.Connect = func(context.Context) (Conn, error) {
				r.clk.Advance(time.Second) // the dial took the whole DeliveryTimeout
				return r.conn, nil
			}
		},
	})
	r.produce(parts[0], 1)
	r.passed()
	select {
	case c := <-r.conn.requests:
		t.Fatalf("a batch past its DeliveryTimeout was sent (partitions %v)", c.partitions())
	default:
	}
	r.acc.Expire(r.clk.Now())
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, accumulator.ErrDeliveryTimeout)
	require.NotErrorIs(t, out.Err, accumulator.ErrMaybeWritten)
}
