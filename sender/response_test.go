package sender

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A request that never left counts as no request: its retry is the one
// sent. Before, both counted.
func TestARequestNeverSentIsNotCounted(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(nil, fmt.Errorf("%w: the connection was closed", conn.ErrNotSent))
	retry := r.afterBackoff(120 * time.Millisecond)
	retry.done(answer(retry.req, 0, 3), nil)
	require.Equal(t, int64(3), r.outcome(1).Offset)
	require.Equal(t, int64(1), r.s.cfg.Counters.Requests.Load())
}

// An answer naming a partition twice, or leaving it out, says nothing
// certain of the batch: it goes again as one the broker may have written,
// so that, should it fail in the end, its error says so. Before, the last
// of two answers was taken, and a batch "written at offset 5" then refused
// was sent again as if never written.
func TestAnAnswerNamingAPartitionTwiceOrNotAtAllMayHaveWrittenIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(*call) *protocol.ProduceResponse
	}{
		{"twice", func(c *call) *protocol.ProduceResponse {
			resp := answer(c.req, 0, 5)
			again := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
			resp.Topics[0].Partitions = append(resp.Topics[0].Partitions, again.Topics[0].Partitions...)
			return resp
		}},
		{"left out", func(c *call) *protocol.ProduceResponse {
			resp := answer(c.req, 0, 5)
			resp.Topics[0].Partitions = nil
			return resp
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRigWith(t, rigConfig{acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second }})
			r.produce(parts[0], 1)
			c := r.next()
			r.clk.Advance(time.Second) // no retry: the batch fails at once
			c.done(tc.answer(c), nil)
			err := r.outcome(1).Err
			require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
			require.ErrorIs(t, err, accumulator.ErrMaybeWritten)
		})
	}
}
