package integration

// Flush and Close under load: Flush returns only once every record produced
// before it has its outcome; Close with records in flight returns within its
// context, every record gets exactly one outcome, and every record after
// Close fails with ErrClosed.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

// e2eLongLinger makes batches wait ten minutes unless something sends them,
// so a Flush that does not send them cannot pass within testTimeout.
func e2eLongLinger(c *producer.Config) {
	c.Linger = 10 * time.Minute
	c.DeliveryTimeout = 15 * time.Minute
}

func TestE2EFlushWaitsForEveryEarlierRecord(t *testing.T) {
	const (
		goroutines = 8
		rounds     = 5
		perRound   = 150
		total      = goroutines * rounds * perRound
	)
	seeds := brokers(t)
	topic := newTopic(t, seeds, 6)
	p := newProducer(t, seeds, e2eLongLinger)
	o := newOutcomes(total)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	// returned lists the records whose Produce has returned, in the order
	// they did; a Flush must cover every record listed before it began.
	var (
		mu       sync.Mutex
		returned []int
		failures []string
		wg       sync.WaitGroup
	)
	recs := make([]*producer.Record, total)
	for i := range recs {
		recs[i] = &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%31), Value: fmt.Appendf(nil, "flush record %d", i)}
	}
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range rounds {
				for j := range perRound {
					i := (g*rounds+round)*perRound + j
					p.Produce(ctx, recs[i], o.callback(i))
					mu.Lock()
					returned = append(returned, i)
					mu.Unlock()
				}
				mu.Lock()
				covered := append([]int(nil), returned...)
				mu.Unlock()
				err := p.Flush(ctx)
				o.mu.Lock()
				missing := 0
				for _, i := range covered {
					if o.byID[i].calls == 0 {
						missing++
					}
				}
				o.mu.Unlock()
				mu.Lock()
				if len(failures) >= 10 {
					mu.Unlock()
					continue // enough to say what is wrong
				}
				if err != nil {
					failures = append(failures, fmt.Sprintf("goroutine %d round %d: Flush: %v", g, round, err))
				}
				if missing > 0 {
					failures = append(failures, fmt.Sprintf("goroutine %d round %d: Flush returned with %d of %d earlier records without an outcome",
						g, round, missing, len(covered)))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Empty(t, failures)
	outs := o.wait(t)
	requireAllAcked(t, outs)

	// Then, with the producer idle: a few records linger (for ten minutes)
	// with nothing else going on that could wake a sender, and only Flush
	// can send them.
	var quiet []*producer.Record
	for round := range 3 {
		q := &producer.Record{Topic: topic, Partition: int32(round), ExplicitPartition: true, Value: fmt.Appendf(nil, "quiet %d", round)}
		qo := newOutcomes(1)
		p.Produce(ctx, q, qo.callback(0))
		require.NoError(t, p.Flush(ctx), "Flush of a lingering record on an idle producer")
		qo.mu.Lock()
		calls := qo.byID[0].calls
		qo.mu.Unlock()
		require.Equal(t, 1, calls, "Flush returned before the lingering record had its outcome")
		requireAllAcked(t, qo.wait(t))
		quiet = append(quiet, q)
	}

	got := e2eReadAll(t, seeds, topic, total+len(quiet))
	byOffset := e2eOffsets(got)
	for i, out := range outs {
		g, ok := byOffset[[2]int64{int64(out.md.Partition), out.md.Offset}]
		if assert.True(t, ok, "record %d: nothing stored at %d/%d", i, out.md.Partition, out.md.Offset) {
			e2eSameRecord(t, recs[i], g, fmt.Sprintf("record %d", i))
		}
	}
	assert.Zero(t, p.Stats().BufferedBatches, "batches left after every Flush")
}

// e2eLedger tracks the outcomes of records produced on the fly, indexed
// by goroutine and sequence, for tests that do not know up front how many
// records they will produce.
type e2eLedger struct {
	perG  int
	mu    sync.Mutex
	calls []int
	outs  []e2eOutcome
	done  []chan struct{} // closed at the first outcome
	count atomic.Int64    // records with at least one outcome

	reachAt int64         // count at which reached closes
	reached chan struct{} // closed once count reaches reachAt
}

func newE2ELedger(goroutines, perG int, reachAt int64) *e2eLedger {
	l := &e2eLedger{perG: perG, calls: make([]int, goroutines*perG), outs: make([]e2eOutcome, goroutines*perG),
		done: make([]chan struct{}, goroutines*perG), reachAt: reachAt, reached: make(chan struct{})}
	for i := range l.done {
		l.done[i] = make(chan struct{})
	}
	return l
}

func (l *e2eLedger) callback(i int) producer.Callback {
	return func(md producer.RecordMetadata, err error) {
		l.mu.Lock()
		l.calls[i]++
		first := l.calls[i] == 1
		if first {
			l.outs[i] = e2eOutcome{md, err}
		}
		l.mu.Unlock()
		if first {
			close(l.done[i])
			if l.count.Add(1) == l.reachAt {
				close(l.reached)
			}
		}
	}
}

// outcome returns record i's outcome and how many it has had.
func (l *e2eLedger) outcome(i int) (e2eOutcome, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outs[i], l.calls[i]
}

// e2eCloseRecord is record i of the Close tests.
func e2eCloseRecord(topic string, i int) *producer.Record {
	return &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "close record %d", i)}
}

