package integration

// Bad input gets a clear error of its own, never a panic, and does not
// disturb the records around it: invalid topic names, negative explicit
// partitions, partitions beyond the topic's count, records after Close.
//
// Header keys: the protocol's header key is a non-nullable string and Go's
// producer.Header.Key is a string, so a nil header key cannot be expressed.
// The one corner left, the empty key, is valid (Java accepts it too) and
// must travel as "".

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
)

func TestE2EBadInput(t *testing.T) {
	const partitions = 3
	seeds := brokers(t)
	topic := newTopic(t, seeds, partitions)
	// A record for a partition the topic lacks waits MaxBlock for it (it
	// may be being added), then fails: keep that wait short.
	p := newProducer(t, seeds, func(c *producer.Config) { c.MaxBlock = time.Second })
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	badNames := []string{
		"", ".", "..", "has space", "slash/ed", "colon:", "star*", "tab\t", "ünïcode", "new\nline",
		strings.Repeat("x", 250),
	}
	negative := []int32{-1, -2, -1 << 31}
	beyond := []int32{partitions, partitions + 1, 1 << 30}

	// Every bad record is followed by a good one, produced asynchronously;
	// at the end all good ones must be stored, and nothing else.
	var good []*producer.Record
	o := newOutcomes(len(badNames) + len(negative) + len(beyond))
	produceGood := func(what string) {
		r := &producer.Record{Topic: topic, Partition: int32(len(good) % partitions), ExplicitPartition: true,
			Key: []byte(what), Value: fmt.Appendf(nil, "good record after %s", what),
			Headers: []producer.Header{{Key: "", Value: []byte("empty header key")}, {Key: "after", Value: []byte(what)}}}
		p.Produce(ctx, r, o.callback(len(good)))
		good = append(good, r)
	}

	t.Run("invalid topic names", func(t *testing.T) {
		for _, name := range badNames {
			what := fmt.Sprintf("topic %q", name)
			r := &producer.Record{Topic: name, Value: []byte("v")}
			md, err := e2eProduceNow(t, p, r)
			assert.ErrorIs(t, err, producer.ErrInvalidRecord, what)
			var pe *producer.PartitionError
			if assert.ErrorAs(t, err, &pe, what) {
				assert.Equal(t, name, pe.Topic, what)
			}
			assert.Equal(t, int64(-1), md.Offset, what)
			_, err = p.Send(ctx, r)
			assert.ErrorIs(t, err, producer.ErrInvalidRecord, "Send, %s", what)
			produceGood(what)
		}
	})

	t.Run("negative explicit partitions", func(t *testing.T) {
		for _, part := range negative {
			what := fmt.Sprintf("partition %d", part)
			r := &producer.Record{Topic: topic, Partition: part, ExplicitPartition: true, Value: []byte("v")}
			md, err := e2eProduceNow(t, p, r)
			assert.ErrorIs(t, err, producer.ErrInvalidRecord, what)
			assert.Contains(t, err.Error(), fmt.Sprint(part), "%s: the error names the partition", what)
			assert.Equal(t, int64(-1), md.Offset, what)
			produceGood(what)
		}
	})

	t.Run("partitions beyond the topic's count", func(t *testing.T) {
		// Each waits MaxBlock for the partition to appear, then fails.
		for _, part := range beyond {
			what := fmt.Sprintf("partition %d of %d", part, partitions)
			_, err := p.Send(ctx, &producer.Record{Topic: topic, Partition: part, ExplicitPartition: true, Value: []byte("v")})
			assert.ErrorIs(t, err, producer.ErrInvalidRecord, what)
			var pe *producer.PartitionError
			if assert.ErrorAs(t, err, &pe, what) {
				assert.Equal(t, topic, pe.Topic, what)
				assert.Equal(t, part, pe.Partition, what)
			}
			produceGood(what)
		}
	})

	// The good records all went through, every bad one left no trace.
	outs := o.wait(t)
	requireAllAcked(t, outs)
	got := e2eReadAll(t, seeds, topic, len(good))
	byOffset := e2eOffsets(got)
	for i, r := range good {
		g, ok := byOffset[[2]int64{int64(outs[i].md.Partition), outs[i].md.Offset}]
		if assert.True(t, ok, "good record %d: nothing stored at %d/%d", i, outs[i].md.Partition, outs[i].md.Offset) {
			e2eSameRecord(t, r, g, fmt.Sprintf("good record %d (%s)", i, r.Key))
		}
	}

	t.Run("records after Close", func(t *testing.T) {
		require.NoError(t, p.Close(ctx))
		r := &producer.Record{Topic: topic, Value: []byte("too late")}
		md, err := e2eProduceNow(t, p, r)
		assert.ErrorIs(t, err, producer.ErrClosed)
		assert.Equal(t, int64(-1), md.Offset)
		_, err = p.Send(ctx, r)
		assert.ErrorIs(t, err, producer.ErrClosed, "Send after Close")
		// Bad and closed at once: either error is clear, neither panics.
		_, err = e2eProduceNow(t, p, &producer.Record{Topic: "", Partition: -1, ExplicitPartition: true})
		assert.True(t, errors.Is(err, producer.ErrClosed) || errors.Is(err, producer.ErrInvalidRecord), "bad record after Close: %v", err)
	})
}
