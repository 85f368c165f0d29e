package integration

// Many topics and partitions at once: 50 topics of 12 partitions, records
// interleaved over all of them from several goroutines, every record read
// back where its callback said, with its content, and nothing else stored.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/partitioner"
)

func TestE2EManyTopicsAndPartitions(t *testing.T) {
	const (
		topics     = 50
		partitions = 12
		perPart    = 20
		goroutines = 6
		total      = topics * partitions * perPart
	)
	seeds := brokers(t)
	names := e2eNewTopics(t, seeds, topics, partitions, nil)
	p := newProducer(t, seeds, nil)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)

	// Record i is the m-th record (m = i/topics) of topic i%topics. Even m
	// name their partition (each partition of each topic gets perPart/2 of
	// those); odd m are keyed and hashed.
	recs := make([]*producer.Record, total)
	want := make([]int32, total) // partition of record i
	for i := range recs {
		r := &producer.Record{
			Topic:     names[i%topics],
			Value:     fmt.Appendf(nil, "record %d", i),
			Headers:   []producer.Header{{Key: "i", Value: strconv.AppendInt(nil, int64(i), 10)}},
			Timestamp: base.Add(time.Duration(i%1000) * time.Millisecond),
		}
		if m := i / topics; m%2 == 0 {
			r.Partition, r.ExplicitPartition = int32(m/2%partitions), true
			want[i] = r.Partition
		} else {
			r.Key = fmt.Appendf(nil, "key-%d", i/topics)
			want[i] = partitioner.KeyPartition(r.Key, partitions)
		}
		recs[i] = r
	}

	// Goroutine g produces records g, g+goroutines, ...: every goroutine
	// writes to every topic, interleaved with the others.
	o := newOutcomes(total)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < total; i += goroutines {
				p.Produce(ctx, recs[i], o.callback(i))
			}
		}()
	}
	wg.Wait()
	outs := o.wait(t)
	requireAllAcked(t, outs)

	perTopic := make(map[string]int, topics)
	perPartition := make(map[string]map[int32]int, topics)
	for i, r := range recs {
		perTopic[r.Topic]++
		if perPartition[r.Topic] == nil {
			perPartition[r.Topic] = map[int32]int{}
		}
		perPartition[r.Topic][want[i]]++
		assert.Equal(t, r.Topic, outs[i].md.Topic, "record %d: topic", i)
		assert.Equal(t, want[i], outs[i].md.Partition, "record %d: partition", i)
	}

	// A goroutine's records of one partition are written in the order it
	// produced them: the offsets, checked against the log below, rise.
	type stream struct {
		topic     string
		partition int32
		g         int
	}
	last := map[stream]int{} // the stream's previous record
	var reordered []string
	for i := range recs {
		s := stream{recs[i].Topic, want[i], i % goroutines}
		if prev, ok := last[s]; ok && outs[prev].md.Offset >= outs[i].md.Offset {
			reordered = append(reordered, fmt.Sprintf("goroutine %d: record %d at %s/%d@%d, record %d at @%d",
				s.g, prev, s.topic, s.partition, outs[prev].md.Offset, i, outs[i].md.Offset))
		}
		last[s] = i
	}
	assert.Empty(t, firstFew(reordered), "%d records written before one their goroutine produced earlier to the same partition", len(reordered))

	got := e2eReadAllTopics(t, seeds, perTopic)
	for _, name := range names {
		recsOf := got[name]
		require.Len(t, recsOf, perTopic[name], "records read back from %s", name)
		stored := map[int32]int{}
		for _, g := range recsOf {
			stored[g.Partition]++
		}
		assert.Equal(t, perPartition[name], stored, "%s: records per partition", name)
		byOffset := e2eOffsets(recsOf)
		for i := topicIndex(names, name); i < total; i += topics {
			g, ok := byOffset[[2]int64{int64(outs[i].md.Partition), outs[i].md.Offset}]
			if assert.True(t, ok, "record %d: nothing stored at %s %d/%d", i, name, outs[i].md.Partition, outs[i].md.Offset) {
				e2eSameRecord(t, recs[i], g, fmt.Sprintf("record %d", i))
			}
		}
	}
}

func topicIndex(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
