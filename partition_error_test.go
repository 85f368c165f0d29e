package producer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// requireSamePartition checks that a failed record's *PartitionError names
// the partition its RecordMetadata has, and that this is want.
func requireSamePartition(t *testing.T, md RecordMetadata, err error, want int32, what string) {
	t.Helper()
	var pe *PartitionError
	require.ErrorAs(t, err, &pe, what)
	require.Equal(t, want, md.Partition, "%s: the metadata's partition (%v)", what, err)
	require.Equal(t, want, pe.Partition, "%s: the PartitionError's partition (%v)", what, err)
}

// A record refused before it joined a batch has, in its *PartitionError,
// the partition its RecordMetadata has: the one it named, else the one
// chosen for it, else -1. The error said -1 for a record that named
// partition 3, refused after Close, too large or by Send's done ctx,
// while its metadata said 3; and the metadata said -1 for a record whose
// wait for memory in the partition chosen for it failed, while its error
// named that partition.
func TestARefusedRecordsErrorNamesThePartitionItsMetadataHas(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxRequestSize = 1000 })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	named := func(value []byte) *Record {
		return &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: value}
	}

	t.Run("too large", func(t *testing.T) {
		o := newOutcomes(1)
		p.Produce(ctx(t), named(make([]byte, 2000)), o.cb(0))
		o.wait(t, "the record too large")
		require.ErrorIs(t, o.one(t, 0).err, ErrRecordTooLarge)
		requireSamePartition(t, o.one(t, 0).md, o.one(t, 0).err, 3, "too large")
	})
	t.Run("Send with a done ctx", func(t *testing.T) {
		done, cancel := context.WithCancel(context.Background())
		cancel()
		md, err := p.Send(done, named(nil))
		require.ErrorIs(t, err, context.Canceled)
		requireSamePartition(t, md, err, 3, "named")
		md, err = p.Send(done, &Record{Topic: "t"})
		requireSamePartition(t, md, err, -1, "no partition named")
	})
	t.Run("after Close", func(t *testing.T) {
		require.NoError(t, p.Close(ctx(t)))
		o := newOutcomes(2)
		p.Produce(ctx(t), named(nil), o.cb(0))
		p.Produce(ctx(t), &Record{Topic: "t"}, o.cb(1))
		o.wait(t, "the records refused after Close")
		require.ErrorIs(t, o.one(t, 0).err, ErrClosed)
		requireSamePartition(t, o.one(t, 0).md, o.one(t, 0).err, 3, "named")
		requireSamePartition(t, o.one(t, 1).md, o.one(t, 1).err, -1, "no partition named")
	})
}
