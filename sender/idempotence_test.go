package sender

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// newIdempotentRig is a rig whose accumulator numbers batches for producer
// id 7, epoch 0; mod, if not nil, changes the sender's Config.
func newIdempotentRig(t *testing.T, mod func(*Config)) *rig {
	r := newRigWith(t, rigConfig{acc: func(c *accumulator.Config) { c.Idempotent = true }, sender: mod})
	r.acc.SetProducerID(accumulator.ProducerID{ID: 7, Epoch: 0})
	return r
}

// producerOf is the producer id, epoch and base sequence of the request's
// only batch.
func producerOf(t *testing.T, c *call) [3]int64 {
	t.Helper()
	b, _, err := record.DecodeBatch(c.req.Topics[0].Partitions[0].Records)
	require.NoError(t, err)
	return [3]int64{b.ProducerID, int64(b.ProducerEpoch), int64(b.BaseSequence)}
}

func TestDuplicateSequenceNumberIsSuccess(t *testing.T) {
	r := newIdempotentRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	require.Equal(t, [3]int64{7, 0, 0}, producerOf(t, c))
	c.done(answer(c.req, kerr.DuplicateSequenceNumber.Code, 40), nil)
	out := r.outcome(1)
	require.NoError(t, out.Err, "the broker already has the batch: an earlier attempt was written")
	require.Equal(t, int64(40), out.Offset)
}

func TestFencedProducerIsFatal(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.InvalidProducerEpoch, kerr.ProducerFenced} {
		t.Run(code.Name, func(t *testing.T) {
			r := newIdempotentRig(t, nil)
			r.produce(parts[0], 1)
			c := r.next()
			c.done(answer(c.req, code.Code, -1), nil)
			out := r.outcome(1)
			require.ErrorIs(t, out.Err, code)
			require.Contains(t, out.Err.Error(), "fenced")
			_, err := r.acc.Append(context.Background(), parts[1], nil, &accumulator.Record{Data: record.Data{Value: []byte("v")}, Callback: 2})
			require.ErrorIs(t, err, code, "nothing more is taken")
		})
	}
}

func TestOutOfOrderSequenceRestartsThePartitionUnderANewEpoch(t *testing.T) {
	r := newIdempotentRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(answer(c.req, kerr.OutOfOrderSequenceNumber.Code, -1), nil)
	retry := r.afterBackoff(120 * time.Millisecond)
	require.Equal(t, [3]int64{7, 1, 0}, producerOf(t, retry), "the broker lost track of the producer: epoch 1 from sequence 0")
	retry.done(answer(retry.req, 0, 9), nil)
	require.Equal(t, int64(9), r.outcome(1).Offset)
}

func TestUnknownProducerIDWithoutLogStartOffsetIsAPlainRetry(t *testing.T) {
	r := newIdempotentRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	resp := answer(c.req, kerr.UnknownProducerID.Code, -1) // LogStartOffset -1: the broker did not know yet
	c.done(resp, nil)
	retry := r.afterBackoff(120 * time.Millisecond)
	require.Equal(t, [3]int64{7, 0, 0}, producerOf(t, retry))
	retry.done(answer(retry.req, 0, 3), nil)
	require.NoError(t, r.outcome(1).Err)
}

// With a log start offset the broker knows the partition's state but no
// longer the producer: the sequences restart under a new epoch (KIP-360).
// 0, the start of a log never truncated, is the usual one; only -1 says
// the broker did not know yet, as in the Java client. Taken for -1, 0
// would have the refused sequence sent again under the same epoch, to be
// refused again until its DeliveryTimeout.
func TestUnknownProducerIDWithLogStartOffsetRestarts(t *testing.T) {
	for _, logStart := range []int64{0, 100} {
		t.Run(fmt.Sprint("log start offset ", logStart), func(t *testing.T) {
			r := newIdempotentRig(t, nil)
			r.produce(parts[0], 1)
			c := r.next()
			resp := answer(c.req, kerr.UnknownProducerID.Code, -1)
			resp.Topics[0].Partitions[0].LogStartOffset = logStart
			c.done(resp, nil)
			retry := r.afterBackoff(120 * time.Millisecond)
			require.Equal(t, [3]int64{7, 1, 0}, producerOf(t, retry), "epoch 1 from sequence 0")
			retry.done(answer(retry.req, 0, 3), nil)
			require.NoError(t, r.outcome(1).Err)
		})
	}
}

// After an attempt that may have been written, a refused sequence does not
// show that it was not: a broker restarted from its snapshot recognises
// only the producer's last batch as a duplicate, and one that no longer
// knows the producer cannot tell. The batch fails as maybe written rather
// than risk a second copy under a new epoch.
func TestASequenceRefusedAfterAnUnansweredAttempt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     *kerr.Error
		logStart int64
	}{
		{"out of order", kerr.OutOfOrderSequenceNumber, -1},
		{"unknown producer", kerr.UnknownProducerID, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newIdempotentRig(t, nil)
			r.produce(parts[0], 1)
			c := r.next()
			c.done(nil, fmt.Errorf("Produce v11: %w", conn.ErrDisconnected))
			retry := r.afterBackoff(120 * time.Millisecond)
			require.Equal(t, [3]int64{7, 0, 0}, producerOf(t, retry))
			resp := answer(retry.req, tc.code.Code, -1)
			resp.Topics[0].Partitions[0].LogStartOffset = tc.logStart
			retry.done(resp, nil)
			out := r.outcome(1)
			require.ErrorIs(t, out.Err, tc.code)
			require.ErrorIs(t, out.Err, accumulator.ErrMaybeWritten)
		})
	}
}

