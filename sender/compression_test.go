package sender

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// newZstdRig is a rig whose batches are zstd-compressed, over a broker that
// speaks Produce up to version.
func newZstdRig(t *testing.T, version int16) *rig {
	r := newRigWith(t, rigConfig{acc: func(c *accumulator.Config) { c.Codec = compression.Zstd }})
	r.conn.produce = version
	return r
}

func TestZstdGoesToABrokerThatSpeaksProduceV7(t *testing.T) {
	r := newZstdRig(t, 7)
	r.produce(parts[0], 1)
	c := r.next()
	require.Equal(t, int16(7), c.version)
	require.Equal(t, compression.Zstd, record.CodecOf(c.req.Topics[0].Partitions[0].Records))
	c.done(answer(c.req, 0, 5), nil)
	require.Equal(t, int64(5), r.outcome(1).Offset)
}

func TestZstdFailsClearlyBelowProduceV7(t *testing.T) {
	r := newZstdRig(t, 6)
	r.produce(parts[0], 1)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, kerr.UnsupportedCompressionType)
	require.ErrorContains(t, out.Err, "broker 1 speaks Produce up to v6, and zstd batches need v7 (Kafka 2.1 or newer)")
	select {
	case c := <-r.conn.requests:
		t.Fatalf("a request carrying %v went to a broker that cannot take zstd", c.req.Topics)
	default:
	}
}
