package accumulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// Goroutines appending to three partitions while a simulated broker holds
// up to five requests in flight and answers them as a Kafka broker can: in
// the order they were sent, on one connection, each batch checked against
// the producer state the broker keeps (sequences in order under an epoch, a
// duplicate of one of the last five batches answered with its first
// offset), with some batches refused before they are written
// (NOT_LEADER_OR_FOLLOWER), some written and then failed
// (REQUEST_TIMED_OUT), some too large (MESSAGE_TOO_LARGE, split), a few
// refused for good (CORRUPT_MESSAGE), and now and then the connection
// breaking under every request in flight after the broker wrote some of
// them. The batches behind a refused one meet it as a broker's answers
// would: refused as out of order under idempotence. The stress and random
// tests complete each batch as it is drained, or in any order, with no
// broker to say what was written; here the log is the broker's, and after
// each seed every record appended has exactly one outcome, an
// acknowledged record's offset is its place in that log, a partition's
// acknowledgements come in offset order and a goroutine's at increasing
// offsets, and all memory comes back; at every drain, no batch goes ahead
// of one of its partition waiting to be sent again, no partition has more
// than MaxInFlight batches in flight, and each record keeps its sequence
// across retries and splits until its partition restarts them. With
// idempotence, moreover, the log holds no record twice, a goroutine's
// records in the order it appended them, and none that failed as
// certainly not written; every record acknowledged but those refused for
// good and those then failed as maybe written. Without idempotence
// MaxInFlight is 1, which keeps the order.
func TestBatchesInFlightAnsweredAsABrokerWouldKeepEveryPromise(t *testing.T) {
	seeds := int64(12)
	if testing.Short() {
		seeds = 3
	}
	for _, idem := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			for seed := range seeds {
				answerInFlight(t, seed, idem)
			}
		})
	}
}

// simWrite is one batch the simulated broker wrote: what it remembers of
// the producer's last five, to recognise a retry.
type simWrite struct {
	epoch      int16
	seq, count int32
	offset     int64
}

// simPartition is the simulated broker's log of one partition, and its
// state for the producer.
type simPartition struct {
	log    []int // record ids, by offset
	known  bool  // has written a batch of the producer
	epoch  int16
	next   int32 // the sequence it takes next
	recent []simWrite
}

// simAnswer is what the broker made of one batch.
type simAnswer int

const (
	simWritten   simAnswer = iota // offset says where
	simDuplicate                  // written before, at offset
	simOutOfOrder
	simOldEpoch
)

// write is the broker's append of a batch with the given producer fields
// and records (ids), checked as Kafka checks an idempotent producer's.
func (p *simPartition) write(idem bool, epoch int16, seq int32, ids []int) (simAnswer, int64) {
	if idem {
		switch {
		case p.known && epoch < p.epoch:
			return simOldEpoch, -1
		case !p.known || epoch > p.epoch:
			if seq != 0 {
				return simOutOfOrder, -1
			}
			p.known, p.epoch, p.next, p.recent = true, epoch, 0, nil
		default:
			for _, w := range p.recent {
				if w.epoch == epoch && w.seq == seq && w.count == int32(len(ids)) {
					return simDuplicate, w.offset
				}
			}
			if seq != p.next {
				return simOutOfOrder, -1
			}
		}
	}
	offset := int64(len(p.log))
	p.log = append(p.log, ids...)
	if idem {
		p.recent = append(p.recent, simWrite{epoch, seq, int32(len(ids)), offset})
		if len(p.recent) > 5 {
			p.recent = p.recent[1:]
		}
		p.next = addSeq(seq, len(ids))
	}
	return simWritten, offset
}

// simBroker answers the requests in flight, oldest first.
type simBroker struct {
	t        *testing.T
	seed     int64
	h        *harness
	rng      *rand.Rand
	idem     bool
	parts    map[TopicPartition]*simPartition
	requests [][]*Batch // in flight, in the order sent
	// seqOf is each record's producer epoch and sequence as last sent, kept
	// until its partition's sequences restart (restarted counts them).
	seqOf     map[int]stampOf
	restarted map[TopicPartition]int
	seenAt    map[int]int // restarted[tp] when seqOf[id] was booked
	failed    map[int]bool
}

// decode reads b's producer fields and record ids, and checks that every
// record it held before carries the same sequence as then.
func (s *simBroker) decode(b *Batch) (d record.Batch, ids []int) {
	d, _, err := record.DecodeBatch(b.Encoded())
	require.NoError(s.t, err)
	restarts := s.restarted[b.TP]
	for i, r := range d.Records {
		id, err := strconv.Atoi(string(r.Key))
		require.NoError(s.t, err)
		ids = append(ids, id)
		if !s.idem {
			continue
		}
		now := stampOf{d.ProducerID, d.ProducerEpoch, addSeq(d.BaseSequence, i)}
		if was, ok := s.seqOf[id]; ok && s.seenAt[id] == restarts {
			require.Equal(s.t, was, now, "seed %d: record %d of %v sent again with another sequence, its partition's sequences not restarted", s.seed, id, b.TP)
		}
		s.seqOf[id], s.seenAt[id] = now, restarts
	}
	return d, ids
}