func TestE2ECloseWithRecordsInFlight(t *testing.T) {
	const (
		goroutines  = 8
		perG        = 20_000 // far more than a goroutine produces before Close
		window      = 200    // records a goroutine may have without an outcome
		closeAfter  = 2_000  // outcomes before Close begins
		afterClose  = 10     // records each goroutine produces after Close returned
		closeWithin = 20 * time.Second
	)
	seeds := brokers(t)
	topic := newTopic(t, seeds, 6)
	p := newProducer(t, seeds, nil)
	l := newE2ELedger(goroutines, perG, closeAfter)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	// Each goroutine produces while Close has not begun, never more than
	// window records ahead of their outcomes (so producing cannot finish
	// before Close, whatever the scheduling). Once Produce fails at once
	// with ErrClosed, Close has begun: the goroutine waits for Close to
	// return, then produces afterClose more, each of which must fail with
	// ErrClosed before Produce returns.
	closeDone := make(chan struct{})
	var (
		wg       sync.WaitGroup
		produced [goroutines]int
		problems [goroutines][]string
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := 0
			produce := func() (e2eOutcome, int) {
				i := g*perG + j
				j++
				p.Produce(ctx, e2eCloseRecord(topic, i), l.callback(i))
				return l.outcome(i)
			}
			for j < perG-afterClose {
				if j >= window {
					select {
					case <-l.done[g*perG+j-window]:
					case <-ctx.Done():
						problems[g] = append(problems[g], fmt.Sprintf("record %d: no outcome within %v", g*perG+j-window, testTimeout))
						return
					}
				}
				if out, calls := produce(); calls > 0 && errors.Is(out.err, producer.ErrClosed) {
					break // Close has begun
				}
			}
			select {
			case <-closeDone:
			case <-ctx.Done():
				return // the test fails waiting for Close
			}
			for range afterClose {
				i := g*perG + j
				if out, calls := produce(); calls != 1 || !errors.Is(out.err, producer.ErrClosed) {
					problems[g] = append(problems[g], fmt.Sprintf("record %d after Close: %d outcomes when Produce returned, err %v", i, calls, out.err))
				}
			}
			produced[g] = j
		}()
	}

	e2eWait(t, l.reached, fmt.Sprintf("%d outcomes before Close", closeAfter))
	closeCtx, closeCancel := context.WithTimeout(t.Context(), closeWithin)
	defer closeCancel()
	var closeErr error
	go func() {
		closeErr = p.Close(closeCtx)
		close(closeDone)
	}()
	e2eWait(t, closeDone, "Close with records in flight")
	if closeErr != nil {
		// Close may only give up because its context ended; the callbacks
		// of what it failed then run after it returned, and a second Close
		// waits for them before returning what the first did.
		assert.ErrorIs(t, closeErr, context.DeadlineExceeded, "Close: %v", closeErr)
		require.Equal(t, closeErr, p.Close(testCtx(t)), "a second Close, waiting for the callbacks the first left")
	}
	wg.Wait()
	for g := range goroutines {
		require.Empty(t, problems[g], "goroutine %d", g)
	}

	// Every record produced has exactly one outcome; acknowledged ones are
	// stored where their callback said; the others failed because of Close.
	var acked []int
	for g := range goroutines {
		require.Less(t, produced[g], perG, "goroutine %d never saw Close", g)
		for j := range produced[g] {
			i := g*perG + j
			select {
			case <-l.done[i]:
			default:
				t.Fatalf("record %d: no outcome after Close returned", i)
			}
			out, calls := l.outcome(i)
			require.Equal(t, 1, calls, "record %d: outcomes", i)
			if out.err == nil {
				acked = append(acked, i)
				continue
			}
			assert.ErrorIs(t, out.err, producer.ErrClosed, "record %d failed for another reason than Close", i)
		}
	}
	require.GreaterOrEqual(t, len(acked), closeAfter/2, "acknowledged records")

	got := e2eReadAtLeast(t, seeds, topic, len(acked))
	byOffset := e2eOffsets(got)
	for _, i := range acked {
		out, _ := l.outcome(i)
		g, ok := byOffset[[2]int64{int64(out.md.Partition), out.md.Offset}]
		if assert.True(t, ok, "record %d: acknowledged but nothing stored at %d/%d", i, out.md.Partition, out.md.Offset) {
			e2eSameRecord(t, e2eCloseRecord(topic, i), g, fmt.Sprintf("record %d", i))
		}
	}

	_, err := p.Send(ctx, e2eCloseRecord(topic, 0))
	assert.ErrorIs(t, err, producer.ErrClosed, "Send after Close")
	assert.ErrorIs(t, p.Flush(ctx), producer.ErrClosed, "Flush after Close")
	assert.Equal(t, closeErr, p.Close(ctx), "a later Close returns what the first returned")
}

