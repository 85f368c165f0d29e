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

// forgetRecorder is a partitioner that wants load reports and is told of
// the topics the metadata forgets (partitioner.Forgetter).
type forgetRecorder struct {
	loadRecorder
	forgotMu sync.Mutex
	forgot   []string
}

func (f *forgetRecorder) Forget(topic string) {
	f.forgotMu.Lock()
	defer f.forgotMu.Unlock()
	f.forgot = append(f.forgot, topic)
}

func (f *forgetRecorder) forgotten() []string {
	f.forgotMu.Lock()
	defer f.forgotMu.Unlock()
	return slices.Clone(f.forgot)
}

// What the producer keeps per topic only as a hint goes when its metadata
// forgets the topic as idle: the time of its last load report, and the
// partitioner's state, which a partitioner.Forgetter is told to drop. A
// record for the topic later is sent as the first was, and the hints come
// back. Before, both stayed for the producer's life: 50,000 topics
// produced to once held about a third of a KiB each after the metadata
// had forgotten them. The clock is fake: the idle time passes at once.
func TestAForgottenTopicsHintsGoAndComeBack(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	part := &forgetRecorder{loadRecorder: loadRecorder{Partitioner: partitioner.RoundRobin(), reports: map[string][]int32{}}}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Partitioner = part
		cfg.MetadataMaxAge, cfg.MetadataMaxIdle, cfg.MaxBlock = time.Hour, 5*time.Second, time.Hour
	})
	o := newOutcomes(2)
	send := func(i int) {
		sendMoving(t, p, clk, o, "t", i)
		_, reported := p.loadReports.Load("t")
		require.True(t, reported, "record %d: no load report's time kept for the topic", i)
	}
	send(0)

	clk.Advance(6 * time.Second)
	eventually(t, "the partitioner told that the idle topic was forgotten", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return slices.Contains(part.forgotten(), "t")
	})
	require.Nil(t, p.cluster.Snapshot().Topic("t"), "the topic is still in the metadata")
	_, reported := p.loadReports.Load("t")
	require.False(t, reported, "the forgotten topic's last load report's time is kept")

	send(1)
	require.Equal(t, 2, len(c.Records("t", 0))+len(c.Records("t", 1)))
}
