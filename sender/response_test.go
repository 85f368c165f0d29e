package sender

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
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
// so that, should it fail in the end, its error says so, and names the
// malformed answer's API and version. Before, the last of two answers was
// taken, and a batch "written at offset 5" then refused was sent again as
// if never written; and the error did not say which answer was at fault.
func TestAnAnswerNamingAPartitionTwiceOrNotAtAllMayHaveWrittenIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cause  string
		answer func(*call) *protocol.ProduceResponse
	}{
		{"twice", "broker 1 answered Produce v11 twice for the partition", func(c *call) *protocol.ProduceResponse {
			resp := answer(c.req, 0, 5)
			again := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
			resp.Topics[0].Partitions = append(resp.Topics[0].Partitions, again.Topics[0].Partitions...)
			return resp
		}},
		{"left out", "broker 1 answered Produce v11 without the partition", func(c *call) *protocol.ProduceResponse {
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
			require.Contains(t, err.Error(), tc.cause)
		})
	}
}

// A batch refused for good for the records the broker named (KIP-467) fails
// each of them with its own error, the Kafka error with the broker's word
// on that record, and the others with ErrBatchRefused, which does not match
// the Kafka error: a dead-letter handler tells the record at fault from
// those refused only for being in its batch. Indexes outside the batch are
// ignored, but count as records named: a record named with others has only
// the broker's word on it, not the partition's. With none left, nothing
// says which record was at fault, and every one fails with the batch's
// error. Before, every record failed with the batch's error, which named
// record 2 for all four.
func TestARefusedBatchFailsTheRecordsItNamedWithTheirOwnErrors(t *testing.T) {
	bad, partition := "bad key", "the partition says no"
	for _, tc := range []struct {
		name   string
		named  []int32 // the indexes the answer names
		faulty int     // the record at fault (its callback id), 0 for none known
		broken bool    // a first attempt went unanswered: the batch may be written
	}{
		{"index 2", []int32{2}, 3, false},
		{"indexes out of range besides", []int32{-1, 2, 4, 9}, 3, false},
		{"only indexes out of range", []int32{4, 9}, 0, false},
		{"after an unanswered attempt", []int32{2}, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRigWith(t, rigConfig{acc: func(c *accumulator.Config) { c.Linger, c.DeliveryTimeout = time.Second, time.Hour }})
			for id := 1; id <= 4; id++ {
				r.produce(parts[0], id)
			}
			c := r.afterBackoff(time.Second) // the linger, which keeps the four in one batch
			batch, _, err := record.DecodeBatch(c.req.Topics[0].Partitions[0].Records)
			require.NoError(t, err)
			require.Len(t, batch.Records, 4)
			if tc.broken {
				c.done(nil, errors.New("connection reset"))
				c = r.afterBackoff(time.Second)
			}
			resp := answer(c.req, kerr.InvalidRecord.Code, -1)
			p := &resp.Topics[0].Partitions[0]
			p.ErrorMessage = &partition
			for _, i := range tc.named {
				p.RecordErrors = append(p.RecordErrors, protocol.ProduceResponseRecordError{BatchIndex: i, BatchIndexErrorMessage: &bad})
			}
			c.done(resp, nil)

			for id := 1; id <= 4; id++ {
				err := r.outcome(id).Err
				require.Error(t, err, "record %d", id)
				require.Equal(t, tc.broken, errors.Is(err, accumulator.ErrMaybeWritten), "record %d: %v", id, err)
				switch {
				case tc.faulty == 0:
					require.ErrorIs(t, err, kerr.InvalidRecord, "record %d", id)
					require.NotErrorIs(t, err, accumulator.ErrBatchRefused, "record %d", id)
				case id == tc.faulty:
					require.ErrorIs(t, err, kerr.InvalidRecord)
					require.NotErrorIs(t, err, accumulator.ErrBatchRefused)
					require.Contains(t, err.Error(), `record 2: "bad key"`)
					if len(tc.named) == 1 {
						require.Contains(t, err.Error(), partition)
					} else {
						require.NotContains(t, err.Error(), partition, "named with others, its own word only")
					}
					require.NotContains(t, err.Error(), "record 9", "the other records' words are not this one's")
				default:
					require.ErrorIs(t, err, accumulator.ErrBatchRefused, "record %d", id)
					require.NotErrorIs(t, err, kerr.InvalidRecord, "record %d was not named", id)
					require.Contains(t, err.Error(), "INVALID_RECORD", "record %d's error says what refused the batch", id)
				}
			}
		})
	}
}

