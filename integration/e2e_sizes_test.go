package integration

// Record sizes from 0 bytes to the broker's limit, one byte over it amid
// small records of the same batch (the broker refuses the batch, the producer
// splits it, KIP-126, and only the oversized record fails), and records over
// our own MaxRequestSize (refused at once, before any I/O).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// e2eBrokerMaxBatch is the largest record batch both brokers accept by
// default: Kafka's message.max.bytes (1048588, i.e. 1 MiB plus the 12-byte
// log overhead) and kfake's, which uses the same default and compares it
// with the batch's bytes in the ProduceRequest (kfake 00_produce.go:
// len(rp.Records) > maxMessageBytes); Kafka compares the batch's
// sizeInBytes the same way. The check is "greater than": a batch of exactly
// this size is accepted.
const e2eBrokerMaxBatch = 1048588

// e2eValueForBatch returns a random, incompressible value such that a
// record with this key, the value and no headers makes a batch of exactly
// batchSize bytes on its own.
func e2eValueForBatch(t *testing.T, rng *rand.Rand, key []byte, batchSize int) []byte {
	t.Helper()
	n := batchSize - record.BatchHeaderSize
	for n > 0 && record.BatchHeaderSize+record.RecordSize(0, 0, key, make([]byte, n), nil) > batchSize {
		n--
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	require.Equal(t, batchSize, record.BatchHeaderSize+record.RecordSize(0, 0, key, v, nil),
		"no value makes a batch of exactly %d bytes", batchSize)
	return v
}

func TestE2ERecordSizesUpToBrokerLimit(t *testing.T) {
	seeds := brokers(t)
	topic := newTopic(t, seeds, 1)
	// MaxRequestSize above the broker's limit: the broker is the judge. One
	// request in flight keeps the produce order, which is checked.
	p := newProducer(t, seeds, func(c *producer.Config) {
		c.MaxRequestSize = 2 << 20
		c.MaxInFlight = 1
	})
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}

	var recs []*producer.Record
	for _, n := range []int{0, 1, 2, 63, 64, 127, 128, 1000, 16 << 10, 64<<10 - 100, 64 << 10, 64<<10 + 1, 300_000, 1<<20 - 200} {
		recs = append(recs, &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "size %d", n), Value: random(n)})
	}
	for _, batch := range []int{e2eBrokerMaxBatch - 1000, e2eBrokerMaxBatch - 1, e2eBrokerMaxBatch} {
		key := fmt.Appendf(nil, "batch of %d bytes", batch)
		recs = append(recs, &producer.Record{Topic: topic, Key: key, Value: e2eValueForBatch(t, rng, key, batch)})
	}
	outs := produceAll(t, p, recs)
	requireAllAcked(t, outs)

	got := e2eReadAll(t, seeds, topic, len(recs))
	byOffset := e2eOffsets(got)
	for i, r := range recs {
		what := fmt.Sprintf("record %d (%s, value %d bytes)", i, r.Key, len(r.Value))
		g, ok := byOffset[[2]int64{0, outs[i].md.Offset}]
		if assert.True(t, ok, "%s: nothing stored at offset %d", what, outs[i].md.Offset) {
			e2eSameRecord(t, r, g, what)
		}
		if i > 0 {
			assert.Greater(t, outs[i].md.Offset, outs[i-1].md.Offset, "%s: produce order", what)
		}
	}
}

func TestE2EBrokerRefusesRecordOverItsLimitAmidSmallOnes(t *testing.T) {
	seeds := brokers(t)
	for _, c := range []struct {
		name        string
		maxInFlight int
		bigAt       int  // index of the oversized record among small+1
		keepsOrder  bool // MaxInFlight 1 promises order within a partition
	}{
		{"in the second half", 0, 30, false},
		{"first with one request in flight", 1, 0, true},
		{"early with one request in flight", 1, 7, true},
	} {
		t.Run(c.name, func(t *testing.T) { e2eRefuseAmidSmall(t, seeds, c.maxInFlight, c.bigAt, c.keepsOrder) })
	}
}

