package integration

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer/integration/readback"
)

// written is what the readback tests produce with kgo: nil and empty keys,
// values and header values, on two partitions.
func written(base time.Time) []*kgo.Record {
	big := bytes.Repeat([]byte("compressible "), 400)
	ts := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
	return []*kgo.Record{
		{Partition: 0, Key: nil, Value: []byte("null key"), Timestamp: ts(0)},
		{Partition: 0, Key: []byte{}, Value: []byte("empty key"), Timestamp: ts(1)},
		{Partition: 0, Key: []byte("null value"), Value: nil, Timestamp: ts(2)},
		{Partition: 0, Key: []byte("empty value"), Value: []byte{}, Timestamp: ts(3)},
		{Partition: 1, Key: []byte("headers"), Value: []byte("v"), Timestamp: ts(4), Headers: []kgo.RecordHeader{
			{Key: "text", Value: []byte("x")},
			{Key: "null", Value: nil},
			{Key: "empty", Value: []byte{}},
		}},
		{Partition: 1, Key: []byte("big"), Value: big, Timestamp: ts(5)},
	}
}

func produceWithKgo(t *testing.T, seeds []string, topic string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.GzipCompression()),
	)
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

func TestReadAll(t *testing.T) {
	seeds := brokers(t)
	topic := newTopic(t, seeds, 2)
	// A minute back: brokers may refuse timestamps too far ahead.
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	want := written(base)
	produceWithKgo(t, seeds, topic, want)

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, len(want))
	require.NoError(t, err)
	require.Len(t, got, len(want))

	offsets := map[int32]int64{}
	for i, w := range want {
		g := got[i]
		assert.Equal(t, w.Partition, g.Partition, "record %d: partition", i)
		assert.Equal(t, offsets[w.Partition], g.Offset, "record %d: offset", i)
		offsets[w.Partition]++
		sameBytes(t, w.Key, g.Key, fmt.Sprintf("record %d: key", i))
		sameBytes(t, w.Value, g.Value, fmt.Sprintf("record %d: value", i))
		assert.Equal(t, w.Timestamp.UnixMilli(), g.Timestamp.UnixMilli(), "record %d: timestamp", i)
		require.Len(t, g.Headers, len(w.Headers), "record %d: headers", i)
		for j, h := range w.Headers {
			assert.Equal(t, h.Key, g.Headers[j].Key, "record %d: header %d key", i, j)
			sameBytes(t, h.Value, g.Headers[j].Value, fmt.Sprintf("record %d: header %s", i, h.Key))
		}
		assert.GreaterOrEqual(t, g.ProducerID, int64(0), "record %d: kgo produces idempotently by default", i)
		if w.Partition == 1 {
			assert.Equal(t, uint8(1), g.Compression, "record %d: gzip batch", i)
		}
	}

	t.Run("reads past expect to the end", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		got, err := readback.ReadAll(ctx, seeds, topic, 1)
		require.NoError(t, err)
		assert.Len(t, got, len(want), "records beyond expect (duplicates, say) must be returned")
	})

	t.Run("says how many it read", func(t *testing.T) {
		// The read expecting more than there are ends once every record
		// was returned, at its next poll: a deadline instead would count
		// what a loaded machine fetched in time.
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		allPolled := &cancelAfterPolled{want: len(want), cancel: cancel}
		got, err := readback.ReadAll(ctx, seeds, topic, len(want)+4, kgo.WithHooks(allPolled))
		require.ErrorIs(t, err, context.Canceled, "the read ends once the %d records were returned", len(want))
		assert.Contains(t, err.Error(), "read 6 of 10 expected records")
		assert.Len(t, got, len(want), "what was read is returned with the error")
	})
}

// cancelAfterPolled calls cancel at the first poll to start once want
// records were returned: ReadAll polls again only after taking in what the
// poll before returned.
type cancelAfterPolled struct {
	polled atomic.Int64
	want   int
	cancel context.CancelFunc
}

func (c *cancelAfterPolled) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if polled && !r.Attrs.IsControl() {
		c.polled.Add(1)
	}
}

func (c *cancelAfterPolled) OnPollStart(context.Context) {
	if c.polled.Load() >= int64(c.want) {
		c.cancel()
	}
}

func TestReadAllEmptyTopic(t *testing.T) {
	seeds := brokers(t)
	topic := newTopic(t, seeds, 3)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
}
