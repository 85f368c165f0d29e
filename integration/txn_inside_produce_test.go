package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
)

// A record Produce refuses (too large, stamped before 1970, or its ctx
// ended while it waited for buffer memory, for a batch or held for its
// topic's metadata) gets its outcome inside Produce, on the caller's
// goroutine. A callback or HookRecordAcknowledged ending the transaction
// there waited for that very Produce, as for a record produced before the
// end began that was still being appended, until the end's ctx ended (for
// ever with context.Background()). A refused record joins no batch: the
// end must not wait for it.
func TestTxnEndedFromTheCallbackOrHookOfARecordProduceRefused(t *testing.T) {
	refusals := []struct {
		name string
		// produce produces a record that Produce refuses, with cb as its
		// callback and ctx carrying the outcome hook's mark.
		produce func(t *testing.T, p *producer.Producer, topic string, mark context.Context, cb producer.Callback)
		refused func(t *testing.T, err error)
		// hooked: refused after HookRecordBuffered took it, so that
		// HookRecordAcknowledged hears of its outcome.
		hooked bool
	}{
		{"too large", func(t *testing.T, p *producer.Producer, topic string, mark context.Context, cb producer.Callback) {
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: make([]byte, 2<<20), Context: mark}, cb)
		}, func(t *testing.T, err error) {
			var tooLarge *producer.RecordTooLargeError
			require.ErrorAs(t, err, &tooLarge)
		}, false},
		{"stamped before 1970", func(t *testing.T, p *producer.Producer, topic string, mark context.Context, cb producer.Callback) {
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v"), Timestamp: time.UnixMilli(-1), Context: mark}, cb)
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, producer.ErrInvalidRecord) }, false},
		{"its ctx ended waiting for a batch's memory", func(t *testing.T, p *producer.Producer, topic string, mark context.Context, cb producer.Callback) {
			p.Produce(ended(), &producer.Record{Topic: topic, Partition: 1, ExplicitPartition: true, Value: []byte("v"), Context: mark}, cb)
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, context.Canceled) }, true},
		{"its ctx ended waiting for memory to wait for its topic", func(t *testing.T, p *producer.Producer, topic string, mark context.Context, cb producer.Callback) {
			p.Produce(ended(), &producer.Record{Topic: "unknown-" + topic, Value: []byte("v"), Context: mark}, cb)
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, context.Canceled) }, true},
	}
	ends := []struct {
		name string
		end  func(ctx context.Context, p *producer.Producer) error
	}{
		{"AbortTransaction", func(ctx context.Context, p *producer.Producer) error { return p.AbortTransaction(ctx) }},
		{"Close", func(ctx context.Context, p *producer.Producer) error { return p.Close(ctx) }},
	}
	type marked struct{}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 2)
		for _, refusal := range refusals {
			for _, e := range ends {
				for _, byHook := range []bool{false, true} {
					if byHook && !refusal.hooked {
						continue
					}
					name := refusal.name + "/" + e.name + "/from the callback"
					if byHook {
						name = refusal.name + "/" + e.name + "/from HookRecordAcknowledged"
					}
					t.Run(name, func(t *testing.T) {
						var p *producer.Producer
						endErr, recordErr := make(chan error, 1), make(chan error, 1)
						end := func(err error) {
							recordErr <- err
							// Bounded, so that a wait for this Produce fails
							// rather than hangs.
							ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
							defer cancel()
							endErr <- e.end(ctx, p)
						}
						hook := ackHook(func(ctx context.Context, a producer.RecordAcknowledged) {
							if byHook && ctx.Value(marked{}) != nil {
								end(a.Err)
							}
						})
						p, _ = newTxnProducer(t, seeds, txnID(t, "refused"), proto, func(cfg *producer.Config) {
							cfg.Hooks = []producer.Hook{hook}
							// One batch takes all the memory, and lingers.
							cfg.BatchSize, cfg.BufferMemory, cfg.Linger = 1024, 1024, 10*time.Second
						})
						_, err := p.PartitionsFor(testCtx(t), topic)
						require.NoError(t, err)
						require.NoError(t, p.BeginTransaction())
						p.Produce(testCtx(t), &producer.Record{Topic: topic, Partition: 0, ExplicitPartition: true, Value: []byte("takes the memory")}, nil)
						cb := func(_ producer.RecordMetadata, err error) {
							if !byHook {
								end(err)
							}
						}
						refusal.produce(t, p, topic, context.WithValue(context.Background(), marked{}, true), cb)

						refusal.refused(t, receive(t, recordErr, "the record got no outcome within Produce"))
						require.NoError(t, receive(t, endErr, e.name+" did not return"), "%s from the refused record's outcome", e.name)
						if e.name == "AbortTransaction" {
							require.NoError(t, p.BeginTransaction(), "the next transaction")
						}
					})
				}
			}
		}
	})
}

