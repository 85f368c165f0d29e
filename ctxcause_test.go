package producer

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A ctx ended with a cause of its own (context.WithCancelCause,
// WithTimeoutCause) gives Send, and a Close waiting for the Close under
// way, an error that matches the ctx's error, as their docs and ErrorName
// promise (context.Canceled: CANCELED), and the cause beside it. Before,
// they returned the cause alone, which matched neither and ErrorName
// called OTHER; and Flush and PartitionsFor, the ctx's error alone.
func TestAnEndedCtxsErrorComesWithItsCause(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	gate := make(chan struct{})
	held := make(chan struct{}, 1)
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		select {
		case held <- struct{}{}:
		default:
		}
		<-gate
		return fakebroker.Action{}
	})
	var opened sync.Once
	release := func() { opened.Do(func() { close(gate) }) }
	p := newProducer(t, c, nil)
	// Before the producer's Close at cleanup, which waits for the request
	// held at the broker: a check that fails lets it go at once, rather
	// than after RequestTimeout.
	t.Cleanup(release)
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	shuttingDown := errors.New("shutting down")

	_, err = p.Send(ended(shuttingDown), &Record{Topic: "t", Value: []byte("v")})
	requireCtxErrorAndCause(t, err, shuttingDown, "a Send whose ctx was done")
	require.ErrorContains(t, err, "not sent")

	sendCtx, cancel := context.WithCancelCause(context.Background())
	sent := make(chan error, 1)
	go func() {
		_, err := p.Send(sendCtx, &Record{Topic: "t", Value: []byte("v")})
		sent <- err
	}()
	receive(t, held, "the record's request never reached the broker")
	cancel(shuttingDown)
	err = receive(t, sent, "Send did not return as its ctx ended")
	requireCtxErrorAndCause(t, err, shuttingDown, "a Send whose ctx ended while its record was in flight")
	require.ErrorIs(t, err, ErrMaybeWritten)

	flushErr := p.Flush(ended(shuttingDown)) // the record's request is still held
	require.ErrorIs(t, flushErr, context.Canceled, "a Flush whose ctx ended")
	require.ErrorIs(t, flushErr, shuttingDown, "a Flush whose ctx ended")
	_, err = p.PartitionsFor(ended(shuttingDown), "unknown")
	require.ErrorIs(t, err, context.Canceled, "a PartitionsFor whose ctx ended")
	require.ErrorIs(t, err, shuttingDown, "a PartitionsFor whose ctx ended")

	closing := make(chan error, 1)
	go func() { closing <- p.Close(ctx(t)) }() // waits for the request held at the broker
	eventually(t, "the first Close to start", p.closed.Load)
	requireCtxErrorAndCause(t, p.Close(ended(shuttingDown)), shuttingDown, "a Close waiting for the Close under way")
	release()
	require.NoError(t, receive(t, closing, "the first Close did not return"))
}

// requireCtxErrorAndCause fails unless err matches context.Canceled, is
// named CANCELED, and matches cause.
func requireCtxErrorAndCause(t *testing.T, err, cause error, what string) {
	t.Helper()
	require.ErrorIs(t, err, context.Canceled, what)
	require.ErrorIs(t, err, cause, what)
	require.Equal(t, "CANCELED", ErrorName(err), what)
}
