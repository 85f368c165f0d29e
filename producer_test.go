package producer

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/internal/testdeadline"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/record"
)

func TestSendReturnsOffsets(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.Acks, cfg.DisableIdempotence = AcksLeader, true })
	for i := 0; i < 3; i++ {
		md, err := p.Send(ctx(t), &Record{Topic: "t", Key: []byte("k"), Value: []byte("value")})
		require.NoError(t, err)
		require.Equal(t, "t", md.Topic)
		require.Equal(t, int32(0), md.Partition)
		require.Equal(t, int64(i), md.Offset)
		require.Equal(t, 1, md.SerializedKeySize)
		require.Equal(t, 5, md.SerializedValueSize)
	}
	require.Len(t, c.Records("t", 0), 3)
}

// Many goroutines producing at once: every record gets exactly one
// callback, whose offset is where the fake stored that very record, and
// each goroutine's records keep their order within a partition.
func TestProduceConcurrentExactlyOnceAndInOrder(t *testing.T) {
	const goroutines, perG = 50, 2000
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 6}, KeepRecords: true})
	p := newProducer(t, c, nil)
	o := newOutcomes(goroutines * perG)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				p.Produce(context.Background(), &Record{Topic: "t", Value: value(g, i)}, o.cb(g*perG+i))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "after Flush")

	logs := make([][]fakebroker.Record, 6)
	total := 0
	for part := range logs {
		logs[part] = c.Records("t", int32(part))
		total += len(logs[part])
	}
	require.Equal(t, goroutines*perG, total, "the fake holds every record once")
	for g := 0; g < goroutines; g++ {
		for i := 0; i < perG; i++ {
			out := o.one(t, g*perG+i)
			require.NoError(t, out.err)
			log := logs[out.md.Partition]
			require.Less(t, out.md.Offset, int64(len(log)))
			require.Equal(t, value(g, i), log[out.md.Offset].Value, "record g%d/%d: its offset holds another record", g, i)
		}
	}
	for part, log := range logs {
		last := map[string][]byte{}
		for _, r := range log {
			g := string(r.Value[:4])
			require.True(t, last[g] == nil || bytes.Compare(last[g], r.Value) < 0, "partition %d: %s after %s", part, r.Value, last[g])
			last[g] = r.Value
		}
	}
}

func TestKeyedRecordsLandOnTheirKeyPartition(t *testing.T) {
	const partitions = 7
	c := startCluster(t, fakebroker.Options{Nodes: 3, Topics: map[string]int32{"t": partitions}, KeepRecords: true})
	p := newProducer(t, c, nil)
	o := newOutcomes(200)
	for i := 0; i < 200; i++ {
		p.Produce(ctx(t), &Record{Topic: "t", Key: value(0, i), Value: value(1, i)}, o.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "keyed records")
	for i := 0; i < 200; i++ {
		out := o.one(t, i)
		require.NoError(t, out.err)
		want := partitioner.KeyPartition(value(0, i), partitions)
		require.Equal(t, want, out.md.Partition, "key %s", value(0, i))
		stored := c.Records("t", want)[out.md.Offset]
		require.Equal(t, value(0, i), stored.Key)
	}
}

func TestExplicitPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 500 * time.Millisecond })
	awaitMetadata(t, p, "t")

	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("x"), Partition: 3, ExplicitPartition: true})
	require.NoError(t, err)
	require.Equal(t, int32(3), md.Partition)
	require.Equal(t, []byte("x"), c.Records("t", 3)[0].Value)

	// Out of range: the record waits MaxBlock for the partition, which does
	// not come; the callback says so.
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("y"), Partition: 4, ExplicitPartition: true})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.Equal(t, 1, strings.Count(err.Error(), "partition 4"), "the partition named once: %v", err)
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "t", pe.Topic)

	// Negative: rejected before Produce returns, whatever the metadata.
	called := false
	p.Produce(ctx(t), &Record{Topic: "t", Partition: -1, ExplicitPartition: true}, func(_ RecordMetadata, err error) {
		called = true
		require.ErrorIs(t, err, ErrInvalidRecord)
	})
	require.True(t, called, "a negative partition must fail at once")

	md, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("z"), Partition: 0, ExplicitPartition: true})
	require.NoError(t, err, "the producer keeps working")
	require.Equal(t, int32(0), md.Partition)
}

