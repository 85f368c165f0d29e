package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/fakebroker"
)

// sceneRecords are the records a scene produces and what became of them.
// Record i is produced by goroutine i%goroutines, in increasing i, and its
// value starts with i, so the log tells which record each entry is.
type sceneRecords struct {
	topic     []string
	partition []int32 // the explicit partition, unless the scene is keyed
	value     []string
	outcomes  *outcomes
	// callbackOrder is the place of each record's first callback among
	// all the scene's callbacks (from 1; 0 while it has none).
	callbackOrder []atomic.Int64
	callbacks     atomic.Int64
	// closeCalled is set just before the Close made midway is called, and
	// producedBefore[i], once record i's Produce or Send has returned,
	// says whether it returned before that: the records that Close, if it
	// returns nil, has seen to their outcomes.
	closeCalled    atomic.Bool
	producedBefore []atomic.Bool
}

func (s *scene) makeRecords() *sceneRecords {
	recs := &sceneRecords{
		topic:          make([]string, s.records),
		partition:      make([]int32, s.records),
		value:          make([]string, s.records),
		outcomes:       newOutcomes(s.records),
		callbackOrder:  make([]atomic.Int64, s.records),
		producedBefore: make([]atomic.Bool, s.records),
	}
	for i := range s.records {
		recs.topic[i] = []string{"a", "b"}[s.random.IntN(2)]
		recs.partition[i] = int32(s.random.IntN(int(sceneTopics[recs.topic[i]])))
		recs.value[i] = recordValue(i, s.random.IntN(80))
	}
	return recs
}

// recordValue is record i's value: its number, then padding that varies
// batch sizes.
func recordValue(i, padding int) string {
	return strconv.Itoa(i) + "-" + strings.Repeat("x", padding)
}

// recordNumber is the number of the record whose value is v.
func recordNumber(v []byte) (int, bool) {
	n, _, found := strings.Cut(string(v), "-")
	i, err := strconv.Atoi(n)
	return i, found && err == nil
}

// play runs the scene and checks what it left.
func (s *scene) play(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 3, Topics: sceneTopics, KeepRecords: true})
	count := &faultCount{}
	stopFaults := s.injectFaults(c, count)
	t.Cleanup(stopFaults)
	p := newProducer(t, c, s.configure)
	recs := s.makeRecords()

	// A callback may flush, and one record's callback closes the producer,
	// as an application reacting to an outcome may.
	closedFromCallback := make(chan error, 1)
	callback := func(i int) Callback {
		record := recs.outcomes.cb(i)
		return func(md RecordMetadata, err error) {
			recs.callbackOrder[i].CompareAndSwap(0, recs.callbacks.Add(1))
			record(md, err)
			if s.flushFromCallback && i%97 == 5 {
				flushed, cancel := context.WithTimeout(context.Background(), waitFor)
				_ = p.Flush(flushed)
				cancel()
			}
			if s.closeFromCallback && i == s.records*2/3 {
				closed, cancel := context.WithTimeout(context.Background(), waitFor)
				closedFromCallback <- p.Close(closed)
				cancel()
			}
		}
	}

	produceCtx := ctx(t)
	halfway := make(chan struct{})
	var producers, closer sync.WaitGroup
	for g := range s.goroutines {
		producers.Add(1)
		go func() {
			defer producers.Done()
			s.produceFrom(t, produceCtx, g, p, recs, callback, halfway)
		}()
	}
	var closedMidway error
	var atClosedMidway [][]outcome // the outcomes when it returned
	if s.closing == closeMidway {
		closer.Add(1)
		go func() {
			defer closer.Done()
			<-halfway // the producers always get there
			recs.closeCalled.Store(true)
			closedMidway = s.closeWithin(p, time.Duration(s.random.IntN(300))*time.Millisecond)
			atClosedMidway = recs.outcomes.snapshot()
		}()
	}
	producers.Wait()
	closer.Wait()
	if s.closing == closeMidway {
		s.checkClosedMidway(t, recs, closedMidway, atClosedMidway)
	}

	if s.closing == closeInAHurry {
		err := s.closeWithin(p, time.Duration(s.random.IntN(200))*time.Millisecond)
		t.Logf("Close in a hurry: %v", err)
		if err == nil && !s.closeFromCallback {
			expectEveryOutcome(t, recs, "Close in a hurry returned nil")
		}
	} else {
		err := p.Flush(ctx(t))
		if err != nil && !errors.Is(err, ErrClosed) && s.closing != closeMidway {
			t.Errorf("the last Flush: %v (%d records without an outcome)", err, recs.outcomes.missing())
		}
	}

	stopFaults()
	if err := p.Close(ctx(t)); err != nil {
		t.Logf("Close: %v", err)
	} else {
		expectEveryOutcome(t, recs, "Close returned nil")
	}
	if s.closeFromCallback {
		t.Logf("Close from a callback: %v", receive(t, closedFromCallback, "Close from a callback did not return"))
	}
	// A request the fake still holds (delayed, say) may yet append, and a
	// record it carries that failed without ErrMaybeWritten must not be
	// among them.
	eventually(t, "the fake cluster finishing the closed producer's requests",
		func() bool { return c.OpenConnections() == 0 })
	t.Logf("faults: %v", count)
	s.check(t, c, recs)
}