// drain sends a request, if a batch is ready and fewer than five are in
// flight, and checks MaxInFlight.
func (s *simBroker) drain(parts []TopicPartition, maxInFlight int) int {
	if len(s.requests) >= 5 {
		return 0
	}
	bs, _, _ := s.h.acc.Drain(nil, node, parts, 0, 1<<20, len(s.requests) > 0, s.h.clk.Now())
	if len(bs) == 0 {
		return 0
	}
	s.requests = append(s.requests, bs)
	for _, b := range bs {
		s.overtook(b)
	}
	counts := map[TopicPartition]int{}
	for _, req := range s.requests {
		for _, b := range req {
			counts[b.TP]++
			require.LessOrEqual(s.t, counts[b.TP], maxInFlight, "seed %d: batches of %v in flight", s.seed, b.TP)
		}
	}
	return len(bs)
}

// overtook fails the test if b, just drained, went ahead of a batch of its
// partition that waits to be sent again: the broker would write b first,
// or, idempotent, refuse it as out of order. Only a retry that may have
// been written goes ahead of those that its partition's pending restart
// will renumber (restartGate).
func (s *simBroker) overtook(b *Batch) {
	p := s.h.acc.lookup(b.TP)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.batches {
		if o == b {
			return
		}
		if !o.settled && !o.inFlight && !(p.restart && !o.maybeWritten) {
			s.t.Fatalf("seed %d: a batch of %v, sent %d times, went ahead of one sent %d times and waiting to be sent again", s.seed, b.TP, b.attempts, o.attempts)
		}
	}
}

// answer answers the oldest request, batch by batch.
func (s *simBroker) answer() {
	req := s.requests[0]
	s.requests = s.requests[1:]
	now := s.h.clk.Now()
	backoff := func() time.Time { return now.Add(time.Duration(s.rng.Intn(20)) * time.Millisecond) }
	for _, b := range req {
		d, ids := s.decode(b)
		fault := s.rng.Intn(100)
		switch {
		case fault < 8:
			s.h.acc.Retry(b, Retry{At: backoff(), Cause: errors.New("NOT_LEADER_OR_FOLLOWER")})
			continue
		case fault < 12 && len(ids) > 1:
			s.h.acc.Split(b, errors.New("MESSAGE_TOO_LARGE"), nil)
			continue
		case fault == 12:
			for _, id := range ids {
				s.failed[id] = true
			}
			s.h.acc.Complete(b, -1, -1, errors.New("CORRUPT_MESSAGE"))
			continue
		}
		answer, offset := s.parts[b.TP].write(s.idem, d.ProducerEpoch, d.BaseSequence, ids)
		switch {
		case answer == simOutOfOrder:
			s.h.acc.Retry(b, Retry{At: backoff(), Cause: errors.New("OUT_OF_ORDER_SEQUENCE_NUMBER"), SequenceRejected: true})
		case answer == simOldEpoch:
			s.h.acc.Retry(b, Retry{At: backoff(), Cause: errors.New("INVALID_PRODUCER_EPOCH"), EpochRejected: true})
		case fault < 16:
			s.h.acc.Retry(b, Retry{At: backoff(), Cause: errors.New("REQUEST_TIMED_OUT"), MaybeWritten: true})
		default:
			s.h.acc.Complete(b, offset, -1, nil)
		}
	}
}

// breakConnection fails every request in flight as a whole, after the
// broker wrote a random number of the oldest.
func (s *simBroker) breakConnection() {
	written := s.rng.Intn(len(s.requests) + 1)
	for i, req := range s.requests {
		for _, b := range req {
			d, ids := s.decode(b)
			if i < written {
				s.parts[b.TP].write(s.idem, d.ProducerEpoch, d.BaseSequence, ids)
			}
			s.h.acc.Retry(b, Retry{At: s.h.clk.Now(), Cause: errors.New("connection reset"), MaybeWritten: true})
		}
	}
	s.requests = nil
}

