// Package readback reads back what a producer wrote, with a consumer we did
// not write (franz-go's kgo), so the integration suite can check every
// record field by field.
//
// Nil and empty are kept apart: Kafka encodes a null key, value or header
// value with length -1 and an empty one with length 0. kgo decodes -1 as a
// nil slice and 0 as a non-nil empty slice (kbin.Reader.VarintBytes), and so
// does Record here: Key == nil means the producer sent a null key, and
// Key != nil && len(Key) == 0 means it sent an empty one. Header keys are
// non-nullable strings in the protocol.
package readback

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one record as the broker stored it.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte // nil for a null key, non-nil and empty for an empty key
	Value     []byte // nil for a null value (a tombstone), non-nil and empty for an empty value
	Headers   []Header
	Timestamp time.Time

	ProducerID    int64 // -1 unless the producer was idempotent or transactional
	ProducerEpoch int16
	Compression   uint8 // codec of the batch: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte // nil for a null value, non-nil and empty for an empty value
}

// ReadAll reads every record of topic from the start of each partition and
// returns them sorted by partition, then offset. It reads until it has seen
// expect records and then on to the end offsets of every partition as they
// are at that moment, so records beyond expect (duplicates, say) are
// returned too. Transaction markers are skipped; records of aborted
// transactions are returned (read_uncommitted).
//
// ReadAll fails once ctx ends first, saying how many of expect it read, and
// returns what it read, sorted, with the error.
//
// opts are more client options, such as TLS and SASL for a secured broker.
func ReadAll(ctx context.Context, brokers []string, topic string, expect int, opts ...kgo.Opt) ([]Record, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(), // to know where a partition ends when it ends with a marker
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("readback: %w", err)
	}
	defer cl.Close()

	var (
		records []Record
		next    = make(map[int32]int64) // partition to the offset after the last one read
		ends    map[int32]int64         // partition to end offset, once expect records were read
	)
	for {
		if len(records) >= expect {
			if ends == nil {
				if ends, err = endOffsets(ctx, cl, topic); err != nil {
					return sorted(records), fmt.Errorf("readback: topic %q: read %d of %d expected records, then: %w",
						topic, len(records), expect, err)
				}
			}
			if behind(next, ends) == "" {
				break
			}
		}

		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			msg := fmt.Sprintf("readback: topic %q: read %d of %d expected records", topic, len(records), expect)
			if ends != nil {
				msg += "; not yet at the end of " + behind(next, ends)
			}
			return sorted(records), fmt.Errorf("%s: %w", msg, err)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !kerr.IsRetriable(err) { // kgo retries those itself
				fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", t, p, err))
			}
		})
		if fetchErr != nil {
			return sorted(records), fmt.Errorf("readback: topic %q: %w", topic, fetchErr)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			if !r.Attrs.IsControl() {
				records = append(records, convert(r))
			}
		})
	}

	return sorted(records), nil
}

// sorted sorts records by partition, then offset.
func sorted(records []Record) []Record {
	slices.SortFunc(records, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	return records
}

func convert(r *kgo.Record) Record {
	out := Record{
		Partition:     r.Partition,
		Offset:        r.Offset,
		Key:           r.Key,
		Value:         r.Value,
		Timestamp:     r.Timestamp,
		ProducerID:    r.ProducerID,
		ProducerEpoch: r.ProducerEpoch,
		Compression:   r.Attrs.CompressionType(),
	}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return out
}

// behind names the partitions whose records up to their end offset have not
// all been read, "" if none.
func behind(next, ends map[int32]int64) string {
	var lag []string
	for p, end := range ends {
		if next[p] < end {
			lag = append(lag, fmt.Sprintf("partition %d (at %d of %d)", p, next[p], end))
		}
	}
	slices.Sort(lag)
	return strings.Join(lag, ", ")
}

// endOffsets returns the end offset of every partition of topic that holds
// records (its end offset is above its start offset). It retries retriable
// errors, such as a leader that moved, until ctx ends.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	for {
		ends, err := tryEndOffsets(ctx, cl, topic)
		if err == nil || !kerr.IsRetriable(err) {
			return ends, err
		}
		select {
		case <-retry.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
	}
}

func tryEndOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("metadata: asked for 1 topic, got %d", len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var partitions []int32
	for _, p := range mresp.Topics[0].Partitions {
		partitions = append(partitions, p.Partition)
	}

	starts, err := listOffsets(ctx, cl, topic, partitions, -2) // earliest
	if err != nil {
		return nil, err
	}
	ends, err := listOffsets(ctx, cl, topic, partitions, -1) // latest
	if err != nil {
		return nil, err
	}
	for p, end := range ends {
		if end <= starts[p] {
			delete(ends, p)
		}
	}
	return ends, nil
}

// listOffsets answers ListOffsets for the partitions at timestamp (-2
// earliest, -1 latest); kgo sends each partition to its leader.
func listOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions []int32, timestamp int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = timestamp
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	offsets := make(map[int32]int64, len(partitions))
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s/%d: %w", t.Topic, p.Partition, err)
			}
			offsets[p.Partition] = p.Offset
		}
	}
	if len(offsets) != len(partitions) {
		return nil, fmt.Errorf("list offsets: asked for %d partitions, got %d", len(partitions), len(offsets))
	}
	return offsets, nil
}