// The broker's words on a refused batch and on its records reach the
// record's error quoted, control characters escaped, and cut after 512
// bytes: a line break in them faked a line of the application's log, an
// escape ran on its terminal, and a message of megabytes made an error of
// that size for each record. The Kafka error still matches.
func TestTheBrokersWordsOnARefusedBatchAreShownSafely(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	partition := "refused\n\x1b[2Jbroker 1: fine"
	long := strings.Repeat("x", 600) + "THE END"
	resp := answer(c.req, kerr.InvalidRecord.Code, -1)
	p := &resp.Topics[0].Partitions[0]
	p.ErrorMessage = &partition
	p.RecordErrors = []protocol.ProduceResponseRecordError{{BatchIndex: 0, BatchIndexErrorMessage: &long}}
	c.done(resp, nil)

	err := r.outcome(1).Err
	require.ErrorIs(t, err, kerr.InvalidRecord)
	msg := err.Error()
	require.NotContains(t, msg, "\n")
	require.NotContains(t, msg, "\x1b")
	require.Contains(t, msg, `"refused\n\x1b[2Jbroker 1: fine"`)
	require.Contains(t, msg, `record 0: "`+strings.Repeat("x", 512)+`"... (607 bytes)`)
	require.NotContains(t, msg, "THE END")
}

// splitsFourInTwo has a batch of records 1 to 4 answered with code and
// checks that it is split: halves of two records go in its place at once,
// and give the records their offsets. A batch failed instead fails the test
// at once, with its error, not after a wait for a request that never comes.
func splitsFourInTwo(t *testing.T, code *kerr.Error) {
	failed := make(chan error, 1)
	r := newRigWith(t, rigConfig{
		acc: func(c *accumulator.Config) {
			c.Failed = func(_ accumulator.TopicPartition, err error) {
				select {
				case failed <- err:
				default: // the first failure says it all
				}
			}
		},
		sender: func(c *Config) { c.MaxInFlight = 1 },
	})
	// Hold the sender on a first request so that four records share a batch.
	r.produce(parts[1], 0)
	first := r.next()
	for i := 1; i <= 4; i++ {
		r.produce(parts[0], i)
	}
	first.done(answer(first.req, 0, 0), nil)

	big := r.next()
	b, _, err := record.DecodeBatch(big.req.Topics[0].Partitions[0].Records)
	require.NoError(t, err)
	require.Len(t, b.Records, 4)
	big.done(answer(big.req, code.Code, -1), nil)

	var half *call
	select {
	case half = <-r.conn.requests:
	case err := <-failed:
		t.Fatalf("the batch failed rather than split: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("neither a request nor a failure within 10s of the answer")
	}
	b, _, err = record.DecodeBatch(half.req.Topics[0].Partitions[0].Records)
	require.NoError(t, err)
	require.Len(t, b.Records, 2)
	half.done(answer(half.req, 0, 100), nil)
	rest := r.next()
	rest.done(answer(rest.req, 0, 102), nil)
	for i := 1; i <= 4; i++ {
		require.Equal(t, int64(99+i), r.outcome(i).Offset)
	}
	require.Equal(t, int64(1), r.s.cfg.Counters.Splits.Load())
}

// A batch refused RECORD_LIST_TOO_LARGE (larger than the broker's segment)
// is split, as one refused MESSAGE_TOO_LARGE is (see DESIGN.md: a choice,
// where the Java client fails it). Broken, its records failed with the
// refusal, though halves would have been taken.
func TestRecordListTooLargeSplitsTheBatchAsMessageTooLargeDoes(t *testing.T) {
	splitsFourInTwo(t, kerr.RecordListTooLarge)
}

// A batch refused INVALID_PRODUCER_EPOCH for an epoch older than the
// producer's (another partition's restart moved the producer on, and some
// brokers track a producer's epoch across its partitions) goes again at
// once, under the producer's epoch: the refusal's cause is known and
// already behind, so no backoff applies. Broken, the batch waited out a
// retry backoff first, one that grows with its attempts, for nothing.
func TestAnEpochRefusedAsOlderThanTheProducersGoesAgainAtOnce(t *testing.T) {
	backoffs := make(chan time.Duration, 8)
	r := newIdempotentRig(t, func(c *Config) {
		c.Events.Retried = func(_ accumulator.TopicPartition, _, _ int, backoff time.Duration, _ accumulator.Retry) {
			backoffs <- backoff
		}
	})
	r.produce(parts[0], 1)
	c := r.next()
	require.Equal(t, [3]int64{7, 0, 0}, producerOf(t, c))
	r.acc.SetProducerID(accumulator.ProducerID{ID: 7, Epoch: 1}) // another partition's restart
	c.done(answer(c.req, kerr.InvalidProducerEpoch.Code, -1), nil)
	select {
	case d := <-backoffs:
		require.Zero(t, d, "the retry waits a backoff")
	case <-time.After(10 * time.Second):
		t.Fatal("the batch was not retried within 10s of the answer")
	}
	c = r.next() // the fake clock has not moved
	require.Equal(t, [3]int64{7, 1, 0}, producerOf(t, c), "under the producer's epoch")
	c.done(answer(c.req, 0, 3), nil)
	require.Equal(t, int64(3), r.outcome(1).Offset)
}
