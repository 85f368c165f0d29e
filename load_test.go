package producer

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
)

// loadRecorder is a partitioner that wants per-partition load reports.
type loadRecorder struct {
	partitioner.Partitioner
	mu      sync.Mutex
	reports map[string][]int32
	count   int
}

func (l *loadRecorder) SetLoad(topic string, sizes []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reports[topic] = append([]int32(nil), sizes...)
	l.count++
}

// last returns the latest report for topic and how many reports came in
// all.
func (l *loadRecorder) last(topic string) ([]int32, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reports[topic], l.count
}

// A partitioner implementing partitioner.LoadReporter is told how many
// batches wait per partition, one number per partition (KIP-794's adaptive
// partitioning needs them).
func TestQueueLoadIsReportedToThePartitioner(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"loaded": 3}})
	rec := &loadRecorder{Partitioner: partitioner.RoundRobin(), reports: map[string][]int32{}}
	p := newProducer(t, c, func(cfg *Config) { cfg.Partitioner = rec })
	_, err := p.Send(ctx(t), &Record{Topic: "loaded", Value: []byte("v")})
	require.NoError(t, err)
	eventually(t, "a load report", func() bool { got, _ := rec.last("loaded"); return got != nil })
	got, _ := rec.last("loaded")
	require.Len(t, got, 3, "one queue size per partition")
}

// The load is reported as batches start, not on a timer: a sticky
// partitioner switches when a batch is full, and queues read a second
// earlier let them drift apart. Reports for one topic are at most a
// millisecond apart, since each walks the topic's partitions.
func TestQueueLoadIsReportedAsBatchesStart(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"loaded": 3}})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	rec := &loadRecorder{Partitioner: partitioner.RoundRobin(), reports: map[string][]int32{}}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Partitioner = rec
		cfg.Linger = 10 * time.Second // the batches stay queued
	})
	eventually(t, "the topic's metadata", func() bool {
		clk.Advance(cfgRetryBackoff)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), "loaded")
		return n > 0
	})
	o := newOutcomes(3)
	produce := func(i int) {
		p.Produce(ctx(t), &Record{Topic: "loaded", Value: []byte("v")}, o.cb(i))
	}

	produce(0) // the first batch, of one partition
	got, n := rec.last("loaded")
	require.Equal(t, 1, n, "starting a batch reports the load")
	require.Equal(t, []int32{0, 0, 1}, sorted(got), "one partition holds one batch")

	produce(1) // another partition's batch, in the same millisecond
	got, n = rec.last("loaded")
	require.Equal(t, 1, n, "a second report in the same millisecond")
	require.Equal(t, []int32{0, 0, 1}, sorted(got))

	clk.Advance(time.Millisecond)
	produce(2) // the third partition's batch
	got, n = rec.last("loaded")
	require.Equal(t, 2, n, "a batch started a millisecond later reports the load")
	require.Equal(t, []int32{1, 1, 1}, got, "each partition holds one batch")

	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "the three records")
}

// sorted returns a sorted copy of sizes, for a report whose partition
// order the round-robin's start decides.
func sorted(sizes []int32) []int32 {
	s := append([]int32(nil), sizes...)
	slices.Sort(s)
	return s
}