// A partition added after the producer cached the topic is waited for, as
// the Java client's send waits for it, instead of failing until the next
// periodic refresh. Records of the topic's other partitions do not wait
// behind it; a later one for the same partition does, and keeps its order.
func TestExplicitPartitionAddedLaterIsWaitedFor(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p := newProducer(t, c, nil)
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("new"), Partition: 3, ExplicitPartition: true}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("new too"), Partition: 3, ExplicitPartition: true}, o.cb(1))
	for _, r := range []*Record{
		{Topic: "t", Value: []byte("other"), Partition: 0, ExplicitPartition: true},
		{Topic: "t", Value: []byte("placed")},
	} {
		_, err = p.Send(ctx(t), r)
		require.NoError(t, err, "a record for a partition the topic has goes at once")
	}
	require.False(t, o.done(), "the records wait for their partition")
	require.NoError(t, c.AddPartitions("t", 4))
	o.wait(t, "records once the partition exists")
	require.NoError(t, o.one(t, 0).err)
	require.NoError(t, o.one(t, 1).err)
	written := c.Records("t", 3)
	require.Len(t, written, 2)
	require.Equal(t, []byte("new"), written[0].Value)
	require.Equal(t, []byte("new too"), written[1].Value, "in the order produced")
}

// producerWaitingLong is a producer that knows topic "t", of partitions
// partitions, and lets a record wait for a partition longer than any test.
func producerWaitingLong(t *testing.T, partitions int32) *Producer {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": partitions}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = time.Hour; cfg.DeliveryTimeout = 2 * time.Hour })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	return p
}

// One record for a partition the topic does not have holds up no other
// partition's records, even with MaxBlock as long as the test: they used
// to wait behind it until it failed.
func TestAMissingPartitionHoldsUpNoOtherPartition(t *testing.T) {
	p := producerWaitingLong(t, 2)
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("typo"), Partition: 7, ExplicitPartition: true}, o.cb(0))
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("good"), Partition: 1, ExplicitPartition: true})
	require.NoError(t, err, "a record for partition 1 waited behind one for partition 7")
	require.Equal(t, int32(1), md.Partition)
	_, err = p.Send(ctx(t), &Record{Topic: "t", Key: []byte("k"), Value: []byte("keyed")})
	require.NoError(t, err, "a keyed record waited behind one for partition 7")
	require.False(t, o.done(), "the record for partition 7 still waits for it")

	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed, "the record for partition 7 at Close")
}

// Close whose ctx ends while a held record's drain waits for a partition
// the topic does not have fails that record, once, with ErrClosed, as
// Close promises for what is left: it failed as an invalid record, as if
// its wait had ended.
func TestCloseEndingAWaitForAPartitionFailsTheRecordAsClosed(t *testing.T) {
	p := producerWaitingLong(t, 1)
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v"), Partition: 3, ExplicitPartition: true}, o.cb(0))
	eventually(t, "the drain to wait for partition 3", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["t"]
		return wt != nil && wt.draining && len(wt.aside) == 1 && wt.stopAppend != nil
	})
	closing, cancel := context.WithCancel(context.Background())
	cancel() // nothing left to wait for but the held record
	_ = p.Close(closing)
	o.wait(t, "the held record")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrClosed)
	require.NotErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "partition 3 of t")
}

func TestInvalidTopicNamesFailAtOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, nil)
	long := string(bytes.Repeat([]byte("a"), 250))
	for _, name := range []string{"", ".", "..", "a/b", "spaces here", "é", long} {
		called := false
		p.Produce(ctx(t), &Record{Topic: name, Value: []byte("v")}, func(md RecordMetadata, err error) {
			called = true
			require.ErrorIs(t, err, ErrInvalidRecord, "topic %q", name)
			require.Equal(t, int64(-1), md.Offset)
		})
		require.True(t, called, "topic %q: the callback must run before Produce returns", name)
	}
}

