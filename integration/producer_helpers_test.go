package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
)

// newProducer starts our producer against seeds, with the test's changes to
// the defaults, and closes it when the test ends (failing the test if Close
// does not return cleanly).
func newProducer(t *testing.T, seeds []string, mod func(*producer.Config)) *producer.Producer {
	t.Helper()
	cfg := producer.Config{Brokers: seeds}
	if mod != nil {
		mod(&cfg)
	}
	p, err := producer.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		// Flush fails with ErrClosed once the test has closed the producer
		// itself: the test has judged what its Close returned, which a
		// second Close returns again.
		closedByTest := errors.Is(p.Flush(ctx), producer.ErrClosed)
		if err := p.Close(ctx); err != nil && !closedByTest {
			t.Errorf("closing the producer: %v", err)
		}
	})
	return p
}

// outcome is what a record's callback said.
type outcome struct {
	md    producer.RecordMetadata
	err   error
	calls int
}

// outcomes collects callbacks by record index, counting calls, so a test
// can require exactly one outcome per record: wait checks those before it
// returns, and a call after that fails the test as it comes, until the test
// ends (its producer's Close at cleanup waits for every callback still to
// run).
type outcomes struct {
	mu   sync.Mutex
	byID []outcome
	t    *testing.T // the test to tell of a second outcome, once wait returns
	wg   sync.WaitGroup
}

func newOutcomes(n int) *outcomes {
	o := &outcomes{byID: make([]outcome, n)}
	o.wg.Add(n)
	return o
}

// callback returns record i's callback.
func (o *outcomes) callback(i int) func(producer.RecordMetadata, error) {
	return func(md producer.RecordMetadata, err error) {
		o.mu.Lock()
		o.byID[i].md, o.byID[i].err = md, err
		o.byID[i].calls++
		calls := o.byID[i].calls
		if calls > 1 && o.t != nil {
			o.t.Errorf("record %d got outcome %d (%v) after the test checked it had one", i, calls, err)
		}
		o.mu.Unlock()
		if calls == 1 {
			o.wg.Done()
		}
	}
}

// wait returns once every record has an outcome, failing the test after
// testTimeout or when any record got more than one, then or later.
func (o *outcomes) wait(t *testing.T) []outcome {
	t.Helper()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		o.mu.Lock()
		missing := 0
		for _, r := range o.byID {
			if r.calls == 0 {
				missing++
			}
		}
		o.mu.Unlock()
		t.Fatalf("%d of %d records got no outcome within %v", missing, len(o.byID), testTimeout)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.t = t
	for i, r := range o.byID {
		require.Equal(t, 1, r.calls, "record %d got %d outcomes", i, r.calls)
	}
	return append([]outcome(nil), o.byID...)
}

// awaitMetadata asks PartitionsFor until topic's metadata has come. A test
// with a short MaxBlock calls it before its first record: on a loaded
// machine the first metadata may take longer than that MaxBlock, which
// bounds PartitionsFor as well as a record's wait for metadata.
func awaitMetadata(t *testing.T, p *producer.Producer, topic string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := p.PartitionsFor(testCtx(t), topic)
		return err == nil
	}, testTimeout, 5*time.Millisecond, "the metadata of %q: not within %v", topic, testTimeout)
}

// produceAll produces every record asynchronously and waits for all
// outcomes.
func produceAll(t *testing.T, p *producer.Producer, recs []*producer.Record) []outcome {
	t.Helper()
	o := newOutcomes(len(recs))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for i, r := range recs {
		p.Produce(ctx, r, o.callback(i))
	}
	return o.wait(t)
}

// requireAllAcked fails the test naming the first few failed records.
func requireAllAcked(t *testing.T, outs []outcome) {
	t.Helper()
	var failed []string
	for i, o := range outs {
		if o.err != nil && len(failed) < 5 {
			failed = append(failed, fmt.Sprintf("record %d: %v", i, o.err))
		}
	}
	require.Empty(t, failed, "records that were not acknowledged")
}