func e2eRefuseAmidSmall(t *testing.T, seeds []string, maxInFlight, bigAt int, keepsOrder bool) {
	topic := newTopic(t, seeds, 1)
	// One batch holds everything: it is far below BatchSize, Linger never
	// passes, and Flush sends it. MaxRequestSize leaves the refusal to the
	// broker.
	p := newProducer(t, seeds, func(c *producer.Config) {
		c.BatchSize = 4 << 20
		c.MaxRequestSize = 8 << 20
		c.Linger = 10 * time.Minute
		c.DeliveryTimeout = 15 * time.Minute
		c.MaxInFlight = maxInFlight
	})
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)

	// The small records have every corner a split must keep: null and
	// empty keys, values and header values, and timestamps out of order.
	const small = 40
	var recs []*producer.Record
	for i := range small + 1 {
		if i == bigAt {
			key := []byte("one byte over the broker's limit")
			recs = append(recs, &producer.Record{Topic: topic, Key: key, Value: e2eValueForBatch(t, rng, key, e2eBrokerMaxBatch+1), Timestamp: base})
			continue
		}
		r := &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "small %d", i), Value: fmt.Appendf(nil, "small record %d", i),
			Headers:   []producer.Header{{Key: "i", Value: []byte{byte(i)}}, {Key: "nil", Value: nil}, {Key: "empty", Value: []byte{}}},
			Timestamp: base.Add(time.Duration((i*7919)%1000-500) * time.Millisecond)}
		switch i % 4 {
		case 1:
			r.Key = nil
		case 2:
			r.Key, r.Value = []byte{}, nil
		case 3:
			r.Value = []byte{}
		}
		recs = append(recs, r)
	}

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	o := newOutcomes(len(recs))
	for i, r := range recs {
		p.Produce(ctx, r, o.callback(i))
	}
	require.NoError(t, p.Flush(ctx))
	outs := o.wait(t)

	big := outs[bigAt]
	require.Error(t, big.err, "a record over the broker's limit must fail")
	assert.ErrorIs(t, big.err, kerr.MessageTooLarge, "the broker's MESSAGE_TOO_LARGE must be matchable: %v", big.err)
	var pe *producer.PartitionError
	if assert.ErrorAs(t, big.err, &pe) {
		assert.Equal(t, topic, pe.Topic)
		assert.Equal(t, int32(0), pe.Partition)
	}
	assert.Contains(t, big.err.Error(), "MESSAGE_TOO_LARGE", "the error names the broker's error")
	assert.Equal(t, int64(-1), big.md.Offset, "a failed record has no offset")

	var delivered []*producer.Record
	var deliveredOuts []outcome
	for i, out := range outs {
		if i == bigAt {
			continue
		}
		require.NoError(t, out.err, "record %d shared a batch with the oversized one and must still be delivered", i)
		delivered = append(delivered, recs[i])
		deliveredOuts = append(deliveredOuts, out)
	}
	assert.Positive(t, p.Stats().Splits, "the records were in one batch, so the producer must have split it")

	got := e2eReadAll(t, seeds, topic, len(delivered))
	byOffset := e2eOffsets(got)
	for i, r := range delivered {
		what := fmt.Sprintf("record %q", r.Value)
		g, ok := byOffset[[2]int64{0, deliveredOuts[i].md.Offset}]
		if assert.True(t, ok, "%s: nothing stored at offset %d", what, deliveredOuts[i].md.Offset) {
			e2eSameRecord(t, r, g, what)
		}
	}
	if keepsOrder {
		var stored []string
		for _, g := range got {
			stored = append(stored, string(g.Value))
		}
		var want []string
		for _, r := range delivered {
			want = append(want, string(r.Value))
		}
		assert.Equal(t, want, stored, "with MaxInFlight 1 the records of a partition keep their order, splits included")
	}
}

