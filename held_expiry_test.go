package producer

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// Records for a topic that never appears fail with ErrUnknownTopic after
// MaxBlock, naming the topic; other topics are unaffected.
func TestTopicThatNeverAppearsFailsAfterMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"real": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 300 * time.Millisecond })
	awaitMetadata(t, p, "real")
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

// An explicit partition is checked when the held record's topic arrives:
// out of range fails that record only, at its MaxBlock. MaxBlock runs on
// a fake clock, which the test moves past it only once the other records
// are written: on the wall clock, a MaxBlock short enough for the test
// could run out before a loaded machine's metadata round trip.
func TestHeldRecordWithOutOfRangePartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	clk := clock.NewFake(heldClockStart)
	const maxBlock = time.Minute
	p := newProducer(t, c, func(cfg *Config) { cfg.clock, cfg.MaxBlock = clk, maxBlock })
	o := newOutcomes(3)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 0)}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 1), Partition: 5, ExplicitPartition: true}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 2), Partition: 1, ExplicitPartition: true}, o.cb(2))
	require.NoError(t, c.CreateTopic("late", 2))
	eventually(t, "the records for partitions the topic has", func() bool {
		releasePacing(clk)
		return o.first.Load() >= 2
	})
	require.Less(t, clk.Now().Sub(t0), maxBlock, "the test's own pace leaves the records time to wait")
	require.Equal(t, int64(2), o.first.Load(), "the record for partition 5 waits out its MaxBlock")
	clk.Advance(t0.Add(maxBlock + pastDeadline).Sub(clk.Now()))
	o.wait(t, "held records")
	require.NoError(t, o.one(t, 0).err)
	require.ErrorIs(t, o.one(t, 1).err, ErrInvalidRecord, "partition 5 never came within MaxBlock")
	out := o.one(t, 2)
	require.NoError(t, out.err)
	require.Equal(t, value(0, 2), c.Records("late", 1)[out.md.Offset].Value)
}

// A record set aside for a partition its topic does not have fails at its
// MaxBlock also while a record of its round, behind it, waits for a
// batch's memory: the expiry loop fails it. The drain looks at the records
// set aside only once its round is done, and the expiry loop skipped a
// topic being drained: the record failed only when the one waiting for
// memory did, at that one's DeliveryTimeout, 3 seconds late.
func TestARecordSetAsideFailsAtItsMaxBlockWhileItsRoundWaitsForMemory(t *testing.T) {
	c, p, clk, o, t0 := asideBehindAMemoryWait(t)
	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 1 })
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, `topic "late" partition 5: invalid record: no such partition (the topic has 1)`)
	require.Equal(t, 1, p.pool.Waiters(), "the keyless record still waits for memory")

	recordOneFailsAtItsDeliveryTimeout(t, c, clk, o, t0)
}

// heldPairShortOfMemory holds two records of "late", first at t0 and a
// keyless one a second later, then lets "late" come with one partition
// while memory is full, and returns once a drained record waits for a
// batch's memory: first, or, if first is set aside, the keyless one.
func heldPairShortOfMemory(t *testing.T, first *Record) (*fakebroker.Cluster, *Producer, *clock.Fake, *outcomes, time.Time) {
	t.Helper()
	c, p, clk := shortOfMemoryProducer(t)
	o := newOutcomes(2)
	t0 := clk.Now()
	p.Produce(ctx(t), first, o.cb(0))
	clk.Advance(time.Second)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("keyless")}, o.cb(1))
	clk.Advance(4 * time.Second)
	fillBufferMemory(t, c, p)
	require.NoError(t, c.CreateTopic("late", 1))
	awaitDrain(t, p, clk, "late")
	eventually(t, "a held record waiting for memory", func() bool { return p.pool.Waiters() == 1 })
	return c, p, clk, o, t0
}

// asideBehindAMemoryWait sets the scene of the tests of a record set aside
// while its round waits for memory: record 0, produced at t0, names
// partition 5 of "late"; record 1, keyless, a second later; "late" comes
// with one partition while memory is full, so record 0 is set aside and
// record 1 waits for a batch's memory, each well within its MaxBlock.
func asideBehindAMemoryWait(t *testing.T) (*fakebroker.Cluster, *Producer, *clock.Fake, *outcomes, time.Time) {
	t.Helper()
	c, p, clk, o, t0 := heldPairShortOfMemory(t, &Record{Topic: "late", Partition: 5, ExplicitPartition: true, Value: []byte("names partition 5")})
	require.Equal(t, 1, setAside(p, "late"), "the record for partition 5")
	require.Less(t, clk.Now().Sub(t0), shortOfMemoryMaxBlock-time.Second, "the test's own pace leaves the record time to wait")
	return c, p, clk, o, t0
}

