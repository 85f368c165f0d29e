package producer

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/internal/testdeadline"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
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
