package integration

// Every codec with every acks setting: each record gets one outcome, all are
// stored with their exact content, and the stored batches really carry the
// codec (kgo reports each record's batch codec).

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/integration/readback"
	"github.com/gokafka/producer/partitioner"
)

const (
	e2eCodecRecords    = 2000
	e2eCodecPartitions = 3
	e2eCodecKeys       = 40
)

// e2eMixedRecords returns n keyed records of mixed sizes (0 bytes to a few
// KiB, some null) whose values compress well, so a codec is never given up
// for a batch that would not shrink. Each record's sequence number is in its
// "seq" header; keys repeat so order per key can be checked.
func e2eMixedRecords(topic string, n int, now time.Time) []*producer.Record {
	base := now.Add(-time.Minute).Truncate(time.Millisecond)
	sizes := []int{0, 1, 17, 100, 333, 1000, 2500, 6000}
	recs := make([]*producer.Record, n)
	for i := range recs {
		var value []byte
		if i%11 != 5 { // every eleventh record has a null value
			line := fmt.Appendf(nil, "record %d of the codec test, %s; ", i, topic)
			value = bytes.Repeat(line, sizes[i%len(sizes)]/len(line)+1)[:sizes[i%len(sizes)]]
		}
		recs[i] = &producer.Record{
			Topic:     topic,
			Key:       fmt.Appendf(nil, "key-%02d", i%e2eCodecKeys),
			Value:     value,
			Headers:   []producer.Header{{Key: "seq", Value: strconv.AppendInt(nil, int64(i), 10)}},
			Timestamp: base.Add(time.Duration(i%97) * time.Millisecond),
		}
	}
	return recs
}

// e2eSeq returns the sequence number a stored record carries in its first
// header, "seq", which must name one of the n records sent.
func e2eSeq(t *testing.T, g readback.Record, n int) int {
	t.Helper()
	require.NotEmpty(t, g.Headers, "stored record at %d/%d has no seq header", g.Partition, g.Offset)
	seq, err := strconv.Atoi(string(g.Headers[0].Value))
	require.NoError(t, err, "stored record at %d/%d: seq header %q", g.Partition, g.Offset, g.Headers[0].Value)
	require.True(t, seq >= 0 && seq < n, "stored record at %d/%d: seq %d out of range", g.Partition, g.Offset, seq)
	return seq
}

func TestE2ECodecsAndAcks(t *testing.T) {
	seeds := brokers(t)
	codecs := []compression.Codec{compression.None, compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd}
	for _, codec := range codecs {
		for _, acks := range []producer.Acks{producer.AcksAll, producer.AcksLeader, producer.AcksNone} {
			t.Run(fmt.Sprintf("%s/acks_%s", codec, acks), func(t *testing.T) {
				topic := newTopic(t, seeds, e2eCodecPartitions)
				// One request in flight keeps each key's order across the
				// retries a real broker may cause right after creating the
				// topic (see e2eReadBackFieldByField).
				p := newProducer(t, seeds, func(c *producer.Config) {
					c.Compression = codec
					c.Acks = acks
					c.DisableIdempotence = acks != producer.AcksAll
					c.MaxInFlight = 1
				})
				recs := e2eMixedRecords(topic, e2eCodecRecords, time.Now())
				outs := produceAll(t, p, recs)
				requireAllAcked(t, outs)

				got := e2eReadAll(t, seeds, topic, len(recs))
				byOffset := e2eOffsets(got)
				seen := make([]bool, len(recs))
				lastSeq := map[string]int{}
				for _, g := range got {
					seq := e2eSeq(t, g, len(recs))
					require.False(t, seen[seq], "record %d stored twice", seq)
					seen[seq] = true
					r := recs[seq]
					what := fmt.Sprintf("record %d at %d/%d", seq, g.Partition, g.Offset)
					e2eSameRecord(t, r, g, what)
					assert.Equal(t, uint8(codec), g.Compression, "%s: the stored batch's codec", what)
					assert.Equal(t, partitioner.KeyPartition(r.Key, e2eCodecPartitions), g.Partition, "%s: key partition", what)
					if last, ok := lastSeq[string(r.Key)]; ok {
						assert.Greater(t, seq, last, "%s: stored after record %d of the same key", what, last)
					}
					lastSeq[string(r.Key)] = seq
				}

				for i, o := range outs {
					what := fmt.Sprintf("record %d", i)
					assert.Equal(t, partitioner.KeyPartition(recs[i].Key, e2eCodecPartitions), o.md.Partition, "%s: metadata partition", what)
					if acks == producer.AcksNone {
						assert.Equal(t, int64(-1), o.md.Offset, "%s: acks=0 cannot know the offset", what)
						continue
					}
					g, ok := byOffset[[2]int64{int64(o.md.Partition), o.md.Offset}]
					if assert.True(t, ok, "%s: nothing stored at %d/%d where the callback said", what, o.md.Partition, o.md.Offset) {
						assert.Equal(t, strconv.Itoa(i), string(g.Headers[0].Value), "%s: another record is stored at %d/%d", what, o.md.Partition, o.md.Offset)
					}
				}

				// A batch is counted once its callbacks have run, so the
				// last may not be yet when its outcomes are in; Flush
				// returns once every batch is done.
				require.NoError(t, p.Flush(testCtx(t)))
				st := p.Stats()
				assert.Equal(t, int64(len(recs)), st.BatchRecords, "records in completed batches")
				if codec != compression.None {
					assert.Less(t, st.CompressedBytes, st.UncompressedBytes, "compressed bytes vs uncompressed")
				}
			})
		}
	}
}