// A request that failed after it was written may have been acted on; one
// the connection never sent cannot have been.
func TestOnlyAWrittenRequestMakesItsBatchesMaybeWritten(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		maybe bool
	}{
		{"timed out", fmt.Errorf("Produce v11: %w", conn.ErrRequestTimeout), true},
		{"connection broke", fmt.Errorf("Produce v11: %w", conn.ErrDisconnected), true},
		{"never sent", fmt.Errorf("Produce v11: %w: %w", conn.ErrNotSent, conn.ErrDisconnected), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newIdempotentRig(t, nil)
			r.produce(parts[0], 1)
			c := r.next()
			c.done(nil, tc.err)
			retry := r.afterBackoff(120 * time.Millisecond)
			require.Equal(t, [3]int64{7, 0, 0}, producerOf(t, retry), "the retry keeps its sequence")
			retry.done(answer(retry.req, kerr.TopicAuthorizationFailed.Code, -1), nil)
			out := r.outcome(1)
			require.ErrorIs(t, out.Err, kerr.TopicAuthorizationFailed)
			if tc.maybe {
				require.ErrorIs(t, out.Err, accumulator.ErrMaybeWritten)
			} else {
				require.False(t, errors.Is(out.Err, accumulator.ErrMaybeWritten), "a request never sent was not written: %v", out.Err)
			}
		})
	}
}

// A Produce answer of INVALID_PRODUCER_ID_MAPPING (the transaction
// coordinator no longer knows the producer's transactional id) stops the
// producer, as it stops the Java client's since Kafka 4.0 (KAFKA-18019):
// before, it failed only the batch, and the next records were sent.
func TestAProduceAnswerThatTheTransactionalIDIsUnknownStopsTheProducer(t *testing.T) {
	r := newIdempotentRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(answer(c.req, kerr.InvalidProducerIDMapping.Code, -1), nil)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, kerr.InvalidProducerIDMapping)
	require.Contains(t, out.Err.Error(), "can send nothing more")
	_, err := r.acc.Append(context.Background(), parts[1], nil, &accumulator.Record{Data: record.Data{Value: []byte("v")}, Callback: 2})
	require.ErrorIs(t, err, kerr.InvalidProducerIDMapping, "nothing more is taken")
}

// newTransactionalRig is an idempotent rig whose batches belong to the
// transactions of "tx".
func newTransactionalRig(t *testing.T) *rig {
	id := "tx"
	r := newRigWith(t, rigConfig{
		acc:    func(c *accumulator.Config) { c.Idempotent, c.Transactional = true, true },
		sender: func(c *Config) { c.TransactionalID = &id },
	})
	r.acc.SetProducerID(accumulator.ProducerID{ID: 7, Epoch: 0})
	return r
}

// A transactional producer whose leader shares no version of Produce with
// it stops, as an answer of UNSUPPORTED_VERSION stops it: every record it
// sent that leader would fail alike, so the transaction manager must take
// the failure as fatal (ErrProducerStopped) rather than leave the
// transaction to abort, which README's loop would do for ever.
func TestALeaderSharingNoProduceVersionStopsATransactionalProducer(t *testing.T) {
	r := newTransactionalRig(t)
	r.conn.noProduce = fmt.Errorf("no common version of Produce: %w", protocol.ErrUnsupportedVersion)
	r.produce(parts[0], 1)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, protocol.ErrUnsupportedVersion)
	require.ErrorIs(t, out.Err, accumulator.ErrProducerStopped, "%v", out.Err)
	_, err := r.acc.Append(context.Background(), parts[1], nil, &accumulator.Record{Data: record.Data{Value: []byte("v")}, Callback: 2})
	require.ErrorIs(t, err, accumulator.ErrProducerStopped, "nothing more is taken")
}

// A Produce answer of TRANSACTIONAL_ID_AUTHORIZATION_FAILED (the cluster
// denies the producer its transactional id) stops the producer: the
// transaction manager already took it as fatal, but the sender went on
// taking and sending records, each refused alike, and the record's error
// did not match ErrProducerStopped.
func TestAProduceAnswerDenyingTheTransactionalIDStopsTheProducer(t *testing.T) {
	r := newTransactionalRig(t)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(answer(c.req, kerr.TransactionalIDAuthorizationFailed.Code, -1), nil)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, kerr.TransactionalIDAuthorizationFailed)
	require.ErrorIs(t, out.Err, accumulator.ErrProducerStopped, "%v", out.Err)
	_, err := r.acc.Append(context.Background(), parts[1], nil, &accumulator.Record{Data: record.Data{Value: []byte("v")}, Callback: 2})
	require.ErrorIs(t, err, accumulator.ErrProducerStopped, "nothing more is taken")
}
