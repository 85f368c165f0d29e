package integration

// What a callback may do (issue 8): callbacks never run on the goroutine
// that drives a broker's network, so a callback that calls Close, Flush or
// Send gets an answer by its ctx at the latest, and a callback that blocks
// holds up nothing but memory.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// callbackCallWait bounds how long a test waits for a call made from inside
// a callback to return, beyond the call's own ctx (callbackCallCtx): a
// healthy producer returns within the ctx, a deadlocked one never does, so
// the bound is the package's own, which a loaded machine does not reach.
const (
	callbackCallCtx  = 300 * time.Millisecond
	callbackCallWait = testTimeout
)

// Close, Flush or Send called from the callback of the first record to be
// acknowledged, while the other records are still in flight or buffered:
// the call returns by its ctx at the latest, and every record still gets
// exactly one outcome. Only Close may fail with ErrClosed: Flush and Send
// are called on a producer that is open. The record Send produces from the
// callback is written, exactly once, though Send cannot see its
// acknowledgement (send.go) and returns when its ctx ends.
func TestCallbackCallsProducer(t *testing.T) {
	const topic, partitions, sendTopic = "call-back", 3, "call-back-send"
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, p *producer.Producer) error
		// check judges what the call returned, err != nil.
		check func(t *testing.T, err error)
		sent  int // records the call itself produces to sendTopic
	}{
		{"Close", func(ctx context.Context, p *producer.Producer) error { return p.Close(ctx) },
			func(t *testing.T, err error) {
				assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, producer.ErrClosed),
					"Close from a callback may only fail because its ctx ended or the producer is closing: %v", err)
			}, 0},
		{"Flush", func(ctx context.Context, p *producer.Producer) error { return p.Flush(ctx) },
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, context.DeadlineExceeded,
					"Flush from a callback of an open producer may only fail because its ctx ended")
			}, 0},
		{"Send", func(ctx context.Context, p *producer.Producer) error {
			_, err := p.Send(ctx, &producer.Record{Topic: sendTopic, Value: []byte("sent from a callback")})
			return err
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, context.DeadlineExceeded,
				"Send from a callback of an open producer may only fail because its ctx ended")
			assert.ErrorIs(t, err, producer.ErrMaybeWritten, "Send's record was buffered and may still be written")
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: partitions, sendTopic: 1}})
			seeds := c.Addrs()
			p := newProducer(t, seeds, func(cfg *producer.Config) {
				fastRetries(cfg)
				smallBatches(cfg)
			})

			recs := recordsFor(topic, 600, keyOwnedBy(1, 30))
			o := newOutcomes(len(recs))
			var once sync.Once
			returned := make(chan error, 1)
			call := func() {
				ctx, cancel := context.WithTimeout(context.Background(), callbackCallCtx)
				defer cancel()
				returned <- tc.call(ctx, p)
			}
			ctx := testCtx(t)
			for i, r := range recs {
				cb := o.callback(i)
				p.Produce(ctx, r, func(md producer.RecordMetadata, err error) {
					cb(md, err)
					if err == nil {
						once.Do(call)
					}
				})
			}

			select {
			case err := <-returned:
				t.Logf("%s from a callback returned %v", tc.name, err)
				if err != nil {
					tc.check(t, err)
				}
			case <-time.After(callbackCallWait):
				t.Fatalf("%s called from a callback did not return within %v, though its ctx ended after %v: "+
					"it waits for the goroutine that runs the callback", tc.name, callbackCallWait, callbackCallCtx)
			}
			outs := o.wait(t)
			if tc.name != "Close" {
				requireAllAcked(t, outs)
				// What the call produced may still be buffered: the
				// callback's Send returned when its ctx ended. One record
				// behind records all acknowledged flushes as fast as a
				// call from a callback returns.
				flushCtx, cancel := context.WithTimeout(t.Context(), callbackCallWait)
				defer cancel()
				require.NoError(t, p.Flush(flushCtx), "flushing after the callback's %s, within %v", tc.name, callbackCallWait)
			}
			// Close may fail records in flight that were written after all,
			// so checkDelivery's rule on failed but written records is the
			// one that applies, not requireNoDuplicates.
			d := checkDelivery(t, seeds, topic, recs, outs)
			assert.Zero(t, d.duplicates, "there were no faults")
			d.requireKeyOrder(t)
			// The flush above returned: what the call produced is written
			// by now or never.
			e2eReadAllSaying(t, seeds, sendTopic, tc.sent,
				"(the record "+tc.name+" produced from a callback was not written, though the Flush after it returned)")
		})
	}
}

// A callback that blocks holds up nothing but memory: while the callback of
// a record of partition 0 waits, records produced to partition 1 of the same
// broker are still sent and written, one request after another. What the
// broker wrote is the signal, not our callbacks, which may be delivered in
// order after the blocked one.
func TestCallbackBlockedHoldsUpNothingElse(t *testing.T) {
	const topic, rounds = "slow-callback", 8
	// A blocked callback that held up the sender held up every write: a
	// bound that only the hang reaches.
	const writeWait = testTimeout
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, fastRetries)

	recs := recordsFor(topic, 1+rounds, nil)
	for i, r := range recs {
		r.Partition, r.ExplicitPartition = min(int32(i), 1), true // record 0 to partition 0, the rest to 1
	}
	o := newOutcomes(len(recs))
	ctx := testCtx(t)
	blocking, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // also when the test fails, so that the producer can close

	first := o.callback(0)
	p.Produce(ctx, recs[0], func(md producer.RecordMetadata, err error) {
		first(md, err)
		close(blocking)
		<-release
	})
	select {
	case <-blocking:
	case <-time.After(writeWait):
		t.Fatalf("record 0 got no outcome within %v", writeWait)
	}

	for i := 1; i < len(recs); i++ {
		p.Produce(ctx, recs[i], o.callback(i))
		require.Eventually(t, func() bool { return highWatermark(c, topic, 1) >= int64(i) }, writeWait, 5*time.Millisecond,
			"record %d (round %d of %d) to partition 1 was not written within %v while a callback of partition 0 blocked: "+
				"a slow callback must hold up nothing but memory", i, i, rounds, writeWait)
	}
	unblock()
	outs := o.wait(t)
	requireAllAcked(t, outs)
	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "there were no faults")
}

// highWatermark is the offset the broker will give the partition's next
// record: how many records it has written, seen from the broker's side; -1
// if the partition does not exist.
func highWatermark(c *embedded.Cluster, topic string, partition int32) int64 {
	if pi := c.Kfake().PartitionInfo(topic, partition); pi != nil {
		return pi.HighWatermark
	}
	return -1
}
