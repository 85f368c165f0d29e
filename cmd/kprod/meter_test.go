package main

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/protocol/kerr"
)

// Callbacks from several goroutines, as the producer's senders make them,
// are all counted, and the histogram holds every acknowledged record.
func TestMeterConcurrentCallbacks(t *testing.T) {
	m := newMeter(4)
	const perShard, shards = 1000, 4
	var producers, callbacks sync.WaitGroup
	for i := range shards {
		s := m.shard(i)
		producers.Go(func() {
			for n := range perShard {
				cb := m.track(s, 10)
				var err error
				if n%10 == 0 {
					err = &producer.PartitionError{Topic: "t", Partition: 1, Err: kerr.NotLeaderOrFollower}
				}
				callbacks.Go(func() { cb(producer.RecordMetadata{}, err) })
			}
		})
	}
	producers.Wait()
	callbacks.Wait()
	c := m.counts()
	if c.sent != shards*perShard || c.failed != shards*perShard/10 || c.bytes != 10*c.acked {
		t.Errorf("counts %+v", c)
	}
	if n := m.latency().TotalCount(); n != c.acked {
		t.Errorf("histogram holds %d values, %d acked", n, c.acked)
	}
	errs, first := m.errors()
	if errs["NOT_LEADER_OR_FOLLOWER"] != c.failed || first["NOT_LEADER_OR_FOLLOWER"] == nil {
		t.Errorf("errors %v", errs)
	}
}

// An empty run reports zeros, not NaN, which JSON cannot encode, and its
// errors are {} rather than null.
func TestEmptySummaryEncodes(t *testing.T) {
	s := newSummary(summaryInput{mode: "perf", meter: newMeter(1)})
	var buf bytes.Buffer
	if err := s.write(&buf, true); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if errs, ok := fields["errors"].(map[string]any); !ok || len(errs) != 0 {
		t.Errorf("errors = %v", fields["errors"])
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}