// ValidateTopicName refuses, before any producer exists, the names Produce
// refuses (TestInvalidTopicNamesFailAtOnce), saying why, and takes the
// others.
func TestValidateTopicNameRefusesTheNamesProduceRefuses(t *testing.T) {
	long := string(bytes.Repeat([]byte("a"), 250))
	for _, name := range []string{"", ".", "..", "a/b", "spaces here", "é", long} {
		require.Error(t, ValidateTopicName(name), "topic %q", name)
	}
	require.EqualError(t, ValidateTopicName("bad/topic"), "topic name has '/'; allowed are ASCII letters, digits, '.', '_' and '-'", "the reason alone: the caller has the name")
	for _, name := range []string{"t", "a.b_c-D9", "...", long[:249]} {
		require.NoError(t, ValidateTopicName(name), "topic %q", name)
	}
}

// The error of an invalid topic name names the topic once: the
// *PartitionError names it, and the reason under it does not again.
func TestAnInvalidTopicNameIsNamedOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, nil)
	_, partitionsFor := p.PartitionsFor(ctx(t), "bad name")
	_, send := p.Send(ctx(t), &Record{Topic: "bad name"})
	var produce error
	p.Produce(ctx(t), &Record{Topic: "bad name"}, func(_ RecordMetadata, err error) { produce = err })
	for call, err := range map[string]error{"PartitionsFor": partitionsFor, "Send": send, "Produce": produce} {
		require.ErrorIs(t, err, ErrInvalidRecord, call)
		require.ErrorContains(t, err, "topic name has ' '", call)
		require.Equal(t, 1, strings.Count(err.Error(), `"bad name"`), "%s: %v", call, err)
	}
}

func TestRecordTooLargeFailsAtOnceWithSizes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	check := func(p *Producer, size int, of string, limit int) {
		t.Helper()
		called := false
		p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, size)}, func(_ RecordMetadata, err error) {
			called = true
			require.ErrorIs(t, err, ErrRecordTooLarge)
			var tl *RecordTooLargeError
			require.ErrorAs(t, err, &tl)
			require.Equal(t, of, tl.Of)
			require.Equal(t, limit, tl.Limit)
			require.Greater(t, tl.Size, size, "the encoded size includes the batch header")
		})
		require.True(t, called, "a record too large must fail before Produce returns")
		md, err := p.Send(ctx(t), &Record{Topic: "t", Value: make([]byte, 1000)})
		require.NoError(t, err, "other records are unaffected")
		require.GreaterOrEqual(t, md.Offset, int64(0))
	}
	small := newProducer(t, c, func(cfg *Config) {
		cfg.MaxRequestSize = 10 << 10
		cfg.BatchSize = 16 << 10
		cfg.BufferMemory = 64 << 10
	})
	check(small, 20<<10, "MaxRequestSize", 10<<10)
	// At the limit exactly, the quick bound of the size is above it and the
	// exact size decides: the record fits, one byte more does not.
	fits := 10<<10 - record.BatchHeaderSize - record.MaxRecordOverhead
	for record.BatchHeaderSize+record.RecordSize(0, 0, nil, make([]byte, fits+1), nil) <= 10<<10 {
		fits++
	}
	_, err := small.Send(ctx(t), &Record{Topic: "t", Value: make([]byte, fits)})
	require.NoError(t, err, "a record of exactly MaxRequestSize")
	check(small, fits+1, "MaxRequestSize", 10<<10)
	lowMemory := newProducer(t, c, func(cfg *Config) {
		cfg.MaxRequestSize = 1 << 20
		cfg.BatchSize = 16 << 10
		cfg.BufferMemory = 64 << 10
	})
	check(lowMemory, 100<<10, "BufferMemory", 64<<10)
}

