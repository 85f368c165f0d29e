package integration

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
)

// A commit or an abort ends while other goroutines keep calling Produce:
// once it has begun, each call is refused at once and none holds it up.
// Before, EnterProduce counted every call as a record on its way into the
// transaction for a moment before it read the state, and the end waits
// until that count is zero when it looks: with four goroutines producing
// in a loop it never was, and CommitTransaction and AbortTransaction
// failed at their ctx saying records produced before the transaction
// began to end were still being appended.
func TestTxnEndsWhileOtherGoroutinesKeepProducing(t *testing.T) {
	ends := []struct {
		name string
		end  func(*producer.Producer, context.Context) error
	}{
		{"commit", (*producer.Producer).CommitTransaction},
		{"abort", (*producer.Producer).AbortTransaction},
	}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		for _, e := range ends {
			t.Run(e.name, func(t *testing.T) {
				topic := newTopic(t, seeds, 3)
				p, log := newTxnProducer(t, seeds, txnID(t, e.name), proto, nil)
				require.NoError(t, p.BeginTransaction())
				var calls atomic.Int64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() { produceUntil(p, topic, stop, &calls) })
				}
				defer func() { close(stop); wg.Wait() }()
				require.Eventually(t, func() bool { return calls.Load() >= 1000 }, testTimeout, time.Millisecond,
					"the producing goroutines did not get going")
				require.NoError(t, e.end(p, testCtx(t)), "the %s, with Produce called %d times so far; log:\n%s", e.name, calls.Load(), log)
			})
		}
	})
}

// produceUntil calls Produce in a loop until stop closes, counting the
// calls, whatever becomes of each record.
func produceUntil(p *producer.Producer, topic string, stop <-chan struct{}, calls *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		calls.Add(1)
		p.Produce(context.Background(), &producer.Record{Topic: topic, Value: []byte("v")}, nil)
	}
}
