package embedded_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/internal/bounded"
)

func TestFailNextProduceRetriable(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)

	f := c.FailNextProduce(2, kerr.NotLeaderForPartition.Code)
	require.NoError(t, produce(ctx, cl, "t", "v"), "kgo retries NOT_LEADER_OR_FOLLOWER")
	require.NoError(t, f.Wait(ctx))
	assert.Equal(t, 2, f.Hits())
	assert.Equal(t, int64(1), highWatermark(t, c, "t", 0), "failed requests append nothing")
}

func TestFailNextProduceReachesClient(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)

	f := c.FailNextProduce(1, kerr.InvalidRecord.Code)
	err := produce(ctx, cl, "t", "rejected")
	require.ErrorIs(t, err, kerr.InvalidRecord, "the injected code must reach the client")
	assert.Equal(t, 1, f.Hits())
	require.NoError(t, produce(ctx, cl, "t", "accepted"), "the fault fires only n times")
	assert.Equal(t, int64(1), highWatermark(t, c, "t", 0))
}

func TestFailNextProduceAfterAppend(t *testing.T) {
	// REQUEST_TIMED_OUT is answered after the append, so a producer that
	// is not idempotent writes the record twice.
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c, kgo.DisableIdempotentWrite())
	ctx := ctxT(t)

	f := c.FailNextProduce(1, kerr.RequestTimedOut.Code)
	require.NoError(t, produce(ctx, cl, "t", "v"))
	require.NoError(t, f.Wait(ctx))
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0))
}

func TestFailNextProduceUnknownCode(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c, kgo.RecordRetries(0))
	c.FailNextProduce(1, 12345)
	err := produce(ctxT(t), cl, "t", "v")
	assert.ErrorIs(t, err, kerr.UnknownServerError)
}

// DelayNextProduce holds the next n requests and no more: with the one
// delayed request held for an hour, a request after it, on a connection
// of its own (one behind it on its connection would wait with it), is
// answered within the test's bound, and the fault counts one delay.
func TestDelayNextProduce(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	held, after := newClient(t, c), newClient(t, c)
	ctx := ctxT(t)
	// Connections and producer IDs first: the fault's request is the test's.
	require.NoError(t, produce(ctx, held, "t", "warm up"))
	require.NoError(t, produce(ctx, after, "t", "warm up"))

	f := c.DelayNextProduce(1, time.Hour)
	slow := make(chan error, 1)
	go func() { slow <- produce(ctx, held, "t", "slow") }()
	require.NoError(t, f.Wait(ctx), "the request to delay never reached the broker")

	// kgo keeps waiting for a request under way past its ctx: the bound
	// is the test's own.
	fast := make(chan error, 1)
	go func() { fast <- produce(ctx, after, "t", "fast") }()
	require.NoError(t, bounded.Receive(t, fast, testTimeout, "the request after the delayed one was delayed too"))
	select {
	case err := <-slow:
		t.Fatalf("the delayed request was answered (%v) before its delay ended", err)
	default:
	}
	assert.Equal(t, 1, f.Hits(), "requests delayed")
	assert.Equal(t, int64(3), highWatermark(t, c, "t", 0), "the delayed request appended nothing yet")
}

func TestCloseEndsDelays(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"t": 1}})
	require.NoError(t, err)
	defer c.Close()
	// An idempotent kgo producer keeps retrying a request whose outcome
	// it does not know, so that it would not return; this one gives up.
	cl := newClient(t, c, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.RequestRetries(0))
	ctx := ctxT(t)

	f := c.DelayNextProduce(1, time.Hour)
	res := make(chan error, 1)
	go func() { res <- produce(ctx, cl, "t", "held") }()
	require.NoError(t, f.Wait(ctx), "the request never reached the broker")

	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close did not return while a produce request was delayed")
	}
	select {
	case <-res: // whether kfake answered it before closing is up to kfake
	case <-ctx.Done():
		t.Fatal("the held produce request did not end after Close")
	}
	// kfake ends the request on its own when it closes; the delay's wait
	// is ours to end, or it outlives the cluster, for an hour here: the
	// checks above passed with Close leaving it to run.
	require.Eventually(t, func() bool { return !stacksShow("embedded.(*Cluster).DelayNextProduce") },
		testTimeout, time.Millisecond, "the delay still waits after Close")
}