func TestE2ECloseWithEndedContextStillGivesEveryOutcome(t *testing.T) {
	const total = 3000
	seeds := brokers(t)
	topic := newTopic(t, seeds, 3)
	p := newProducer(t, seeds, e2eLongLinger)

	// The records linger (for ten minutes) when Close begins with a context
	// that has already ended: Close must not wait for them, and each must
	// still get exactly one outcome.
	recs := make([]*producer.Record, total)
	o := newOutcomes(total)
	for i := range recs {
		recs[i] = &producer.Record{Topic: topic, Value: fmt.Appendf(nil, "lingering record %d", i)}
		p.Produce(t.Context(), recs[i], o.callback(i))
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	closeDone := make(chan struct{})
	var closeErr error
	go func() {
		closeErr = p.Close(ended)
		close(closeDone)
	}()
	e2eWait(t, closeDone, "Close with an ended context")
	if closeErr != nil {
		assert.ErrorIs(t, closeErr, context.Canceled, "Close: %v", closeErr)
	}
	outs := o.wait(t)

	var acked []int
	for i, out := range outs {
		if out.err == nil {
			acked = append(acked, i)
			continue
		}
		assert.ErrorIs(t, out.err, producer.ErrClosed, "record %d", i)
		assert.Equal(t, int64(-1), out.md.Offset, "record %d: failed, so no offset", i)
	}

	got := e2eReadAtLeast(t, seeds, topic, len(acked))
	byOffset := e2eOffsets(got)
	for _, i := range acked {
		g, ok := byOffset[[2]int64{int64(outs[i].md.Partition), outs[i].md.Offset}]
		if assert.True(t, ok, "record %d: acknowledged but nothing stored at %d/%d", i, outs[i].md.Partition, outs[i].md.Offset) {
			e2eSameRecord(t, recs[i], g, fmt.Sprintf("record %d", i))
		}
	}
}

// e2eReadAtLeast reads topic back, requiring at least want records: after a
// Close that failed records in flight, some failed records may have been
// written all the same (their request reached the broker), so the count of
// stored records can exceed the acknowledged ones.
func e2eReadAtLeast(t *testing.T, seeds []string, topic string, want int) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, want)
	require.NoError(t, err, "reading back %s", topic)
	require.GreaterOrEqual(t, len(got), want, "records read back from %s", topic)
	return got
}

