package producer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// A held record that fills the held records' share of BufferMemory to the
// byte is held at once: the share is a bound it may reach. Taken as one to
// stay below, such a record waited for room that it did not need.
func TestAHeldRecordThatFillsTheShareExactlyDoesNotWait(t *testing.T) {
	f := shareFull(t)
	room := f.p.held.reserveCap - f.reserved()
	n := 0
	for record.BatchHeaderSize+record.RecordSize(0, 0, nil, make([]byte, n), nil) < room {
		n++
	}
	require.Equal(t, room, record.BatchHeaderSize+record.RecordSize(0, 0, nil, make([]byte, n), nil),
		"no record fills the %d bytes left exactly", room)
	f.waiting(t, ctx(t), 3, make([]byte, n))
	require.Equal(t, f.p.held.reserveCap, f.reserved(), "the record held, the share full")
	require.Zero(t, f.p.held.shareWaits(), "the record waits for the share")
}

// A held record that books its bytes of the held records' share and then
// finds no room in the pool before its MaxBlock gives the share back as it
// fails: kept, those bytes were lost to every later held record for good.
func TestAHeldRecordThePoolHasNoRoomForGivesItsShareBack(t *testing.T) {
	c, p, clk := shortOfMemoryProducer(t)
	fillBufferMemory(t, c, p)
	o := newOutcomes(1)
	go p.Produce(ctx(t), &Record{Topic: "late", Value: make([]byte, 800)}, o.cb(0))
	reserved := func() int {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		return p.held.reserved
	}
	eventually(t, "the held record waiting for the pool", func() bool { return p.pool.Waiters() == 1 })
	require.NotZero(t, reserved(), "the record booked its share")

	clk.Advance(shortOfMemoryMaxBlock + pastDeadline)
	o.wait(t, "the record at its MaxBlock")
	require.ErrorIs(t, o.one(t, 0).err, ErrBufferFull)
	require.Zero(t, reserved(), "the failed record's share given back")

	c.OnProduce(nil) // the batches filling the memory settle, for Close
	clk.Advance(shortOfMemoryDeliveryTimeout)
}