func TestE2ERecordOverMaxRequestSizeFailsAtOnce(t *testing.T) {
	seeds := brokers(t)
	topic := newTopic(t, seeds, 1)
	const limit = 100_000
	p := newProducer(t, seeds, func(c *producer.Config) { c.MaxRequestSize = limit })
	rng := rand.New(rand.NewPCG(5, 6))

	over := &producer.Record{Topic: topic, Key: []byte("over")}
	over.Value = e2eValueForBatch(t, rng, over.Key, limit+1)
	md, err := e2eProduceNow(t, p, over)
	assert.ErrorIs(t, err, producer.ErrRecordTooLarge)
	var tooLarge *producer.RecordTooLargeError
	if assert.ErrorAs(t, err, &tooLarge) {
		assert.Equal(t, limit+1, tooLarge.Size, "encoded size in its own batch")
		assert.Equal(t, limit, tooLarge.Limit)
		assert.Equal(t, "MaxRequestSize", tooLarge.Of)
	}
	assert.Equal(t, int64(-1), md.Offset)

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	_, err = p.Send(ctx, over)
	assert.ErrorIs(t, err, producer.ErrRecordTooLarge, "Send gives the same error")

	// The producer keeps working, up to a record whose batch is exactly
	// MaxRequestSize: Java's max.request.size bounds the record in its
	// batch the same way, and such a record must still go out.
	at := &producer.Record{Topic: topic, Key: []byte("at the limit")}
	at.Value = e2eValueForBatch(t, rng, at.Key, limit)
	fine := &producer.Record{Topic: topic, Key: []byte("small"), Value: []byte("after the refusals")}
	outs := produceAll(t, p, []*producer.Record{at, fine})
	requireAllAcked(t, outs)
	got := e2eReadAll(t, seeds, topic, 2)
	e2eSameRecord(t, at, got[0], "record at MaxRequestSize")
	e2eSameRecord(t, fine, got[1], "small record")
	assert.False(t, errors.Is(outs[1].err, producer.ErrRecordTooLarge))
}

// TestE2ECompressedBatchOverBrokerLimitIsSplit fills one gzip batch with
// incompressible records that each fit the broker's limit but together do
// not: the broker refuses the compressed batch, and after the producer's
// splits every record must be delivered intact.
func TestE2ECompressedBatchOverBrokerLimitIsSplit(t *testing.T) {
	seeds := brokers(t)
	topic := newTopic(t, seeds, 1)
	p := newProducer(t, seeds, func(c *producer.Config) {
		c.Compression = compression.Gzip
		c.BatchSize = 4 << 20
		c.MaxRequestSize = 8 << 20
		c.Linger = 10 * time.Minute
		c.DeliveryTimeout = 15 * time.Minute
		c.MaxInFlight = 1
	})
	rng := rand.New(rand.NewPCG(9, 10))
	var recs []*producer.Record
	for i := range 6 {
		key := fmt.Appendf(nil, "incompressible %d", i)
		recs = append(recs, &producer.Record{Topic: topic, Key: key, Value: e2eValueForBatch(t, rng, key, 300_000+i)})
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	o := newOutcomes(len(recs))
	for i, r := range recs {
		p.Produce(ctx, r, o.callback(i))
	}
	require.NoError(t, p.Flush(ctx))
	outs := o.wait(t)
	requireAllAcked(t, outs)
	assert.Positive(t, p.Stats().Splits, "1.8 MB of incompressible records in one batch must have been split")

	got := e2eReadAll(t, seeds, topic, len(recs))
	for i, r := range recs {
		assert.Equal(t, outs[i].md.Offset, got[i].Offset, "record %d: offset (produce order, one request in flight)", i)
		e2eSameRecord(t, r, got[i], fmt.Sprintf("record %d", i))
	}
}