// HoldNext holds one request at the broker until released, and the ones
// after it not at all. A request sent once release returned is handled
// after the held one.
func TestHoldNext(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up")) // connections and producer ID

	f, release := c.HoldNext(int16(kmsg.Produce))
	defer release()
	res := make(chan error, 1)
	go func() { res <- produce(ctx, cl, "t", "held") }()
	require.NoError(t, f.Wait(ctx), "the request never reached the broker")
	// The broker handles a request it reads after the held one meanwhile;
	// the held one, once let through, it would have handled first. The
	// look at res alone came before the answer to a request never held
	// reached the client, and passed with HoldNext holding nothing.
	require.Equal(t, int64(1), listedEnd(t, cl, "t", 0), "the end offset while the request is held")
	select {
	case err := <-res:
		t.Fatalf("the held request was answered (%v) before its release", err)
	default:
	}
	release()
	require.Equal(t, int64(2), listedEnd(t, cl, "t", 0), "the end offset a request sent after the release sees")
	select {
	case err := <-res:
		require.NoError(t, err, "the held request, released")
	case <-ctx.Done():
		t.Fatal("the held request was not answered after its release")
	}
	require.NoError(t, produce(ctx, cl, "t", "next"), "the request after it")
	assert.Equal(t, 1, f.Hits())
	assert.Equal(t, int64(3), highWatermark(t, c, "t", 0))
}

// HoldNext's release returns only once the broker has taken the held
// request up again, which it cannot do while it is busy: here, in a control
// function of another request that waits. A release returning at once let
// a request sent after it reach the broker first; TestHoldNext, whose
// broker takes the held request up at once, passed with it all the same.
func TestHoldNextReleaseWaitsForTheBrokerToTakeTheRequestUp(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up")) // connections and producer ID

	f, release := c.HoldNext(int16(kmsg.Produce))
	defer release()
	res := make(chan error, 1)
	go func() { res <- produce(ctx, cl, "t", "held") }()
	require.NoError(t, f.Wait(ctx), "the request never reached the broker")

	// A ListOffsets, which the producing client never sends, keeps the
	// broker busy until unbusy closes: kfake runs one control at a time.
	// Should the test fail, it is let go before the deferred release,
	// which waits for the broker to take the held request up.
	busy, unbusy := make(chan struct{}), make(chan struct{})
	free := sync.OnceFunc(func() { close(unbusy) })
	defer free()
	c.Kfake().ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().DropControl()
		close(busy)
		<-unbusy
		return nil, nil, false
	})
	listed := make(chan error, 1)
	go func() {
		_, err := listOffsetsRequest("t", 0).RequestWith(ctx, cl)
		listed <- err
	}()
	bounded.Receive(t, busy, testTimeout, "the ListOffsets never reached the broker")

	released := make(chan struct{})
	go func() { release(); close(released) }()
	// However long release is given, it must not return while the broker
	// is busy; the wait only bounds how soon a wrong one is seen.
	select {
	case <-released:
		t.Fatal("release returned before the broker took the held request up again")
	case <-time.After(100 * time.Millisecond):
	}
	free()
	bounded.Receive(t, released, testTimeout, "release did not return once the broker was free")
	require.NoError(t, bounded.Receive(t, listed, testTimeout, "no answer to the ListOffsets"))
	require.NoError(t, bounded.Receive(t, res, testTimeout, "the held request was not answered after its release"))
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0))
}

func TestCloseConnOnNextProduce(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	var lost disconnects
	cl := newClient(t, c, kgo.WithHooks(&lost))
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up"))

	f := c.CloseConnOnNextProduce(2)
	require.NoError(t, produce(ctx, cl, "t", "v"), "kgo reconnects and retries")
	require.NoError(t, f.Wait(ctx))
	assert.Equal(t, 2, f.Hits())
	assert.GreaterOrEqual(t, lost.n.Load(), int64(2), "each injected fault closes a connection")
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0), "a request whose connection was closed appends nothing")
}

func TestDropNextProduceResponse(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       []kgo.Opt
		wantStored int64
	}{
		// The retry carries the same producer ID and sequence, and the
		// broker answers it as a duplicate without appending again.
		{"idempotent", nil, 1},
		// The broker appended the first attempt, so the retry is a
		// second copy.
		{"not idempotent", []kgo.Opt{kgo.DisableIdempotentWrite()}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
			var lost disconnects
			cl := newClient(t, c, append(tc.opts, kgo.WithHooks(&lost))...)
			ctx := ctxT(t)

			f := c.DropNextProduceResponse(1)
			require.NoError(t, produce(ctx, cl, "t", "v"))
			require.NoError(t, f.Wait(ctx))
			assert.Equal(t, 1, f.Hits())
			assert.GreaterOrEqual(t, lost.n.Load(), int64(1))
			assert.Equal(t, tc.wantStored, highWatermark(t, c, "t", 0))
		})
	}
}