// produceFrom produces goroutine g's records, sometimes with Send, under
// a short context or followed by a Flush.
func (s *scene) produceFrom(t *testing.T, produceCtx context.Context, g int, p *Producer,
	recs *sceneRecords, callback func(i int) Callback, halfway chan struct{}) {
	random := rand.New(rand.NewPCG(s.seed, uint64(g))) // this goroutine's own
	for i := g; i < s.records; i += s.goroutines {
		rec := &Record{Topic: recs.topic[i], Value: []byte(recs.value[i])}
		if s.keyed {
			rec.Key = []byte(fmt.Sprintf("k%d-%d", g, random.IntN(5)))
		} else {
			rec.Partition, rec.ExplicitPartition = recs.partition[i], true
		}
		switch {
		case random.IntN(25) == 0:
			sent, cancel := context.WithTimeout(produceCtx, time.Duration(random.IntN(400))*time.Millisecond)
			md, err := p.Send(sent, rec)
			cancel()
			if err != nil && md.Partition < 0 && !s.keyed {
				md.Partition = recs.partition[i] // for the order of callbacks
			}
			callback(i)(md, err)
		case s.bufferMemory > 0 && random.IntN(10) == 0:
			// A short wait for memory, which may fail the record.
			short, cancel := context.WithTimeout(produceCtx, time.Duration(random.IntN(30))*time.Millisecond)
			p.Produce(short, rec, callback(i))
			cancel()
		default:
			p.Produce(produceCtx, rec, callback(i))
		}
		recs.producedBefore[i].Store(!recs.closeCalled.Load())
		if i == s.records/2 {
			close(halfway)
		}
		if random.IntN(150) == 0 {
			s.flushAfter(t, produceCtx, g, i, p, recs)
		}
		if random.IntN(40) == 0 {
			// A pause, so that some batches leave by Linger rather
			// than full.
			time.Sleep(time.Duration(random.IntN(20)) * time.Millisecond)
		}
	}
}

// flushAfter flushes after goroutine g produced record i: a Flush that
// returns nil leaves none of g's records up to i without an outcome.
func (s *scene) flushAfter(t *testing.T, flushCtx context.Context, g, i int, p *Producer, recs *sceneRecords) {
	if p.Flush(flushCtx) != nil {
		return
	}
	for j := g; j <= i; j += s.goroutines {
		if !recs.outcomes.has(j) {
			t.Errorf("Flush returned nil, but record %d, produced before it by the same goroutine, has no outcome", j)
		}
	}
}

// checkClosedMidway checks what the Close made midway promised, if it
// returned nil (err): every record whose Produce or Send returned before
// that Close was called had had its callback (atReturn holds the outcomes
// then), and, sent by Close's flush, none had failed as closed, unless a
// Close from a callback may have come first. A Close whose deadline ended
// promises only that every record gets its outcome, which check sees to.
func (s *scene) checkClosedMidway(t *testing.T, recs *sceneRecords, err error, atReturn [][]outcome) {
	t.Logf("Close midway: %v", err)
	if err != nil {
		return
	}
	var without, closed []int
	for i, got := range atReturn {
		switch {
		case !recs.producedBefore[i].Load():
		case len(got) == 0:
			without = append(without, i)
		case errors.Is(got[0].err, ErrClosed) && !s.closeFromCallback:
			closed = append(closed, i)
		}
	}
	if len(without) > 0 {
		t.Errorf("Close midway returned nil, but %d records produced before it was called had no outcome: %v",
			len(without), without)
	}
	if len(closed) > 0 {
		t.Errorf("Close midway returned nil, but %d records produced before it was called failed rather than being sent: %v; the first: %v",
			len(closed), closed, atReturn[closed[0]][0].err)
	}
}

// closeWithin closes p with a deadline d away.
func (s *scene) closeWithin(p *Producer, d time.Duration) error {
	closing, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Close(closing)
}

// expectEveryOutcome fails the test unless every record has an outcome,
// after a call that promised so (why).
func expectEveryOutcome(t *testing.T, recs *sceneRecords, why string) {
	t.Helper()
	if n := recs.outcomes.missing(); n > 0 {
		t.Errorf("%s, yet %d records have no outcome", why, n)
	}
}
