package integration

// Every use of the API that issue 8 adds to the producer, ErrMaybeWritten
// and Config.DisableIdempotence, is in this file, so that the rest of the
// suite builds without it: until that API lands, move this file aside to
// run the rest.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

func init() {
	maybeWritten = func(err error) bool { return errors.Is(err, producer.ErrMaybeWritten) }
}

// A record whose request was sent and never answered fails with an error
// that says it may have been written (errors.Is ErrMaybeWritten), and the
// broker did write it; a record that certainly was not written fails with
// an error that does not say so. Losing that difference is franz-go issue
// #1217.
func TestIdempotenceMaybeWritten(t *testing.T) {
	const topic = "maybe"
	// Short timeouts, for the cases that wait for one to pass; seconds,
	// not fractions of one, as a record of such a case must be acknowledged
	// first within DeliveryTimeout (metadata, connection and producer id
	// included), on a machine that may be loaded.
	const requestTimeout = 500 * time.Millisecond
	timeouts := func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.RequestTimeout = requestTimeout
		cfg.DeliveryTimeout = 2 * time.Second
	}

	t.Run("sent, never answered within DeliveryTimeout", func(t *testing.T) {
		c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
		seeds := c.Addrs()
		p := newProducer(t, seeds, timeouts)
		recs := recordsFor(topic, 2, nil)
		outs := make([]outcome, len(recs))
		ctx := testCtx(t)
		md, err := p.Send(ctx, recs[0]) // metadata, connection and producer id in place
		require.NoError(t, err)
		outs[0] = outcome{md: md, calls: 1}

		handled := observeProduce(c)
		defer handled.Remove()
		before := p.Stats().Requests
		// Every attempt is held by the broker well past RequestTimeout,
		// then written.
		held := c.DelayNextProduce(1000, 4*requestTimeout)
		md, err = p.Send(ctx, recs[1])
		held.Remove()
		require.Error(t, err, "every request of record 1 was held past DeliveryTimeout")
		assert.ErrorIs(t, err, producer.ErrMaybeWritten, "record 1's request was sent and never answered")
		outs[1] = outcome{md: md, err: err, calls: 1}

		// Read back once the broker has written what it held.
		sent := p.Stats().Requests - before
		require.NoError(t, handled.Wait(ctx, int(sent)), "the broker handled %d of the %d requests sent", handled.Hits(), sent)
		d := checkDelivery(t, seeds, topic, recs, outs)
		assert.Equal(t, 1, d.copies[1], "record 1 is written once, whatever the number of attempts")
	})

	t.Run("in flight when Close gives up", func(t *testing.T) {
		c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
		seeds := c.Addrs()
		p := newProducer(t, seeds, fastRetries)
		recs := recordsFor(topic, 2, nil)
		ctx := testCtx(t)
		md, err := p.Send(ctx, recs[0])
		require.NoError(t, err)

		handled := observeProduce(c)
		defer handled.Remove()
		before := p.Stats().Requests
		held := c.DelayNextProduce(1, time.Second)
		o := newOutcomes(1)
		p.Produce(ctx, recs[1], o.callback(0))
		waitFault(t, held, "holding record 1's request")
		closeCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		assert.Error(t, p.Close(closeCtx), "Close gave up on a request the broker still holds")
		out := o.wait(t)[0]
		assert.ErrorIs(t, out.err, producer.ErrMaybeWritten, "record 1's request was sent and never answered")

		sent := p.Stats().Requests - before
		require.NoError(t, handled.Wait(ctx, int(sent)), "the broker handled %d of the %d requests sent", handled.Hits(), sent)
		d := checkDelivery(t, seeds, topic, recs, []outcome{{md: md, calls: 1}, out})
		assert.Equal(t, 1, d.copies[1], "record 1 is written once")
	})

	t.Run("never sent: its partition has no leader", func(t *testing.T) {
		c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
		seeds := c.Addrs()
		leaderless := fixedMetadata(t, c, topic, func(m *kmsg.MetadataResponse) {
			for i := range m.Topics {
				for j := range m.Topics[i].Partitions {
					if part := &m.Topics[i].Partitions[j]; part.Partition == 1 {
						part.Leader, part.ErrorCode = -1, kerr.LeaderNotAvailable.Code
					}
				}
			}
		})
		p := newProducer(t, seeds, timeouts)
		recs := recordsFor(topic, 2, nil)
		for i, r := range recs {
			r.Partition, r.ExplicitPartition = int32(i), true
		}
		outs := produceAll(t, p, recs)
		require.NoError(t, outs[0].err, "partition 0 has a leader")
		require.ErrorIs(t, outs[1].err, producer.ErrDeliveryTimeout, "partition 1 never had a leader")
		assert.False(t, errors.Is(outs[1].err, producer.ErrMaybeWritten),
			"record 1 was never sent, yet its error says it may have been written: %v", outs[1].err)

		leaderless()
		d := checkDelivery(t, seeds, topic, recs, outs)
		assert.Zero(t, d.copies[1], "record 1 was never sent")
	})

	t.Run("refused before the write", func(t *testing.T) {
		c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
		seeds := c.Addrs()
		// No short timeout: the record must fail for the refusal, never
		// for its DeliveryTimeout.
		p := newProducer(t, seeds, fastRetries)
		c.FailNextProduce(1, kerr.TopicAuthorizationFailed.Code)
		recs := recordsFor(topic, 1, nil)
		outs := produceAll(t, p, recs)
		require.ErrorIs(t, outs[0].err, kerr.TopicAuthorizationFailed)
		assert.False(t, errors.Is(outs[0].err, producer.ErrMaybeWritten),
			"the broker refused record 0, yet its error says it may have been written: %v", outs[0].err)
		d := checkDelivery(t, seeds, topic, recs, outs)
		assert.Zero(t, d.copies[0], "the broker refused record 0")
	})
}

// With idempotence turned off the producer still delivers every record, in
// order without faults, and writes them without a producer id.
func TestIdempotenceDisabled(t *testing.T) {
	const topic = "not-idempotent"
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 3}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) { cfg.DisableIdempotence = true })
	recs := recordsFor(topic, 300, keyOwnedBy(1, 30))
	outs := produceAll(t, p, recs)
	requireAllAcked(t, outs)
	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "there were no faults")
	d.requireKeyOrder(t)
	for _, g := range e2eReadAll(t, seeds, topic, len(recs)) {
		require.Equal(t, int64(-1), g.ProducerID, "%d@%d: written with a producer id, though idempotence is off", g.Partition, g.Offset)
	}
}