// Nil and empty keys, values and header values are different things in
// Kafka (a nil value is a tombstone); all must reach the broker as given.
func TestNilAndEmptyBytesAndHeadersArePreserved(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	headers := []Header{{Key: "a", Value: []byte("1")}, {Key: "nil", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "a", Value: []byte("2")}}
	recs := []*Record{
		{Topic: "t", Key: nil, Value: nil},
		{Topic: "t", Key: []byte{}, Value: []byte{}},
		{Topic: "t", Key: []byte("k"), Value: nil, Headers: headers},
		{Topic: "t", Key: nil, Value: []byte("v")},
	}
	for _, r := range recs {
		r.Partition, r.ExplicitPartition = 0, true
		md, err := p.Send(ctx(t), r)
		require.NoError(t, err)
		require.Equal(t, sizeOrNil(r.Key), md.SerializedKeySize)
		require.Equal(t, sizeOrNil(r.Value), md.SerializedValueSize)
	}
	stored := c.Records("t", 0)
	require.Len(t, stored, len(recs))
	for i, r := range recs {
		require.Equal(t, r.Key == nil, stored[i].Key == nil, "record %d key nil-ness", i)
		require.Equal(t, r.Value == nil, stored[i].Value == nil, "record %d value nil-ness", i)
		require.Equal(t, string(r.Key), string(stored[i].Key))
		require.Equal(t, string(r.Value), string(stored[i].Value))
	}
	got := stored[2].Headers
	require.Len(t, got, 4, "headers keep their order, duplicates included")
	for i, h := range headers {
		require.Equal(t, h.Key, got[i].Key)
		require.Equal(t, h.Value == nil, got[i].Value == nil, "header %d nil-ness", i)
		require.Equal(t, string(h.Value), string(got[i].Value))
	}
}

func sizeOrNil(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

func TestTimestamps(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	before := time.Now().UnixMilli()
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("now")})
	after := time.Now().UnixMilli()
	require.NoError(t, err)
	ts := c.Records("t", 0)[0].Timestamp
	require.GreaterOrEqual(t, ts, before, "a zero Timestamp means now")
	require.LessOrEqual(t, ts, after)
	require.Equal(t, ts, md.Timestamp.UnixMilli())

	explicit := time.UnixMilli(1_234_567_890_123)
	md, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("then"), Timestamp: explicit})
	require.NoError(t, err)
	require.Equal(t, explicit.UnixMilli(), c.Records("t", 0)[1].Timestamp)
	require.True(t, md.Timestamp.Equal(explicit))
}

// With acks=0 the broker never answers: offsets are unknown (-1), yet the
// records arrive.
func TestAcksNoneDeliversWithoutOffsets(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.Acks, cfg.DisableIdempotence = AcksNone, true })
	o := newOutcomes(100)
	for i := 0; i < 100; i++ {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "acks=0")
	for i := 0; i < 100; i++ {
		out := o.one(t, i)
		require.NoError(t, out.err)
		require.Equal(t, int64(-1), out.md.Offset)
	}
	eventually(t, "the fake holds all 100 records", func() bool { return c.ProduceCount() == 100 })
}

// Every codec's batches must decode on the broker side, records intact;
// two topics share each request.
func TestCompressedBatchesReachTheBroker(t *testing.T) {
	for _, codec := range []compression.Codec{compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"a": 1, "b": 1}, KeepRecords: true})
			p := newProducer(t, c, func(cfg *Config) { cfg.Compression = codec })
			const n = 500
			o := newOutcomes(2 * n)
			for i := 0; i < n; i++ {
				p.Produce(ctx(t), &Record{Topic: "a", Key: value(0, i), Value: value(1, i)}, o.cb(i))
				p.Produce(ctx(t), &Record{Topic: "b", Value: value(2, i)}, o.cb(n+i))
			}
			require.NoError(t, p.Flush(ctx(t)))
			o.wait(t, codec.String())
			a, b := c.Records("a", 0), c.Records("b", 0)
			require.Len(t, a, n)
			require.Len(t, b, n)
			for i := 0; i < n; i++ {
				require.Equal(t, value(0, i), a[i].Key)
				require.Equal(t, value(1, i), a[i].Value)
				require.Equal(t, value(2, i), b[i].Value)
			}
			st := p.Stats()
			require.Less(t, st.CompressedBytes, st.UncompressedBytes, "%v compressed nothing", codec)
		})
	}
}

