package producer

// The checks a scene's outcome must pass, whatever its faults:
//
//   - every record has exactly one outcome;
//   - no record is in the log twice;
//   - an acknowledged record is in the log once, at the topic, partition
//     and offset its callback said;
//   - a failed record whose error does not say ErrMaybeWritten is not in
//     the log;
//   - in each partition, the records of one producing goroutine are in
//     the order it produced them;
//   - in each partition, a record's acknowledgement comes after the
//     outcome of every record its goroutine produced to it before.
//
// A Flush or Close that returned nil with records still waiting for an
// outcome is caught where it returns (randomfaults_play_test.go), and so
// is a Close made midway that returned nil before the records produced
// before it was called had their outcomes, or having failed any of them
// as closed rather than sent.

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gokafka/producer/internal/fakebroker"
)

// logPlace is where the fake's log holds a record.
type logPlace struct {
	topic     string
	partition int32
	offset    int64
}

func (l logPlace) String() string { return fmt.Sprintf("%s-%d@%d", l.topic, l.partition, l.offset) }

// check checks the log and the outcomes against each other.
func (s *scene) check(t *testing.T, c *fakebroker.Cluster, recs *sceneRecords) {
	recs.outcomes.watch(t) // fails a record with several outcomes
	places := s.checkLog(t, c)
	outs := recs.outcomes.snapshot()
	acked, maybeWritten, failed := 0, 0, 0
	for i, got := range outs {
		if len(got) != 1 {
			if len(got) == 0 {
				t.Errorf("record %d has no outcome", i)
			}
			continue
		}
		o, at := got[0], places[i]
		if len(at) > 1 {
			t.Errorf("record %d is in the log %d times, at %v (its outcome: %v)", i, len(at), at, o.err)
		}
		switch {
		case o.err == nil:
			acked++
			said := logPlace{o.md.Topic, o.md.Partition, o.md.Offset}
			if len(at) != 1 || at[0] != said {
				t.Errorf("record %d was acknowledged at %v but is in the log at %v", i, said, at)
			}
		case errors.Is(o.err, ErrMaybeWritten):
			maybeWritten++
		default:
			failed++
			if len(at) > 0 {
				t.Errorf("record %d failed (%v) without saying it may have been written, but is in the log at %v",
					i, o.err, at)
			}
		}
	}
	s.checkCallbackOrder(t, recs, outs)
	t.Logf("%d acknowledged, %d failed that may have been written, %d failed", acked, maybeWritten, failed)
}

// checkLog reads every partition's log, failing for an entry the scene did
// not produce and for a goroutine's records out of the order it produced
// them, and returns where each record is.
func (s *scene) checkLog(t *testing.T, c *fakebroker.Cluster) map[int][]logPlace {
	places := map[int][]logPlace{}
	for topic, partitions := range sceneTopics {
		for partition := range partitions {
			lastOfGoroutine := map[int]int{}
			for _, r := range c.Records(topic, partition) {
				at := logPlace{topic, partition, r.Offset}
				i, ok := recordNumber(r.Value)
				if !ok || i < 0 || i >= s.records {
					t.Errorf("%v: a value the scene never produced: %q", at, r.Value)
					continue
				}
				places[i] = append(places[i], at)
				g := i % s.goroutines
				if last, ok := lastOfGoroutine[g]; ok && i <= last {
					t.Errorf("%v: record %d is after record %d, which its goroutine produced later (or it is a duplicate)",
						at, i, last)
				}
				lastOfGoroutine[g] = i
			}
		}
	}
	return places
}

// checkCallbackOrder fails for a record acknowledged before the outcome of
// an earlier record of its goroutine and partition: a callback that says
// "written" promises that everything before it in the partition has been
// dealt with.
func (s *scene) checkCallbackOrder(t *testing.T, recs *sceneRecords, outs [][]outcome) {
	type stream struct {
		topic     string
		partition int32
		goroutine int
	}
	type latest struct {
		record, order int
	}
	latestOf := map[stream]latest{}
	for i, got := range outs {
		if len(got) == 0 {
			continue
		}
		o := got[0]
		partition := recs.partition[i]
		if s.keyed {
			if partition = o.md.Partition; partition < 0 {
				continue // refused before the partitioner placed it
			}
		}
		k := stream{recs.topic[i], partition, i % s.goroutines}
		order := int(recs.callbackOrder[i].Load())
		before := latestOf[k]
		if o.err == nil && order < before.order {
			t.Errorf("record %d was acknowledged (callback %d) before the outcome of record %d, earlier in %s-%d (callback %d)",
				i, order, before.record, k.topic, k.partition, before.order)
		}
		if order > before.order {
			latestOf[k] = latest{i, order}
		}
	}
}
