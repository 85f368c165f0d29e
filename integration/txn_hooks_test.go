package integration

// A record whose transaction ends while its HookRecordBuffered hooks run:
// Produce runs them outside the record's admission to the transaction, so
// that a hook may end it, and the end does not wait for the record.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
)

// A record whose Produce began in a transaction that was committed or
// aborted, and the next one begun, while its HookRecordBuffered hooks ran
// (on another goroutine, or from the hook itself) belongs to the ended
// transaction, not the next: it fails with ErrTransactionAborted, its
// HookRecordAcknowledged hears of it, and consumers reading committed
// records never see it. Before, Produce admitted it again to whatever
// transaction was open once its hooks returned: it was committed in the
// next, its callback reporting success.
func TestTxnARecordWhoseTransactionEndedWhileItsHooksRanIsNotCommittedInTheNext(t *testing.T) {
	ends := []struct {
		name string
		end  func(ctx context.Context, p *producer.Producer) error
		// fromTheHook: the record's own hook ends the transaction and
		// begins the next; else another goroutine does, while the hook
		// waits.
		fromTheHook bool
		// committed: what the ended transaction committed.
		committed []string
	}{
		{"CommitTransaction", commit, false, []string{"first"}},
		{"AbortTransaction", abort, false, nil},
		{"CommitTransaction from the hook", commit, true, []string{"first"}},
		{"AbortTransaction from the hook", abort, true, nil},
	}
	type marked struct{}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		for _, e := range ends {
			t.Run(e.name, func(t *testing.T) {
				topic := newTopic(t, seeds, 1)
				var p *producer.Producer
				entered, release := make(chan struct{}), make(chan struct{})
				endErr, acknowledged := make(chan error, 1), make(chan error, 2)
				endAndBegin := func() error {
					// Bounded, so that a wait for the record fails
					// rather than hangs.
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := e.end(ctx, p); err != nil {
						return err
					}
					return p.BeginTransaction()
				}
				buffered := bufferedHook(func(ctx context.Context, r producer.Record) context.Context {
					if ctx.Value(marked{}) == nil {
						return ctx
					}
					if e.fromTheHook {
						endErr <- endAndBegin()
						return ctx
					}
					close(entered)
					<-release
					return ctx
				})
				acked := ackHook(func(ctx context.Context, a producer.RecordAcknowledged) {
					if ctx.Value(marked{}) != nil {
						acknowledged <- a.Err
					}
				})
				p, log := newTxnProducer(t, seeds, txnID(t, "hooks"), proto, func(cfg *producer.Config) {
					cfg.Hooks = []producer.Hook{buffered, acked}
				})
				_, err := p.PartitionsFor(testCtx(t), topic)
				require.NoError(t, err)
				require.NoError(t, p.BeginTransaction())
				_, err = p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("first")})
				require.NoError(t, err)
				outcome := make(chan error, 2)
				produced := make(chan struct{})
				go func() {
					defer close(produced)
					p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("hooked"), Context: context.WithValue(context.Background(), marked{}, true)},
						func(_ producer.RecordMetadata, err error) { outcome <- err })
				}()
				if !e.fromTheHook {
					receive(t, entered, "the record's HookRecordBuffered did not run")
					endErr <- endAndBegin()
					close(release)
				}
				require.NoError(t, receive(t, endErr, e.name+" and BeginTransaction did not return"), "log:\n%s", log)
				receive(t, produced, "Produce did not return")
				_, err = p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("next")})
				require.NoError(t, err)
				require.NoError(t, p.CommitTransaction(testCtx(t)), "log:\n%s", log)

				require.ErrorIs(t, receive(t, outcome, "the record got no outcome"), producer.ErrTransactionAborted,
					"the record whose transaction ended while its hooks ran")
				require.ErrorIs(t, receive(t, acknowledged, "HookRecordAcknowledged heard nothing"), producer.ErrTransactionAborted)
				assert.Empty(t, outcome, "a second outcome")
				assert.Empty(t, acknowledged, "a second HookRecordAcknowledged")
				want := slices.Concat(e.committed, []string{"next"})
				var got []string
				for _, r := range readCommitted(t, seeds, topic, len(want)) {
					got = append(got, string(r.Value))
				}
				require.Equal(t, want, got, "the records committed")
			})
		}
	})
}

func commit(ctx context.Context, p *producer.Producer) error { return p.CommitTransaction(ctx) }
func abort(ctx context.Context, p *producer.Producer) error  { return p.AbortTransaction(ctx) }
