package fakebroker

import (
	"math"

	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// This file is the broker's side of idempotence: what a partition
// remembers of each producer that writes to it, and the rules a batch with
// a producer id must pass to be appended. The rules are Kafka's (its
// ProducerStateManager and the append checks beside it), as a broker since
// 2.5 applies them (KIP-360):
//
//   - a batch whose epoch is below the producer's is refused with
//     INVALID_PRODUCER_EPOCH;
//   - a batch that repeats, epoch and sequence range alike, one of the last
//     retainedBatches batches is a retry: nothing is appended and the answer
//     is success with the offset the original got;
//   - a batch with a new, higher epoch must start at sequence 0;
//   - otherwise the batch's first sequence must follow the last one
//     (math.MaxInt32 is followed by 0), or the answer is
//     OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - a producer the partition has no state for may start at any sequence
//     (its state expired, or its records were deleted).
//
// A partition's data is one batch: Kafka refuses anything else before these
// rules (validateRecords).

// retainedBatches is how many of a producer's last batches a partition
// remembers to recognise retries (Kafka's NUM_BATCHES_TO_RETAIN). It is why
// an idempotent producer keeps at most 5 requests in flight per partition:
// a retry of anything older would look out of order.
const retainedBatches = 5

// batchMeta is what a partition remembers of one appended batch.
type batchMeta struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	maxTimestamp      int64 // what Kafka answers a duplicate as its LogAppendTimeMs
}

// producerState is one producer's state in one partition: its epoch and
// its last batches, a ring with the oldest at head. A value, so that a
// request's tentative state is a copy that costs no allocation.
type producerState struct {
	epoch   int16 // record.NoProducerEpoch when the partition knows nothing of it
	n       int   // batches held, up to retainedBatches
	head    int
	batches [retainedBatches]batchMeta
}

// noState is the state of a producer the partition has never seen.
var noState = producerState{epoch: record.NoProducerEpoch}

// batch returns the i-th batch held, oldest first.
func (st *producerState) batch(i int) *batchMeta {
	return &st.batches[(st.head+i)%retainedBatches]
}

// lastSeq is the last sequence appended at the current epoch, or
// record.NoSequence.
func (st *producerState) lastSeq() int32 {
	if st.n == 0 {
		return record.NoSequence
	}
	return st.batch(st.n - 1).lastSeq
}

// add records an appended batch; a new epoch forgets the old one's batches.
func (st *producerState) add(epoch int16, b batchMeta) {
	if epoch != st.epoch {
		st.epoch, st.n, st.head = epoch, 0, 0
	}
	if st.n == retainedBatches {
		st.head = (st.head + 1) % retainedBatches
		st.n--
	}
	st.batches[(st.head+st.n)%retainedBatches] = b
	st.n++
}

// duplicate finds the held batch that a batch with this epoch and sequence
// range repeats.
func (st *producerState) duplicate(epoch int16, firstSeq, lastSeq int32) (batchMeta, bool) {
	if epoch != st.epoch {
		return batchMeta{}, false
	}
	for i := 0; i < st.n; i++ {
		if b := st.batch(i); b.firstSeq == firstSeq && b.lastSeq == lastSeq {
			return *b, true
		}
	}
	return batchMeta{}, false
}

// check applies the epoch and sequence rules to a batch about to be
// appended after st. A producer with no state accepts any sequence.
func (st *producerState) check(epoch int16, firstSeq int32) *kerr.Error {
	switch {
	case epoch < st.epoch:
		return kerr.InvalidProducerEpoch
	case epoch != st.epoch:
		if firstSeq != 0 && st.epoch != record.NoProducerEpoch {
			return kerr.OutOfOrderSequenceNumber
		}
	case st.epoch != record.NoProducerEpoch && !follows(st.lastSeq(), firstSeq):
		return kerr.OutOfOrderSequenceNumber
	}
	return nil
}

// follows reports whether next is the sequence after last.
func follows(last, next int32) bool {
	return int64(next) == int64(last)+1 || next == 0 && last == math.MaxInt32
}

// addSeq is seq advanced by n, wrapping past math.MaxInt32 to 0 as
// producers and brokers do.
func addSeq(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// pendingProducer is a producer's tentative state while the partition's
// batch is checked; id is record.NoProducerID for a batch without one.
type pendingProducer struct {
	id int64
	st producerState
}

// checkProducer applies the rules to the partition's decoded batch
// (s.batch), as if it were appended at offset p.next. It returns the held
// batch that it repeats, or the error refusing it; on success s.pending
// holds its producer's state after the append, for commitProducer. c.mu is
// held.
func (s *session) checkProducer(p *partition) (dup batchMeta, isDup bool, fail *kerr.Error) {
	s.pending = pendingProducer{id: record.NoProducerID}
	b := &s.batch
	if b.ProducerID < 0 {
		return batchMeta{}, false, nil
	}
	// Kafka validates the batch's fields before it looks at producer
	// state: a producer id calls for a sequence.
	if b.BaseSequence < 0 {
		return batchMeta{}, false, kerr.InvalidRecord
	}
	firstSeq, lastSeq := b.BaseSequence, addSeq(b.BaseSequence, b.LastOffsetDelta)
	st := noState
	if committed := p.producers[b.ProducerID]; committed != nil {
		if m, ok := committed.duplicate(b.ProducerEpoch, firstSeq, lastSeq); ok {
			return m, true, nil
		}
		st = *committed
	}
	if err := st.check(b.ProducerEpoch, firstSeq); err != nil {
		return batchMeta{}, false, err
	}
	st.add(b.ProducerEpoch, batchMeta{firstSeq: firstSeq, lastSeq: lastSeq, baseOffset: p.next, maxTimestamp: b.MaxTimestamp})
	s.pending = pendingProducer{id: b.ProducerID, st: st}
	return batchMeta{}, false, nil
}

// repeatsLast reports whether f, an injected failure, is an
// OUT_OF_ORDER_SEQUENCE_NUMBER for data that repeats the last batch its
// producer appended to the partition: Kafka keeps that batch's metadata
// even when it restarts from a snapshot, and answers its retry as the
// duplicate it is, never as out of order, so the failure gives way to the
// usual answer: a test that injects the failure meets what Kafka would
// answer.
func (s *session) repeatsLast(f *Failure, topic string, index int32, data []byte) bool {
	if f.Err != kerr.OutOfOrderSequenceNumber {
		return false
	}
	b, rest, err := record.DecodeBatch(data)
	if err != nil || len(rest) > 0 || b.ProducerID < 0 {
		return false
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		return false
	}
	st := t.partitions[index].producers[b.ProducerID]
	if st == nil || st.n == 0 || st.epoch != b.ProducerEpoch {
		return false
	}
	last := st.batch(st.n - 1)
	return last.firstSeq == b.BaseSequence && last.lastSeq == addSeq(b.BaseSequence, b.LastOffsetDelta)
}

// commitProducer stores the state checkProducer left in s.pending, once
// the batch is appended. c.mu is held.
func (s *session) commitProducer(p *partition) {
	pp := &s.pending
	if pp.id < 0 {
		return
	}
	if st, ok := p.producers[pp.id]; ok {
		*st = pp.st
		return
	}
	if p.producers == nil {
		p.producers = make(map[int64]*producerState)
	}
	st := pp.st
	p.producers[pp.id] = &st
}