// HoldNextProduceResponse lets the broker write the request and holds its
// answer until the broker stops: the client then retries a request that was
// written, which an idempotent client's sequence numbers make harmless.
func TestHoldNextProduceResponse(t *testing.T) {
	c := start(t, embedded.Options{Brokers: 2, Topics: map[string]int32{"t": 1}})
	var answers produceAnswers
	cl := newClient(t, c, kgo.WithHooks(&answers))
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up"))

	victim := c.Leader("t", 0)
	warmUp := answers.from(victim)
	f, err := c.HoldNextProduceResponse(victim)
	require.NoError(t, err)
	res := make(chan error, 1)
	go func() { res <- produce(ctx, cl, "t", "held") }()
	require.NoError(t, f.Wait(ctx), "no produce response was held")
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0), "the held request is written")
	select {
	case err := <-res:
		t.Fatalf("the held request was answered (%v) before its broker stopped", err)
	default:
	}

	require.NoError(t, c.StopBroker(victim))
	select {
	case err := <-res:
		require.NoError(t, err, "the retry, to the new leader")
	case <-ctx.Done():
		t.Fatal("the held request was not retried after its broker stopped")
	}
	// The record's result is the retry's: the client never read the held
	// answer. The look at res above came before an answer written at once
	// reached the client, and passed with nothing held.
	assert.Equal(t, warmUp, answers.from(victim), "Produce answers the client read from the broker that held one")
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0), "the retry is recognized as a duplicate")

	_, err = c.HoldNextProduceResponse(victim)
	assert.Error(t, err, "a stopped broker")
	_, err = c.HoldNextProduceResponse(9)
	assert.Error(t, err, "an unknown broker")
}

func TestFaultsStack(t *testing.T) {
	// Two armed drops fire one after the other.
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)
	first, second := c.DropNextProduceResponse(1), c.DropNextProduceResponse(1)
	require.NoError(t, produce(ctx, cl, "t", "v"))
	require.NoError(t, first.Wait(ctx))
	require.NoError(t, second.Wait(ctx))
	assert.Equal(t, int64(1), highWatermark(t, c, "t", 0))
}

func TestFaultRemove(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up"))

	faults := map[string]*embedded.Fault{
		"fail":  c.FailNextProduce(1, kerr.InvalidRecord.Code),
		"delay": c.DelayNextProduce(1, time.Hour),
		"close": c.CloseConnOnNextProduce(1),
		"drop":  c.DropNextProduceResponse(1),
	}
	for _, f := range faults {
		f.Remove()
		f.Remove()
	}
	require.NoError(t, produce(ctx, cl, "t", "v"), "removed faults must not fire")
	for name, f := range faults {
		assert.Zero(t, f.Hits(), name)
		err := f.Wait(ctx)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "removed after firing on 0 of 1", name)
	}
}

func TestFaultWaitTimesOut(t *testing.T) {
	c := start(t, embedded.Options{})
	f := c.FailNextProduce(3, kerr.NotLeaderForPartition.Code)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := f.Wait(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "fired on 0 of 3")
}

// Wait waits for every one of the n requests: a fault that fired on one
// of two is not done. The faults counting their own requests (all but
// FailNextProduce's, which kfake counts) could end Wait at the first, and
// the tests that waited for two passed, since their client had sent both by
// the time it returned.
func TestFaultWaitWaitsForEveryRequest(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	cl := newClient(t, c, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.RequestRetries(0))
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up"))

	f := c.CloseConnOnNextProduce(2)
	require.Error(t, produce(ctx, cl, "t", "v"), "a client that does not retry, its connection closed")
	require.Equal(t, 1, f.Hits())
	// The fault cannot fire again: nothing is sent. The wait only bounds
	// the test.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := f.Wait(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "fired on 1 of 2")
}

// listedEnd asks the cluster, as a client would, for the end offset of a
// partition.
func listedEnd(t *testing.T, cl *kgo.Client, topic string, partition int32) int64 {
	t.Helper()
	resp, err := listOffsetsRequest(topic, partition).RequestWith(ctxT(t), cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	p := resp.Topics[0].Partitions[0]
	require.NoError(t, kerr.ErrorForCode(p.ErrorCode))
	return p.Offset
}

// listOffsetsRequest asks for the end offset of a partition.
func listOffsetsRequest(topic string, partition int32) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = -1 // the end
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
