package integration

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/partitioner"
)

// A panic in user code that Produce runs, recovered by Produce's caller,
// must not leave the record admitted to the transaction: the transaction
// still ends. Before the panic, the admission is still open and ends as
// Produce unwinds; after it (the callback of a record Produce refused runs
// once the admission has ended), it must not end a second time, which
// left the count of records on their way in below zero, and every later
// commit or abort waiting for it. Before the fix, a panic in the
// Partitioner or in HookRecordBuffered left the abort waiting until its
// ctx ended, for ever with context.Background().
func TestTxnEndsAfterAPanicInUserCodeProduceRanThatItsCallerRecovered(t *testing.T) {
	type armed struct{}
	cases := []struct {
		name string
		// produce produces a record whose user code panics with boom, its
		// Context carrying mark; partitioner and hook arm those to panic.
		produce           func(t *testing.T, p *producer.Producer, topic string, mark context.Context)
		partitioner, hook bool
	}{
		{"the Partitioner, before the record was appended", func(t *testing.T, p *producer.Producer, topic string, mark context.Context) {
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v"), Context: mark}, nil)
		}, true, false},
		{"HookRecordBuffered, before the record was appended", func(t *testing.T, p *producer.Producer, topic string, mark context.Context) {
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Partition: 0, ExplicitPartition: true, Value: []byte("v"), Context: mark}, nil)
		}, false, true},
		{"the callback of a record it refused, after its admission ended", func(t *testing.T, p *producer.Producer, topic string, mark context.Context) {
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Partition: 0, ExplicitPartition: true, Value: []byte("v"), Timestamp: time.UnixMilli(-1), Context: mark},
				func(_ producer.RecordMetadata, err error) {
					require.ErrorIs(t, err, producer.ErrInvalidRecord)
					panic(boom)
				})
		}, false, false},
	}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 1)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var part panicking
				hook := bufferedHook(func(ctx context.Context, r producer.Record) context.Context {
					if c.hook && ctx.Value(armed{}) != nil {
						panic(boom)
					}
					return nil
				})
				p, log := newTxnProducer(t, seeds, txnID(t, "panic"), proto, func(cfg *producer.Config) {
					cfg.Hooks = []producer.Hook{hook}
					cfg.Partitioner = &part
				})
				// Closed here, within a bound of its own, so that a record
				// left admitted fails the test in seconds, not after the
				// harness's Close waited testTimeout for it as well.
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					assert.NoError(t, p.Close(ctx), "Close; log:\n%s", log)
				})
				_, err := p.PartitionsFor(testCtx(t), topic)
				require.NoError(t, err)
				require.NoError(t, p.BeginTransaction())
				part.armed.Store(c.partitioner)
				func() {
					defer func() { require.Equal(t, boom, recover(), "the panic Produce passed on") }()
					c.produce(t, p, topic, context.WithValue(context.Background(), armed{}, true))
				}()

				// Bounded, so that a wait for the record fails the test
				// rather than hangs it.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				require.NoError(t, p.AbortTransaction(ctx), "the abort after the panic; log:\n%s", log)
				require.NoError(t, p.BeginTransaction())
				committed := make(chan error, 1)
				p.Produce(testCtx(t), &producer.Record{Topic: topic, Partition: 0, ExplicitPartition: true, Value: []byte("v")},
					func(_ producer.RecordMetadata, err error) { committed <- err })
				require.NoError(t, p.CommitTransaction(ctx), "the next transaction's commit; log:\n%s", log)
				require.NoError(t, receive(t, committed, "the next transaction's record"))
			})
		}
	})
}

// A Partitioner's panic in Produce fails a record whose hooks track it:
// its HookRecordAcknowledged hooks hear of it before the panic goes on to
// Produce's caller, with its admission to the transaction ended first, as
// for any record refused in Produce, so that the hook may end the
// transaction (a commit or an abort there waited for this very Produce,
// for ever with context.Background()). The transaction ends, and the next
// one commits.
func TestTxnAHookHearingOfAPartitionerPanicMayEndTheTransaction(t *testing.T) {
	type armed struct{}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 1)
		var part panicking
		var p *producer.Producer
		acked, aborted := make(chan error, 2), make(chan error, 2)
		hook := ackHook(func(ctx context.Context, a producer.RecordAcknowledged) {
			if ctx.Value(armed{}) == nil {
				return
			}
			acked <- a.Err
			// Bounded, so that a wait for the record fails the test
			// rather than hangs it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			aborted <- p.AbortTransaction(ctx)
		})
		p, log := newTxnProducer(t, seeds, txnID(t, "panic"), proto, func(cfg *producer.Config) {
			cfg.Hooks = []producer.Hook{hook}
			cfg.Partitioner = &part
		})
		_, err := p.PartitionsFor(testCtx(t), topic)
		require.NoError(t, err)
		require.NoError(t, p.BeginTransaction())
		part.armed.Store(true)
		func() {
			defer func() { require.Equal(t, boom, recover(), "the panic Produce passed on") }()
			mark := context.WithValue(context.Background(), armed{}, true)
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v"), Context: mark},
				func(producer.RecordMetadata, error) { t.Error("a callback ran beside the panic") })
		}()
		require.ErrorIs(t, receive(t, acked, "HookRecordAcknowledged heard nothing"), producer.ErrInvalidRecord)
		require.NoError(t, receive(t, aborted, "the hook's abort"), "the abort from the hook; log:\n%s", log)
		assert.Empty(t, acked, "a second HookRecordAcknowledged")

		require.NoError(t, p.BeginTransaction())
		_, err = p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("next")})
		require.NoError(t, err)
		require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction's commit; log:\n%s", log)
		require.Len(t, readCommitted(t, seeds, topic, 1), 1)
	})
}

// panicking is a Partitioner that panics once armed, and otherwise picks
// partition 0.
type panicking struct{ armed atomic.Bool }

func (p *panicking) Partition(*partitioner.Topic, []byte) int32 {
	if p.armed.CompareAndSwap(true, false) {
		panic(boom)
	}
	return 0
}

// boom is what user code that panics in tests panics with.
const boom = "user code's bug"
