package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/clock"
)

// accumulator.Complete documents that completing a batch twice is a no-op,
// which the producer relies on when a late answer races an abort. The
// second call must then leave the partition's in-flight count alone: with
// MaxInFlight 1 (StrictOrder) a count gone negative lets two batches of a
// partition fly at once, and a retry can overtake a later batch.
func TestAccumulatorSecondCompleteIsANoOp(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	pool := bufferpool.New(1<<20, 1024, clk)
	acc := accumulator.New(accumulator.Config{
		BatchSize: 1024, DeliveryTimeout: time.Minute, MaxBlock: time.Second,
		StrictOrder: true, Pool: pool, Clock: clk,
		Complete: func(any, accumulator.Result) {},
	})
	tp := accumulator.TopicPartition{Topic: "t", Partition: 0}
	parts := []accumulator.TopicPartition{tp}
	big := make([]byte, 900) // one record per 1 KiB batch
	for i := 0; i < 3; i++ {
		_, err := acc.Append(context.Background(), tp, clk.Now().UnixMilli(), nil, big, nil, i)
		require.NoError(t, err)
	}

	first, _, _ := acc.Drain(parts, 0, 1<<20, clk.Now())
	require.Len(t, first, 1)
	acc.Complete(first[0], 0, -1, nil)
	acc.Complete(first[0], 0, -1, nil) // the late duplicate
	_, inFlight := acc.Queued(tp)
	require.Zero(t, inFlight, "a second Complete changed the in-flight count")

	second, _, _ := acc.Drain(parts, 0, 1<<20, clk.Now())
	require.Len(t, second, 1)
	third, _, _ := acc.Drain(parts, 0, 1<<20, clk.Now())
	require.Empty(t, third, "StrictOrder: one batch of the partition in flight at a time")
}