// With the broker stuck and memory used up, Produce waits MaxBlock for
// memory and then fails with ErrBufferFull.
func TestBufferFullAfterMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize = 16 << 10
		cfg.BufferMemory = 64 << 10
		cfg.MaxBlock = 200 * time.Millisecond
	})
	awaitMetadata(t, p, "t")
	var err error
	errs := make(chan error, 200)
	for i := 0; i < 100 && err == nil; i++ {
		p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, 4000)}, func(_ RecordMetadata, e error) { errs <- e })
		select {
		case err = <-errs:
		default:
		}
	}
	require.ErrorIs(t, err, ErrBufferFull, "100 records of 4 kB cannot fit 64 kB")
	require.Regexp(t, `^producer: topic "t" partition 0: waiting for buffer memory: buffer full: \d+ bytes did not free up within MaxBlock \(200ms\); BufferMemory is 65536 bytes, \d+ free$`, err.Error(),
		"the error speaks of the producer's settings, not of the buffer pool")
	closeCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.Error(t, p.Close(closeCtx), "the broker never answers")
}

// A partitioner that picks a partition the topic does not have fails that
// record at once, naming what it chose, and not the records after it.
func TestPartitionerChoosingAMissingPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner = partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
			switch string(key) {
			case "astray":
				return 7
			case "below":
				return -3
			}
			return 1
		})
	})
	_, err := p.Send(ctx(t), &Record{Topic: "t", Key: []byte("astray"), Value: []byte("x")})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "the partitioner chose a partition the topic does not have (it has 2)")
	require.Equal(t, 1, strings.Count(err.Error(), "7"), "the partition named once: %v", err)
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "t", pe.Topic)
	require.Equal(t, int32(7), pe.Partition)

	// A negative choice, which the PartitionError's words leave out, is
	// named by the words under it.
	_, err = p.Send(ctx(t), &Record{Topic: "t", Key: []byte("below"), Value: []byte("x")})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "the partitioner chose -3, not a partition of the topic (it has 2)")

	md, err := p.Send(ctx(t), &Record{Topic: "t", Key: []byte("k"), Value: []byte("y")})
	require.NoError(t, err, "the producer keeps working")
	require.Equal(t, int32(1), md.Partition)
}

func TestNilRecordFailsWithoutPanic(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), nil)
	require.ErrorIs(t, err, ErrInvalidRecord)
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("still works")})
	require.NoError(t, err)
}

// A timestamp before 1970 is refused, as the Java client refuses it: Kafka
// reads -1 as no timestamp, and keeps earlier ones as they are. 1970 itself
// goes.
func TestATimestampBefore1970IsRefused(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	for _, ms := range []int64{-1, -86_400_000} {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: time.UnixMilli(ms)})
		require.ErrorIs(t, err, ErrInvalidRecord, "timestamp %d ms", ms)
	}
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("epoch"), Timestamp: time.UnixMilli(0)})
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Timestamp.UnixMilli())
	require.Len(t, c.Records("t", 0), 1, "only the record stamped 1970 is stored")
}

// A timestamp whose milliseconds since 1970 do not fit an int64 (from
// about year 292,277,026 on) is refused as out of range. Before,
// time.Time.UnixMilli wrapped: year 600,000,000 was stored as year
// 15,445,950 without an error, and year 300,000,000 was refused as before
// 1970. So is one as far before 1970; one before 1970 that fits is
// refused as before 1970, and the latest millisecond that fits, and year
// 9999, go.
func TestATimestampPastWhatMillisecondsHoldIsRefusedAsOutOfRange(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	const lastSecond = math.MaxInt64 / 1000
	for _, ts := range []time.Time{
		time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(600_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(lastSecond+1, 0),
		time.Unix(lastSecond, 808e6), // one millisecond past math.MaxInt64
		time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: ts})
		require.ErrorIs(t, err, ErrInvalidRecord, "timestamp %v", ts)
		require.ErrorContains(t, err, "is out of range: its milliseconds since 1970 do not fit an int64", "timestamp %v", ts)
		require.NotContains(t, err.Error(), "before 1970")
	}
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.ErrorContains(t, err, "is before 1970 (-2208988800000 ms)")
	for _, ts := range []time.Time{time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), time.UnixMilli(math.MaxInt64)} {
		md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: ts})
		require.NoError(t, err, "timestamp %v", ts)
		require.True(t, md.Timestamp.Equal(ts), "stamped %v, stored as %v", ts, md.Timestamp)
	}
	require.Len(t, c.Records("t", 0), 2, "only the records in range are stored")
}