// A record set aside whose partition comes within its MaxBlock, while its
// round still waits for memory, is not failed at its MaxBlock: the drain
// appends it once the round ends, within its DeliveryTimeout. The expiry
// loop failed it at its MaxBlock all the same, told that partition 5 did
// not exist, the topic having 6.
func TestARecordSetAsideWhosePartitionCameOutlivesItsMaxBlock(t *testing.T) {
	c, p, clk, o, t0 := asideBehindAMemoryWait(t)
	require.NoError(t, c.AddPartitions("late", 6))
	awaitPartitions(t, p, clk, "late", 6)
	require.Less(t, clk.Now().Sub(t0), shortOfMemoryMaxBlock, "partition 5 known within the record's MaxBlock")

	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	c.OnProduce(nil) // memory frees as the batches filling it are answered
	eventually(t, "both outcomes", func() bool {
		releasePacing(clk)
		return o.first.Load() == 2
	})
	require.NoError(t, o.one(t, 1).err, "the keyless record")
	require.NoError(t, o.one(t, 0).err, "the record for partition 5, which came within its MaxBlock")
	clk.Advance(shortOfMemoryDeliveryTimeout) // the batches that filled memory settle, for Close
}

// A record set aside after the expiry loop's last pass fails at its
// MaxBlock while a record behind it in its round waits for memory: setting
// it aside wakes the loop, which did not count it at that pass (it waited
// in a round then, behind a record waiting for memory). The loop slept on
// until the next deadline it knew of, the batches' that fill the memory,
// and the record failed only when the round went on, at the DeliveryTimeout
// of the record behind it.
func TestARecordSetAsideAfterTheExpiryLoopsLastPassFailsAtItsMaxBlock(t *testing.T) {
	c, p, clk := shortOfMemoryProducer(t)
	o := newOutcomes(3)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("waits for memory")}, o.cb(0))
	clk.Advance(3 * time.Second)
	named := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 5, ExplicitPartition: true, Value: []byte("names partition 5")}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("waits for memory behind it")}, o.cb(2))
	clk.Advance(time.Second / 2)
	filled := clk.Now()
	fillBufferMemory(t, c, p)
	require.NoError(t, c.CreateTopic("late", 1))
	awaitDrain(t, p, clk, "late")
	eventually(t, "the first record waiting for memory", func() bool { return p.pool.Waiters() == 1 })

	// The loop's pass that finds the round under way (its first, from
	// newProducer, was before t0): it then sleeps until the batches
	// filling the memory expire, past the MaxBlock of the record naming
	// partition 5.
	clk.Advance(t0.Add(shortOfMemoryMaxBlock).Sub(clk.Now()))
	batchesExpire := filled.Add(shortOfMemoryDeliveryTimeout)
	require.True(t, named.Add(shortOfMemoryMaxBlock).Before(batchesExpire))
	eventually(t, "the expiry loop asleep until the batches expire", func() bool {
		return slices.Contains(clk.Deadlines(), batchesExpire)
	})

	// The first record fails at its DeliveryTimeout; the round sets the
	// record for partition 5 aside, and the one behind it waits for memory.
	clk.Advance(t0.Add(shortOfMemoryDeliveryTimeout + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record behind waiting for memory", func() bool {
		return o.first.Load() == 1 && setAside(p, "late") == 1 && p.pool.Waiters() == 1
	})
	require.ErrorIs(t, o.one(t, 0).err, ErrDeliveryTimeout)

	clk.Advance(named.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 2 })
	require.ErrorIs(t, o.one(t, 1).err, ErrInvalidRecord)

	c.OnProduce(nil)
	clk.Advance(shortOfMemoryDeliveryTimeout)
	o.wait(t, "the last record")
}

// A held record whose DeliveryTimeout ended before its turn to be appended
// came (it waited behind a record waiting for the same partition) fails
// with ErrDeliveryTimeout without joining a batch: appended, it would bring
// the batch's deadline forward to one already past, and the records
// appended after it would fail with it. The clock stops at the very
// moment the timeout ends, which is past it, as for a batch (the
// accumulator expires one at its deadline). Taken for not yet past, the
// records failed as if their MaxBlock, 10s off still, had passed.
func TestAHeldRecordPastItsDeliveryTimeoutJoinsNoBatch(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	clk := clock.NewFake(heldClockStart)
	const deliveryTimeout = 10 * time.Second
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout = 20*time.Second, deliveryTimeout, time.Second
	})
	o := newOutcomes(2)
	t0 := clk.Now()
	// Both are held before the topic is known, and the second names the
	// partition the first waits for, so it waits behind it. (A record the
	// partitioner places went on at once: the topic's one partition is not
	// the one the first waits for.)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("waits for its partition")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("waits behind it")}, o.cb(1))
	awaitDrain(t, p, clk, "t")

	clk.Advance(t0.Add(deliveryTimeout).Sub(clk.Now()))
	o.wait(t, "the held records at their DeliveryTimeout")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord, "its partition never came")
	require.ErrorIs(t, err, ErrDeliveryTimeout, "it waited for it until its DeliveryTimeout")
	require.ErrorIs(t, o.one(t, 1).err, ErrDeliveryTimeout)
	require.Zero(t, p.Stats().Batches, "the record behind joined no batch")
	require.Zero(t, p.Stats().BufferedBatches)
}