func answerInFlight(t *testing.T, seed int64, idem bool) {
	const goroutines, perGoroutine = 6, 150
	rng := rand.New(rand.NewSource(seed))
	s := &simBroker{t: t, seed: seed, rng: rng, idem: idem, parts: map[TopicPartition]*simPartition{},
		seqOf: map[int]stampOf{}, restarted: map[TopicPartition]int{}, seenAt: map[int]int{}, failed: map[int]bool{}}
	maxInFlight := 1
	if idem {
		maxInFlight = 5
	}
	h := newHarness(t, func(c *Config) {
		c.Idempotent = idem
		c.MaxInFlight = maxInFlight
		c.DeliveryTimeout = time.Hour
		c.MaxBlock = time.Hour
		// Drain, on this goroutine, is what restarts sequences.
		c.Restarted = func(tp TopicPartition, _ ProducerID, _ int) { s.restarted[tp]++ }
	})
	s.h = h
	if idem {
		h.acc.SetProducerID(ProducerID{ID: 7})
	}
	total := h.pool.Available()
	parts := []TopicPartition{part(0), part(1), part(2)}
	for _, tp := range parts {
		s.parts[tp] = &simPartition{}
	}

	results := make([][]appended, goroutines)
	var appenders sync.WaitGroup
	for g := range goroutines {
		own := rand.New(rand.NewSource(rng.Int63()))
		appenders.Go(func() {
			for i := range perGoroutine {
				id := g*perGoroutine + i
				r := &Record{Data: record.Data{Key: []byte(strconv.Itoa(id)), Value: make([]byte, 20+own.Intn(200))}, Callback: id}
				tp := parts[own.Intn(len(parts))]
				_, err := h.acc.Append(context.Background(), tp, nil, r)
				results[g] = append(results[g], appended{id: id, tp: tp, err: err})
			}
		})
	}
	done := make(chan struct{})
	go func() { appenders.Wait(); close(done) }()

	deadline := time.Now().Add(waitTime)
	step := func() {
		require.False(t, time.Now().After(deadline), "seed %d: %d batches incomplete after %v, %d requests in flight", seed, h.acc.Incomplete(), waitTime, len(s.requests))
		sent := s.drain(parts, maxInFlight)
		switch r := rng.Intn(100); {
		case len(s.requests) > 0 && r < 2:
			s.breakConnection()
		case len(s.requests) > 0 && (r < 50 || sent == 0):
			s.answer()
		}
		if sent == 0 || rng.Intn(3) == 0 {
			h.clk.Advance(time.Millisecond)
		}
		runtime.Gosched()
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			step()
		}
	}
	h.acc.BeginClose() // everything left is ready
	for h.acc.Incomplete() > 0 || len(s.requests) > 0 {
		step()
	}
	h.sync()
	s.check(seed, results)
	require.Equal(t, total, h.pool.Available(), "seed %d: memory not given back", seed)
}

// check checks the promises of TestBatchesInFlightAnsweredAsABrokerWouldKeepEveryPromise
// once every batch is delivered.
func (s *simBroker) check(seed int64, results [][]appended) {
	t, h := s.t, s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	where := map[TopicPartition]map[int][]int64{} // record id -> offsets in the log
	for tp, p := range s.parts {
		where[tp] = map[int][]int64{}
		for off, id := range p.log {
			where[tp][id] = append(where[tp][id], int64(off))
		}
	}
	tpOf := map[int]TopicPartition{}
	for _, rs := range results {
		for _, a := range rs {
			tpOf[a.id] = a.tp
		}
	}
	// A partition's acknowledgements come in the order of their offsets,
	// whoever appended them.
	delivered := map[TopicPartition]int64{}
	for _, id := range h.order {
		r := h.results[id][0]
		if r.Err != nil {
			continue
		}
		if last, ok := delivered[tpOf[id]]; ok {
			require.Greater(t, r.Offset, last, "seed %d: record %d acknowledged after a record at a later offset of %v", seed, id, tpOf[id])
		}
		delivered[tpOf[id]] = r.Offset
	}
	for g, rs := range results {
		acked := map[TopicPartition]int64{}
		logged := map[TopicPartition]int64{}
		for _, a := range rs {
			require.NoError(t, a.err, "seed %d: append of record %d", seed, a.id)
			outcomes := h.results[a.id]
			require.Len(t, outcomes, 1, "seed %d: outcomes of record %d", seed, a.id)
			r, in := outcomes[0], where[a.tp][a.id]
			if s.idem {
				require.LessOrEqual(t, len(in), 1, "seed %d: record %d written twice to %v", seed, a.id, a.tp)
				if len(in) == 1 {
					if last, ok := logged[a.tp]; ok {
						require.Greater(t, in[0], last, "seed %d: record %d of goroutine %d written out of its order to %v", seed, a.id, g, a.tp)
					}
					logged[a.tp] = in[0]
				}
			}
			if r.Err != nil {
				if s.idem {
					require.True(t, s.failed[a.id] || errors.Is(r.Err, ErrMaybeWritten), "seed %d: record %d failed: %v", seed, a.id, r.Err)
					if !errors.Is(r.Err, ErrMaybeWritten) {
						require.Empty(t, in, "seed %d: record %d failed as not written (%v), yet is in the log of %v", seed, a.id, r.Err, a.tp)
					}
				}
				continue
			}
			require.Contains(t, in, r.Offset, "seed %d: record %d acknowledged at offset %d of %v, where the log has %v", seed, a.id, r.Offset, a.tp, s.parts[a.tp].log[min(int(r.Offset), len(s.parts[a.tp].log)-1)])
			if last, ok := acked[a.tp]; ok {
				require.Greater(t, r.Offset, last, "seed %d: record %d of goroutine %d acknowledged out of its order on %v", seed, a.id, g, a.tp)
			}
			acked[a.tp] = r.Offset
		}
	}
}