// PartitionsFor gives up on a topic whose metadata does not come within
// MaxBlock, as the Java client's partitionsFor does: with
// context.Background() it waited for ever.
func TestPartitionsForGivesUpAfterMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock = time.Minute
	})
	done := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(context.Background(), "never")
		done <- err
	}()
	var err error
	eventually(t, "PartitionsFor to give up", func() bool {
		select {
		case err = <-done:
			return true
		default:
			clk.Advance(time.Minute)
			return false
		}
	})
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, "MaxBlock")
}

func TestPartitionsForWaitsForMetadata(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"known": 4}})
	p := newProducer(t, c, nil)
	n, err := p.PartitionsFor(ctx(t), "known")
	require.NoError(t, err)
	require.Equal(t, 4, n)

	done := make(chan error, 1)
	go func() {
		n, err := p.PartitionsFor(ctx(t), "later")
		if err == nil && n != 3 {
			err = fmt.Errorf("got %d partitions, want 3", n)
		}
		done <- err
	}()
	require.NoError(t, c.CreateTopic("later", 3))
	require.NoError(t, receive(t, done, "PartitionsFor did not see a topic created after the call"))

	short, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	_, err = p.PartitionsFor(short, "never")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// A topic nobody waits for any more is not asked for again: a refresh
	// that asks for "probe", wanted only after "never" was given up, leaves
	// "never" out. (A refresh built before that may still be on its way.)
	var probed, again atomic.Bool
	c.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		var probe, never bool
		for _, t := range req.Topics {
			if t.Name != nil {
				probe = probe || *t.Name == "probe"
				never = never || *t.Name == "never"
			}
		}
		if probe {
			probed.Store(true)
			again.CompareAndSwap(false, never)
		}
		return fakebroker.Action{}
	})
	require.NoError(t, c.CreateTopic("probe", 1))
	_, err = p.PartitionsFor(ctx(t), "probe")
	require.NoError(t, err)
	require.True(t, probed.Load())
	require.False(t, again.Load(), "a topic nobody waits for any more is asked for again")
	// An invalid name fails at once, naming the topic as PartitionsFor's
	// other errors do (it was a bare ErrInvalidRecord).
	_, err = p.PartitionsFor(ctx(t), "bad name")
	require.ErrorIs(t, err, ErrInvalidRecord)
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, PartitionError{Topic: "bad name", Partition: -1, Err: pe.Err}, *pe)
}

// Send's ctx ending before the acknowledgement is said in the user's
// words, and still matches the context's error. The deadline passes when
// the request reaches the broker, which answers only once Send has
// returned: a deadline set in time could pass before Send looked at its
// ctx, on a goroutine slow to be scheduled, and the record would not be
// sent at all.
func TestSendContextEndsInTheUsersWords(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	short := testdeadline.New(time.Time{})
	sendReturned := make(chan struct{})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		short.Pass()
		select {
		case <-sendReturned:
		case <-time.After(waitFor):
		}
		return fakebroker.Action{}
	})
	p := newProducer(t, c, nil)
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	_, err = p.Send(short, &Record{Topic: "t", Value: []byte("v")})
	close(sendReturned)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ErrMaybeWritten, "a record that may still be written is not certainly unwritten")
	require.Equal(t, `producer: topic "t": waiting for the acknowledgement: context deadline exceeded (the record may still be written)`, err.Error())
}

