package integration

// The goroutine adding a transaction's partitions (transactions v1) and a
// Close whose ctx ended, against the embedded broker.

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// A Close whose ctx has ended gives up on the abort while the partition
// adder is still under way (its AddPartitionsToTxn answered
// CONCURRENT_TRANSACTIONS, and the adder held in the log of its retry):
// Close still returns only once the adder has stopped, which it does at
// once when Close ends the producer's requests, so that no goroutine of
// the transaction outlives Close. Before, nothing waited for the adder: it
// booked its failure in the transaction and swept the accumulator after
// Close had returned.
func TestTxnCloseWaitsForThePartitionAdder(t *testing.T) {
	proto := txnProtocols[0] // v1: partitions are added by AddPartitionsToTxn
	c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	seeds := c.Addrs()
	setTransactionVersion(t, seeds, proto.level)
	adder := &adderRetryLog{entered: make(chan struct{}), verdict: make(chan string, 1)}
	p, log := newTxnProducer(t, seeds, txnID(t, "adder"), proto, func(cfg *producer.Config) {
		cfg.Linger = 0
		adder.next = cfg.Logger.Handler()
		cfg.Logger = slog.New(adder)
	})
	concurrentTransactions := refuseAddPartitions(kerr.ConcurrentTransactions.Code) // retried
	c.Kfake().ControlKey(int16(kmsg.AddPartitionsToTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().KeepControl()
		return concurrentTransactions(req)
	})

	require.NoError(t, p.BeginTransaction())
	o := newOutcomes(1)
	p.Produce(testCtx(t), &producer.Record{Topic: "t", Value: []byte("v")}, o.callback(0))
	select {
	case <-adder.entered:
	case <-time.After(testTimeout):
		t.Fatalf("the partition adder did not retry AddPartitionsToTxn; log:\n%s", log)
	}

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan error, 1)
	go func() {
		err := p.Close(ended)
		adder.closeReturned.Store(true)
		closed <- err
	}()
	if verdict := receive(t, adder.verdict, "the partition adder's log call was never let go"); verdict != "" {
		t.Fatal(verdict)
	}
	require.ErrorIs(t, receive(t, closed, "Close did not return once the partition adder had stopped"), context.Canceled,
		"Close, its ctx ended before the abort")
	require.ErrorIs(t, o.wait(t)[0].err, producer.ErrTransactionAborted, "the record")
}

// adderRetryLog is the producer's log handler. It holds the partition
// adder in its first log of an AddPartitionsToTxn retry until Close has
// either returned, which it must not do while the adder runs, or begun
// waiting for the adder, and hands in verdict what it found.
type adderRetryLog struct {
	next          slog.Handler
	held          atomic.Bool
	entered       chan struct{} // closed as the adder is held
	closeReturned atomic.Bool
	verdict       chan string // "" if Close waited for the adder, else what went wrong
}

// waitingForAdder is the frame of Close's wait for the partition adder.
const waitingForAdder = "txn.(*Manager).AwaitAdder("

func (h *adderRetryLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *adderRetryLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *adderRetryLog) WithGroup(string) slog.Handler            { return h }

func (h *adderRetryLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "coordinator request failed; retrying" && loggedAPI(r) == "AddPartitionsToTxn" && h.held.CompareAndSwap(false, true) {
		close(h.entered)
		h.verdict <- h.awaitClose()
	}
	return h.next.Handle(ctx, r)
}

// awaitClose waits, bounded, until Close has returned or waits for the
// adder, and says which was wrong.
func (h *adderRetryLog) awaitClose() string {
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		if h.closeReturned.Load() {
			return "Close returned while the partition adder was still running"
		}
		if stacksShow(waitingForAdder) {
			return ""
		}
		time.Sleep(time.Millisecond)
	}
	return "Close neither returned nor waited for the partition adder within the test's timeout"
}

// loggedAPI is the api attribute of a log record, "" without one.
func loggedAPI(r slog.Record) string {
	api := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "api" {
			api = a.Value.String()
			return false
		}
		return true
	})
	return api
}
