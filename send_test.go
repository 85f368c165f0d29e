package producer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A Send that gave up on its ctx leaves its waiter to the callback still to
// come: a later Send must get its own record's outcome, never that late one.
func TestSendAfterAnAbandonedSendGetsItsOwnOutcome(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	short, cancel := context.WithCancel(context.Background())
	gate := make(chan struct{})
	first := true
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		if first { // the broker's one connection goroutine: no race on first
			first = false
			cancel() // the first Send gives up while its request is held here
			<-gate
		}
		return fakebroker.Action{}
	})
	p := newProducer(t, c, nil)
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)

	_, err = p.Send(short, &Record{Topic: "t", Value: []byte("abandoned")})
	require.ErrorIs(t, err, context.Canceled)

	close(gate)
	require.NoError(t, p.Flush(ctx(t)), "the abandoned record's callback has run once Flush returns")

	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("second")})
	require.NoError(t, err)
	require.Equal(t, int64(1), md.Offset, "the second Send returned the abandoned record's outcome (offset 0)")
}

// A record refused at once gets that refusal from Send, even when Send's
// ctx is done too: Go picks either ready case of a select at random, and
// about half of these Sends said the record "may still be written" when it
// was never buffered.
func TestSendReturnsARefusalOverItsDoneCtx(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		_, err := p.Send(done, &Record{Topic: "not a topic", Value: []byte("v")})
		require.ErrorIs(t, err, ErrInvalidRecord)
		require.NotErrorIs(t, err, context.Canceled)
	}
	require.NoError(t, p.Close(ctx(t)))
	for range 100 {
		_, err := p.Send(done, &Record{Topic: "t", Value: []byte("v")})
		require.ErrorIs(t, err, ErrClosed)
	}
}
