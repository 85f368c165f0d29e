package producer

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
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

// While records of one topic wait for its metadata (a mistyped name waits
// out MaxBlock), a record of a known topic that has none held takes no
// lock of the held records': the test holds that lock, and the record is
// still appended. Produce used to take it for every record while any was
// held, so that one missing topic made every goroutine's Produce to every
// topic queue on a single mutex.
func TestARecordOfATopicWithNoneHeldTakesNoHeldLock(t *testing.T) {
	p := producerWaitingLong(t, 1)
	typo, known := newOutcomes(1), newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "typo", Value: []byte("waits")}, typo.cb(0))
	require.NotZero(t, p.held.count.Load(), "the record of the missing topic is held")

	p.held.mu.Lock()
	unlock := sync.OnceFunc(p.held.mu.Unlock)
	defer unlock() // before Close, which takes it, should the wait below fail
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("goes")}, known.cb(0))
	}()
	receive(t, produced, `Produce of a record of "t", known and with none held, while held.mu was taken`)
	unlock()

	known.wait(t, "the record of t")
	require.NoError(t, known.one(t, 0).err)
	require.False(t, typo.done(), "the record of the missing topic still waits")
	require.ErrorIs(t, closeAtOnce(t, p, typo, 0), ErrClosed, "the record of the missing topic at Close")
}

// A topic hidden by metadata fails the same way, and the producer recovers
// when metadata shows it again. MaxBlock runs on a fake clock, moved past
// it once an answer has hidden the topic: on the wall clock, the refresh
// that shows it again, through the metadata loop's backoff, could take a
// loaded machine longer than a MaxBlock short enough for the test.
func TestHiddenTopicFailsThenRecovers(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	var hidden atomic.Bool
	c.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		for _, rt := range req.Topics {
			if rt.Name != nil && *rt.Name == "t" {
				hidden.Store(true)
			}
		}
		return fakebroker.Action{Hide: []string{"t"}}
	})
	clk := clock.NewFake(heldClockStart)
	const maxBlock = time.Minute
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.MaxBlock, cfg.Linger = clk, maxBlock, NoLinger
	})
	o := newOutcomes(1)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "an answer hiding t", func() bool {
		releasePacing(clk)
		return hidden.Load()
	})
	require.Less(t, clk.Now().Sub(t0), maxBlock, "the test's own pace leaves the record time to wait")
	require.Zero(t, o.first.Load(), "the record waits out its MaxBlock")
	clk.Advance(t0.Add(maxBlock + pastDeadline).Sub(clk.Now()))
	o.wait(t, "the record of the hidden topic")
	require.ErrorIs(t, o.one(t, 0).err, ErrUnknownTopic)

	c.OnMetadata(nil)
	again := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, again.cb(0))
	eventually(t, "the record of t, shown again", func() bool {
		releasePacing(clk)
		return again.done()
	})
	require.NoError(t, again.one(t, 0).err)
}

// Produce copies what it needs of a record before it returns, as Record's
// doc promises, a held record too, partitioned and written later from its
// copy: a caller reusing its buffers (key, value, a header's value, the
// headers' slice) after Produce must not change what is written.
func TestAHeldRecordIsWrittenAsItWasWhenProduced(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	p, clk := heldProducer(t, c)
	key, val, hval := []byte("key-1"), []byte("value-1"), []byte("header-1")
	headers := []Header{{Key: "h", Value: hval}}
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Key: key, Value: val, Headers: headers}, o.cb(0))
	copy(key, "XXXXX")
	copy(val, "XXXXXXX")
	copy(hval, "XXXXXXXX")
	headers[0] = Header{Key: "other", Value: []byte("other")}
	require.NoError(t, c.CreateTopic("late", 1))
	eventually(t, "the held record's outcome", func() bool {
		releasePacing(clk)
		return o.done()
	})
	require.NoError(t, o.one(t, 0).err)
	written := c.Records("late", 0)
	require.Len(t, written, 1)
	require.Equal(t, "key-1", string(written[0].Key))
	require.Equal(t, "value-1", string(written[0].Value))
	require.Equal(t, []Header{{Key: "h", Value: []byte("header-1")}}, written[0].Headers)
}

// The count of held records comes back to zero once each has its outcome,
// appended or failed (here by its partitioner's panic), each alone: a
// Produce takes the held records' lock only while the count says some are
// held (TestARecordOfATopicWithNoneHeldTakesNoHeldLock). Left above zero,
// every Produce would take the lock for nothing; below, a record could
// pass one held before it.
func TestTheHeldCountComesBackToZeroOnceTheHeldRecordsHaveTheirOutcomes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
		if string(key) == "panics" {
			panic("user partitioner bug")
		}
		return 0
	})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Partitioner = clk, part
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	for i, key := range []string{"panics", "goes"} {
		topic := fmt.Sprintf("late%d", i)
		o := newOutcomes(1)
		p.Produce(ctx(t), &Record{Topic: topic, Key: []byte(key), Value: []byte("v")}, o.cb(0))
		require.EqualValues(t, 1, p.held.count.Load(), "the record keyed %s held", key)
		require.NoError(t, c.CreateTopic(topic, 1))
		eventually(t, "the held count back to zero after the record keyed "+key, func() bool {
			releasePacing(clk)
			return o.done() && p.held.count.Load() == 0
		})
	}
}