// A HookRecordBuffered hook may end the transaction, or Close the
// producer, as a callback may. The hook runs inside Produce, and the end
// waited for that very record's admission to the transaction, until its
// ctx ended: for ever with context.Background(). The record, which the
// ended transaction no longer takes, is refused (ErrTransactionAborted, or
// ErrClosed), and its HookRecordAcknowledged hears of it once.
func TestTxnEndedFromHookRecordBuffered(t *testing.T) {
	ends := []struct {
		name    string
		end     func(ctx context.Context, p *producer.Producer) error
		refused error
	}{
		{"AbortTransaction", func(ctx context.Context, p *producer.Producer) error { return p.AbortTransaction(ctx) }, producer.ErrTransactionAborted},
		{"CommitTransaction", func(ctx context.Context, p *producer.Producer) error { return p.CommitTransaction(ctx) }, producer.ErrTransactionAborted},
		{"Close", func(ctx context.Context, p *producer.Producer) error { return p.Close(ctx) }, producer.ErrClosed},
	}
	type marked struct{}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 1)
		for _, e := range ends {
			t.Run(e.name, func(t *testing.T) {
				var p *producer.Producer
				endErr, acknowledged := make(chan error, 1), make(chan error, 2)
				buffered := bufferedHook(func(ctx context.Context, r producer.Record) context.Context {
					if ctx.Value(marked{}) != nil {
						// Bounded, so that a wait for this Produce fails
						// rather than hangs.
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						endErr <- e.end(ctx, p)
					}
					return nil
				})
				acked := ackHook(func(ctx context.Context, a producer.RecordAcknowledged) {
					if ctx.Value(marked{}) != nil {
						acknowledged <- a.Err
					}
				})
				p, _ = newTxnProducer(t, seeds, txnID(t, "buffered"), proto, func(cfg *producer.Config) {
					cfg.Hooks = []producer.Hook{buffered, acked}
				})
				_, err := p.PartitionsFor(testCtx(t), topic)
				require.NoError(t, err)
				require.NoError(t, p.BeginTransaction())
				_, err = p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("before")})
				require.NoError(t, err)
				outcome := make(chan error, 2)
				p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v"), Context: context.WithValue(context.Background(), marked{}, true)},
					func(_ producer.RecordMetadata, err error) { outcome <- err })

				require.NoError(t, receive(t, endErr, e.name+" did not return"), "%s from HookRecordBuffered", e.name)
				require.ErrorIs(t, receive(t, outcome, "the record got no outcome"), e.refused)
				require.ErrorIs(t, receive(t, acknowledged, "HookRecordAcknowledged heard nothing"), e.refused)
				assert.Empty(t, outcome, "a second outcome")
				assert.Empty(t, acknowledged, "a second HookRecordAcknowledged")
			})
		}
	})
}

// ended is a context that has ended.
func ended() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// ackHook is a HookRecordAcknowledged made of a function.
type ackHook func(context.Context, producer.RecordAcknowledged)

func (h ackHook) OnRecordAcknowledged(ctx context.Context, a producer.RecordAcknowledged) { h(ctx, a) }

// bufferedHook is a HookRecordBuffered made of a function.
type bufferedHook func(context.Context, producer.Record) context.Context

func (h bufferedHook) OnRecordBuffered(ctx context.Context, r producer.Record) context.Context {
	return h(ctx, r)
}
