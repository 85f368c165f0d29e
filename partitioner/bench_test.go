package partitioner

import "testing"

func benchTopic() *Topic { return &Topic{Name: "bench-topic", Partitions: 100, Available: all(100)} }

// The per-record path must not allocate in steady state: each record would
// otherwise cost garbage on the hottest loop of the producer.
func TestPartitionDoesNotAllocate(t *testing.T) {
	topic := benchTopic()
	key := []byte("user-123456789")
	d := Default(16384)
	obs := d.(Observer)
	rr := RoundRobin()
	d.Partition(topic, nil) // create the topic state first
	rr.Partition(topic, nil)
	equal(t, testing.AllocsPerRun(1000, func() { d.Partition(topic, key) }), 0, "allocs, keyed")
	equal(t, testing.AllocsPerRun(1000, func() {
		p := d.Partition(topic, nil)
		obs.Appended(topic, p, 1000, true) // switches every 17 records
	}), 0, "allocs, keyless sticky")
	equal(t, testing.AllocsPerRun(1000, func() { rr.Partition(topic, nil) }), 0, "allocs, round robin")
}

func BenchmarkDefaultKeyed(b *testing.B) {
	p := Default(16384)
	topic := benchTopic()
	key := []byte("user-123456789")
	b.ReportAllocs()
	for b.Loop() {
		p.Partition(topic, key)
	}
}

// Each iteration partitions a 100-byte keyless record and reports its
// append, so the partitioner switches every 164 records, when the batch
// fills, as in production.
func BenchmarkStickyKeyless(b *testing.B) {
	p := Default(16384)
	obs := p.(Observer)
	topic := benchTopic()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		obs.Appended(topic, p.Partition(topic, nil), 100, n%164 == 0)
	}
}

func BenchmarkStickyKeylessParallel(b *testing.B) {
	p := Default(16384)
	obs := p.(Observer)
	topic := benchTopic()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			n++
			obs.Appended(topic, p.Partition(topic, nil), 100, n%164 == 0)
		}
	})
}

func BenchmarkRoundRobin(b *testing.B) {
	p := RoundRobin()
	topic := benchTopic()
	b.ReportAllocs()
	for b.Loop() {
		p.Partition(topic, nil)
	}
}
