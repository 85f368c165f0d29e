package main

import (
	"testing"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/internal/clock"
)

// BenchmarkMeterPerRecord is what metering costs per record, measured the
// way the producer incurs it: a producing goroutine hands each record's
// callback, in batches, to a delivering goroutine that runs it, as the
// library's delivery goroutine does. "bare" reads the clock once per record
// on the producing side, as the library does for a record without a
// timestamp, and runs callbacks that do nothing; "metered" meters each
// record as kprod perf does, whose reading serves as the record's
// timestamp. The difference is the meter's cost; cpu-ns/op counts both
// goroutines' CPU, which ns/op (wall time) does not.
func BenchmarkMeterPerRecord(b *testing.B) {
	nop := func(producer.RecordMetadata, error) {}
	b.Run("bare", func(b *testing.B) {
		benchmarkHandOver(b, func(*meter, *shard) func(producer.RecordMetadata, error) {
			_ = clock.Real{}.UnixMilli()
			return nop
		})
	})
	b.Run("metered", func(b *testing.B) {
		benchmarkHandOver(b, func(m *meter, s *shard) func(producer.RecordMetadata, error) {
			at := m.now()
			_ = timestamp(at).UnixMilli() // what the library does with it
			return m.trackAt(s, 100, at)
		})
	})
}

// benchmarkHandOver runs b.N callbacks made by produce on another goroutine,
// 128 at a time.
func benchmarkHandOver(b *testing.B, produce func(*meter, *shard) func(producer.RecordMetadata, error)) {
	const batch, queued = 128, 64
	type callbacks = []func(producer.RecordMetadata, error)
	m := newMeter(1)
	s := m.shard(0)
	full, empty := make(chan callbacks, queued), make(chan callbacks, queued)
	for range queued {
		empty <- make(callbacks, 0, batch)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for cbs := range full {
			for _, cb := range cbs {
				cb(producer.RecordMetadata{}, nil)
			}
			empty <- cbs[:0]
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	cbs := <-empty
	for range b.N {
		if cbs = append(cbs, produce(m, s)); len(cbs) == batch {
			full <- cbs
			cbs = <-empty
		}
	}
	full <- cbs
	close(full)
	<-done
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if c := m.counts(); c.sent > 0 && c.acked != c.sent {
		b.Fatalf("%d acked of %d sent", c.acked, c.sent)
	}
}