// ClientID is what the producer was configured with, or the default: what
// a metrics hook, told of the producer in OnNewProducer, names it by.
func TestClientIDIsTheConfiguredOneOrTheDefault(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	require.Equal(t, DefaultClientID, newProducer(t, c, nil).ClientID())
	named := newProducer(t, c, func(cfg *Config) { cfg.ClientID = "billing" })
	require.Equal(t, "billing", named.ClientID())
}

// A record waiting for buffer memory makes every batch ready, Linger or
// not: memory comes back only once batches are sent. The senders are woken
// when it starts to wait. Before, they slept until the lingering batch's
// Linger passed, and with a Linger as long as MaxBlock the record failed
// with ErrBufferFull though sending would have freed the memory at once.
func TestARecordWaitingForMemoryWakesTheSenders(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize = 16 << 10
		cfg.BufferMemory = 16 << 10 // one batch holds it all
		cfg.Linger = 10 * time.Minute
		cfg.MaxBlock = 10 * time.Minute
		cfg.DeliveryTimeout = time.Hour
	})
	_, err := p.PartitionsFor(ctx(t), "t") // the records do not wait for metadata
	require.NoError(t, err)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("lingers"), Partition: 0, ExplicitPartition: true}, o.cb(0))
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("waits for memory"), Partition: 1, ExplicitPartition: true}, o.cb(1))
	}()
	receive(t, appended, fmt.Sprintf("Produce still waits for the memory of a batch lingering for %v", p.cfg.Linger))
	require.NoError(t, o.one(t, 0).err, "the lingering batch was sent")
	require.NoError(t, p.Flush(ctx(t)))
	require.NoError(t, o.one(t, 1).err)
}

// A record for the partition just past a known topic's last waits for it,
// as for any partition the topic lacks, and goes once it is added: taken
// as one the topic has, it would go to a batch no leader leads.
func TestARecordForThePartitionJustPastTheLastWaitsForIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock, cfg.DeliveryTimeout = time.Hour, 2*time.Hour })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	require.False(t, o.done(), "the record waits for partition 2")
	require.NoError(t, c.AddPartitions("t", 3))
	o.wait(t, "the record once partition 2 exists")
	require.NoError(t, o.one(t, 0).err)
	require.Len(t, c.Records("t", 2), 1)
}

// A negative explicit partition is refused at once, in Produce, whether or
// not the topic is known: no partition will ever have that number, so
// waiting for one would only delay the error until MaxBlock.
func TestANegativePartitionIsRefusedAtOnce(t *testing.T) {
	p := producerWaitingLong(t, 2)
	for _, topic := range []string{"t", "unknown"} {
		for _, partition := range []int32{-1, -2} {
			var got error
			called := false
			p.Produce(ctx(t), &Record{Topic: topic, Partition: partition, ExplicitPartition: true, Value: []byte("v")}, func(_ RecordMetadata, err error) { called, got = true, err })
			require.True(t, called, "topic %s, partition %d: the callback ran in Produce", topic, partition)
			require.ErrorIs(t, got, ErrInvalidRecord, "topic %s, partition %d", topic, partition)
			require.ErrorContains(t, got, fmt.Sprintf("negative partition %d", partition), "topic %s", topic)
		}
	}
}

// A record refused at once keeps the partition it named in the metadata
// its callback gets, as RecordMetadata's doc says: a callback logging where
// a failed record was going must not read -1 for it.
func TestARefusedRecordsMetadataKeepsItsExplicitPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, nil)
	require.NoError(t, p.Close(ctx(t)))
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(1))
	o.wait(t, "the records refused after Close")
	require.ErrorIs(t, o.one(t, 0).err, ErrClosed)
	require.Equal(t, int32(3), o.one(t, 0).md.Partition, "the partition the record named")
	require.Equal(t, int32(-1), o.one(t, 1).md.Partition, "a record that named none")
}

// PartitionsFor after Close fails with ErrClosed, also for a topic whose
// metadata the producer has: a closed producer's count could be stale, and
// every other call says so after Close.
func TestPartitionsForAfterCloseFailsWithErrClosed(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, nil)
	n, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.NoError(t, p.Close(ctx(t)))
	_, err = p.PartitionsFor(ctx(t), "t")
	require.ErrorIs(t, err, ErrClosed)
}
