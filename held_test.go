package producer

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// Records for a topic that does not exist yet wait (Produce does not
// block) and are delivered in order once it appears; records produced after
// it appeared queue behind them.
func TestRecordsWaitForATopicThatAppearsLater(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	p := newProducer(t, c, nil)
	const n = 200
	o := newOutcomes(2 * n)
	for i := 0; i < n; i++ {
		p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, i)}, o.cb(i))
	}
	require.False(t, o.done())
	require.NoError(t, c.CreateTopic("late", 1))
	for i := n; i < 2*n; i++ {
		p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, i)}, o.cb(i))
	}
	o.wait(t, "records for a late topic")
	log := c.Records("late", 0)
	require.Len(t, log, 2*n)
	for i := 0; i < 2*n; i++ {
		out := o.one(t, i)
		require.NoError(t, out.err)
		require.Equal(t, int64(i), out.md.Offset)
		require.Equal(t, value(0, i), log[i].Value)
	}
}

// Records for a topic that never appears fail with ErrUnknownTopic after
// MaxBlock, naming the topic; other topics are unaffected.
func TestTopicThatNeverAppearsFailsAfterMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"real": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 300 * time.Millisecond })
	o := newOutcomes(3)
	began := time.Now()
	for i := 0; i < 3; i++ {
		p.Produce(ctx(t), &Record{Topic: "ghost", Value: value(0, i)}, o.cb(i))
	}
	o.wait(t, "records for a missing topic")
	for i := 0; i < 3; i++ {
		out := o.one(t, i)
		require.ErrorIs(t, out.err, ErrUnknownTopic)
		require.Contains(t, out.err.Error(), `"ghost"`)
		require.Equal(t, int64(-1), out.md.Offset)
	}
	require.GreaterOrEqual(t, time.Since(began), 300*time.Millisecond, "not before MaxBlock")
	_, err := p.Send(ctx(t), &Record{Topic: "real", Value: []byte("v")})
	require.NoError(t, err)
}

// A topic hidden by metadata fails the same way, and the producer recovers
// when metadata shows it again.
func TestHiddenTopicFailsThenRecovers(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{Hide: []string{"t"}}
	})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 300 * time.Millisecond })
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, ErrUnknownTopic)
	c.OnMetadata(nil)
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
}

// An explicit partition is checked when the held record's topic arrives:
// out of range fails that record only.
func TestHeldRecordWithOutOfRangePartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 500 * time.Millisecond })
	o := newOutcomes(3)
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 0)}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 1), Partition: 5, ExplicitPartition: true}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 2), Partition: 1, ExplicitPartition: true}, o.cb(2))
	require.NoError(t, c.CreateTopic("late", 2))
	o.wait(t, "held records")
	require.NoError(t, o.one(t, 0).err)
	require.ErrorIs(t, o.one(t, 1).err, ErrInvalidRecord, "partition 5 never came within MaxBlock")
	out := o.one(t, 2)
	require.NoError(t, out.err)
	require.Equal(t, value(0, 2), c.Records("late", 1)[out.md.Offset].Value)
}

// A lagging broker may call a topic unknown while its held records drain:
// the record the drain reaches then waits, within its limit, for the
// topic's partitions to come back (the topic is wanted meanwhile, so the
// metadata loop polls for it), and goes. Before, it failed at once with
// ErrUnknownTopic, "it disappeared from metadata", though the topic
// exists. The test appends the record as the drain does, at a moment the
// metadata lacks the partitions: the drain's goroutine reaches a record at
// no moment a test could choose. On the fake clock, only the drain's wait
// can bring the topic back: nothing else wants it, and no periodic refresh
// comes within the test.
func TestAHeldRecordWhoseTopicIsCalledUnknownMidDrainWaitsForIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	var hide, hidden atomic.Bool
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if hide.CompareAndSwap(true, false) {
			hidden.Store(true)
			return fakebroker.Action{Hide: []string{"t"}}
		}
		return fakebroker.Action{}
	})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MetadataMaxAge, cfg.MaxBlock = time.Hour, time.Hour
	})
	eventually(t, "the topic's metadata", func() bool {
		clk.Advance(cfgRetryBackoff)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), "t")
		return n > 0
	})
	hide.Store(true)
	eventually(t, "a refresh answered by the lagging broker", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return hidden.Load()
	})
	// The loop waits for the clock after every refresh: the answer is
	// applied, and stays, until the test moves time again.
	eventually(t, "the lagging answer applied", func() bool {
		tp := p.cluster.Snapshot().Topic("t")
		return tp != nil && len(tp.Partitions) == 0
	})

	defer p.cluster.Want("t")() // as while the topic's held records drain
	o := newOutcomes(1)
	h := heldRecord{rec: Record{Topic: "t", Value: []byte("v")}, cb: Callback(o.cb(0)), since: clk.Now()}
	returned := make(chan bool, 1)
	go func() { returned <- p.appendHeld(&h) }()
	var appended bool
	eventually(t, "the held record's append to end", func() bool {
		select {
		case appended = <-returned:
			return true
		default:
			clk.Advance(cfgRetryBackoff)
			return false
		}
	})
	if !appended {
		o.wait(t, "the failed record's outcome")
		t.Fatalf("the held record failed: %v", o.one(t, 0).err)
	}
	require.NoError(t, p.Flush(ctx(t)))
	require.NoError(t, o.one(t, 0).err)
}