// A record that waited for its partition brings its DeliveryTimeout, begun
// at Produce, into the batch it joins; the expiry loop, asleep for a full
// timeout since it last looked (it does not count a topic being appended),
// wakes for that earlier deadline, and the batch expires on time. (The
// record waits for a partition added late: a record the partitioner
// places, which this test once held behind it, no longer waits for a
// partition the topic does not have.)
func TestABatchThatAHeldRecordJoinedExpiresAtTheRecordsDeadline(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	clk := clock.NewFake(heldClockStart)
	const deliveryTimeout = 10 * time.Second
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 20*time.Second, deliveryTimeout, time.Second, 5*time.Second
	})
	o := newOutcomes(2)
	// The expiry loop's last pass before the batch exists: when the record
	// of a topic that never appears expires, at t0+DeliveryTimeout. It then
	// sleeps a full DeliveryTimeout.
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("marks the loop's pass")}, o.cb(0))
	clk.Advance(3 * time.Second)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("waits for its partition")}, o.cb(1))
	awaitDrain(t, p, clk, "t")

	clk.Advance(t0.Add(deliveryTimeout).Sub(clk.Now()))
	eventually(t, "the expiry loop's pass at t0+DeliveryTimeout", func() bool { return o.first.Load() == 1 })
	require.ErrorIs(t, o.one(t, 0).err, ErrUnknownTopic)
	// The partition comes, with three seconds of the record's
	// DeliveryTimeout left, and the record joins a batch (Linger keeps it
	// from being sent before its deadline).
	require.NoError(t, c.AddPartitions("t", 2))
	eventually(t, "the record appended once its partition came", func() bool {
		releasePacing(clk)
		return p.Stats().BufferedBatches == 1
	})
	deadline := since.Add(deliveryTimeout)
	require.True(t, clk.Now().Before(deadline), "the test's own pace leaves the record time to wait")
	eventually(t, "the expiry loop waiting for the batch's deadline", func() bool {
		return slices.Contains(clk.Deadlines(), deadline)
	})

	clk.Advance(deadline.Sub(clk.Now()))
	o.wait(t, "the batch at the deadline of the held record in it")
	err := o.one(t, 1).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	// The record waited its whole DeliveryTimeout, counted from its
	// Produce, before the batch was created: the error said "within
	// 2.999s (DeliveryTimeout)", the batch's age.
	require.Contains(t, err.Error(), "within 10s (DeliveryTimeout)")
}

// A record that names the partition just past its topic's last, held
// before the topic's metadata came, is set aside like any record for a
// partition the topic lacks, and fails at its MaxBlock. Taken as fitting
// the topic, it would wait for its partition in its round and hold up
// the records behind it until its DeliveryTimeout.
func TestARecordForThePartitionJustPastTheLastIsSetAsideAndFailsAtItsMaxBlock(t *testing.T) {
	c, p, clk, o, t0 := heldPairShortOfMemory(t, &Record{Topic: "late", Partition: 1, ExplicitPartition: true, Value: []byte("names partition 1")})
	require.Equal(t, 1, setAside(p, "late"), "the record for partition 1, of a topic of one")
	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 1 })
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, `topic "late" partition 1: invalid record: no such partition (the topic has 1)`)
	recordOneFailsAtItsDeliveryTimeout(t, c, clk, o, t0)
}

// A topic whose held records all failed at their MaxBlock is forgotten by
// the held records: otherwise the producer would keep asking for the
// metadata of a topic no record waits for (a mistyped name, for ever).
func TestATopicWhoseHeldRecordsAllExpiredIsForgotten(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "never", Value: []byte("v")}, o.cb(0))
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	o.wait(t, "the record at its MaxBlock")
	require.ErrorIs(t, o.one(t, 0).err, ErrUnknownTopic)
	eventually(t, "the topic forgotten by the held records", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		_, waiting := p.held.waiting.Load("never")
		return len(p.held.topics) == 0 && !waiting
	})
}