func TestE2EFlushBlockedOnMissingTopicEndsAtClose(t *testing.T) {
	const perTopic = 200
	seeds := brokers(t)
	topic := newTopic(t, seeds, 3)
	// Never created: with AllowAutoTopicCreation false its records wait for
	// metadata, for MaxBlock (ten minutes here), and so does a Flush.
	missing := fmt.Sprintf("missing-%d-%d", time.Now().UnixNano(), topicSeq.Add(1))
	p := newProducer(t, seeds, func(c *producer.Config) { c.MaxBlock = 10 * time.Minute })

	recs := make([]*producer.Record, 0, 2*perTopic)
	for i := range perTopic {
		recs = append(recs,
			&producer.Record{Topic: missing, Value: fmt.Appendf(nil, "waits for metadata %d", i)},
			&producer.Record{Topic: topic, Value: fmt.Appendf(nil, "deliverable %d", i)})
	}
	o := newOutcomes(len(recs))
	for i, r := range recs {
		p.Produce(t.Context(), r, o.callback(i))
	}

	// A Flush cannot return while records wait for metadata: it ends with
	// its context.
	short, shortCancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer shortCancel()
	assert.ErrorIs(t, p.Flush(short), context.DeadlineExceeded, "Flush returned while records still waited for their topic")

	flushCtx, flushCancel := context.WithTimeout(t.Context(), testTimeout)
	defer flushCancel()
	flushDone := make(chan struct{})
	var flushErr error
	go func() {
		flushErr = p.Flush(flushCtx)
		close(flushDone)
	}()

	// Close, with a context that has already ended, fails the waiting
	// records; the Flush waiting for them must then return too, long before
	// its own context ends.
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	closeDone := make(chan struct{})
	go func() {
		_ = p.Close(ended)
		close(closeDone)
	}()
	e2eWait(t, closeDone, "Close with an ended context while a Flush waits")
	e2eWait(t, flushDone, "Flush waiting for a missing topic's records after Close failed them")
	if flushErr != nil {
		assert.NotErrorIs(t, flushErr, context.DeadlineExceeded, "Flush must end with Close, not with its own context: %v", flushErr)
	}

	outs := o.wait(t)
	var acked []int
	for i, out := range outs {
		switch {
		case recs[i].Topic == missing:
			assert.ErrorIs(t, out.err, producer.ErrClosed, "record %d for the missing topic", i)
		case out.err == nil:
			acked = append(acked, i)
		default:
			assert.ErrorIs(t, out.err, producer.ErrClosed, "record %d", i)
		}
	}
	got := e2eReadAtLeast(t, seeds, topic, len(acked))
	byOffset := e2eOffsets(got)
	for _, i := range acked {
		g, ok := byOffset[[2]int64{int64(outs[i].md.Partition), outs[i].md.Offset}]
		if assert.True(t, ok, "record %d: acknowledged but nothing stored at %d/%d", i, outs[i].md.Partition, outs[i].md.Offset) {
			e2eSameRecord(t, recs[i], g, fmt.Sprintf("record %d", i))
		}
	}
}
