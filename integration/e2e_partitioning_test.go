package integration

// Keyed records land where the Java client would put them:
// toPositive(murmur2(key)) % partitions, checked against the Java test
// vectors and against franz-go's own implementation, on the broker. Keyless
// records spread over every partition.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/partitioner"
)

// javaMurmur2 holds the vectors of the Java client's UtilsTest.testMurmur2:
// Utils.murmur2(key) as Java computes it.
var javaMurmur2 = map[string]int32{
	"21":                         -973932308,
	"foobar":                     -790332482,
	"a-little-bit-long-string":   -985981536,
	"a-little-bit-longer-string": -1486304829,
	"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
	"abc": 479470107,
}

// e2eKafkaPartition is franz-go's Java-compatible key partitioning, an
// implementation we did not write.
func e2eKafkaPartition(key []byte, n int) int32 {
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: key}, n))
}

func TestE2EKeyedRecordsLandWhereJavaPutsThem(t *testing.T) {
	for key, want := range javaMurmur2 {
		require.Equal(t, want, partitioner.Murmur2([]byte(key)), "murmur2(%q) differs from the Java client's", key)
	}

	seeds := brokers(t)
	rng := rand.New(rand.NewPCG(7, 8))
	keys := [][]byte{{}, {0}, {0xff}, []byte("ünïcödé"), []byte("user-42")}
	for key := range javaMurmur2 {
		keys = append(keys, []byte(key))
	}
	for len(keys) < 1500 {
		k := make([]byte, rng.IntN(40))
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		keys = append(keys, k)
		keys = append(keys, fmt.Appendf(nil, "order-%d", rng.Uint64()))
	}

	for _, partitions := range []int32{12, 7} {
		t.Run(fmt.Sprintf("%d_partitions", partitions), func(t *testing.T) {
			topic := newTopic(t, seeds, partitions)
			p := newProducer(t, seeds, nil)
			recs := make([]*producer.Record, len(keys))
			for i, k := range keys {
				recs[i] = &producer.Record{Topic: topic, Key: k, Value: fmt.Appendf(nil, "%d", i)}
			}
			outs := produceAll(t, p, recs)
			requireAllAcked(t, outs)

			used := map[int32]bool{}
			for i, r := range recs {
				want := e2eKafkaPartition(r.Key, int(partitions))
				require.Equal(t, want, partitioner.KeyPartition(r.Key, partitions), "key %x: KeyPartition differs from franz-go's Java-compatible hashing", r.Key)
				assert.Equal(t, want, outs[i].md.Partition, "key %x: partition in the callback", r.Key)
				used[want] = true
			}
			require.Len(t, used, int(partitions), "the keys must cover every partition for the test to mean anything")

			got := e2eReadAll(t, seeds, topic, len(recs))
			byOffset := e2eOffsets(got)
			for i, r := range recs {
				g, ok := byOffset[[2]int64{int64(outs[i].md.Partition), outs[i].md.Offset}]
				if assert.True(t, ok, "key %x: nothing stored at %d/%d", r.Key, outs[i].md.Partition, outs[i].md.Offset) {
					e2eSameRecord(t, r, g, fmt.Sprintf("key %x", r.Key))
					assert.Equal(t, e2eKafkaPartition(r.Key, int(partitions)), g.Partition, "key %x: stored partition", r.Key)
				}
			}
		})
	}
}

func TestE2EKeylessRecordsSpreadOverAllPartitions(t *testing.T) {
	const partitions = 12
	seeds := brokers(t)
	topic := newTopic(t, seeds, partitions)
	// The sticky partitioner moves on after BatchSize bytes: with 1 KiB
	// batches and ~100-byte records it picks a partition about 600 times,
	// so a partition left out is a broken partitioner, not bad luck
	// (probability about 12 * (11/12)^600, below 1e-21).
	p := newProducer(t, seeds, func(c *producer.Config) { c.BatchSize = 1 << 10 })
	const n = 6000
	recs := make([]*producer.Record, n)
	for i := range recs {
		recs[i] = &producer.Record{Topic: topic, Value: fmt.Appendf(nil, "keyless record %06d %080d", i, i)}
	}
	outs := produceAll(t, p, recs)
	requireAllAcked(t, outs)

	got := e2eReadAll(t, seeds, topic, n)
	perPartition := map[int32]int{}
	byOffset := e2eOffsets(got)
	for i, o := range outs {
		perPartition[o.md.Partition]++
		g, ok := byOffset[[2]int64{int64(o.md.Partition), o.md.Offset}]
		if assert.True(t, ok, "record %d: nothing stored at %d/%d", i, o.md.Partition, o.md.Offset) {
			e2eSameRecord(t, recs[i], g, fmt.Sprintf("record %d", i))
		}
	}
	for part := range int32(partitions) {
		assert.Positive(t, perPartition[part], "partition %d got no keyless record; counts per partition: %v", part, perPartition)
	}
}