// TestE2EIncompressibleValues sends values no codec can shrink, with every
// codec, and reads every byte back. A batch whose compressed form would not
// fit its buffer goes out uncompressed (record.Builder.Close), as a full
// batch may; a smaller batch keeps its codec whatever compressing made of
// it. For LZ4 that is a frame whose blocks are stored as they are, which
// the broker (lz4-java in Kafka) must read as it reads compressed ones.
func TestE2EIncompressibleValues(t *testing.T) {
	seeds := brokers(t)
	const full, small, perFlush = 1000, 200, 20
	rng := rand.New(rand.NewPCG(1, 2))
	for _, codec := range []compression.Codec{compression.None, compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			topic := newTopic(t, seeds, e2eCodecPartitions)
			p := newProducer(t, seeds, func(c *producer.Config) { c.Compression = codec })
			recs := make([]*producer.Record, full+small)
			for i := range recs {
				value := make([]byte, 300)
				for j := range value {
					value[j] = byte(rng.Uint32())
				}
				recs[i] = &producer.Record{Topic: topic, Value: value,
					Headers: []producer.Header{{Key: "seq", Value: strconv.AppendInt(nil, int64(i), 10)}}}
			}
			// First full batches, then batches of perFlush records, each
			// a few KiB in a buffer of BatchSize.
			requireAllAcked(t, produceAll(t, p, recs[:full]))
			before := p.Stats()
			for i := full; i < len(recs); i += perFlush {
				requireAllAcked(t, produceAll(t, p, recs[i:i+perFlush]))
			}
			after := p.Stats()
			in, out := after.UncompressedBytes-before.UncompressedBytes, after.CompressedBytes-before.CompressedBytes
			t.Logf("%d small batches: %d bytes, %d as sent", after.Batches-before.Batches, in, out)
			if codec == compression.LZ4 {
				// What the frame adds around stored blocks: without it,
				// this test would not reach them.
				assert.Greater(t, out, in, "lz4 must have stored the small batches' blocks as they are")
			}

			for _, g := range e2eReadAll(t, seeds, topic, len(recs)) {
				seq := e2eSeq(t, g, len(recs))
				what := fmt.Sprintf("record %d at %d/%d", seq, g.Partition, g.Offset)
				e2eSameRecord(t, recs[seq], g, what)
				if seq >= full {
					assert.Equal(t, uint8(codec), g.Compression, "%s: a small batch's codec", what)
				} else if g.Compression != uint8(codec) {
					assert.Equal(t, uint8(compression.None), g.Compression, "%s: a full batch's codec, %s or none", what, codec)
				}
			}
		})
	}
}
