package integration

// Helpers of the end-to-end tests (e2e_*_test.go): topics in bulk, read-back
// with a bound, record comparison that tells nil from empty, and outcomes
// that must arrive before Produce returns.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
	"github.com/gokafka/producer/integration/testbroker"
	"github.com/gokafka/producer/internal/bounded"
)

// e2eNewTopics creates n topics of the given partition count and topic
// configs (nil for none) in one CreateTopics request (newTopic's one-by-one
// creation and polling would dominate a many-topic test against a real
// broker) and waits until every partition of every topic has a leader.
func e2eNewTopics(t *testing.T, seeds []string, n int, partitions int32, configs map[string]string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	prefix := fmt.Sprintf("%s-%d-%d", strings.NewReplacer("/", ".", " ", "_").Replace(t.Name()),
		time.Now().UnixNano(), topicSeq.Add(1))
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	require.NoError(t, testbroker.CreateTopics(ctx, cl, names, partitions, configs), "within %v", testTimeout)
	return names
}

// e2eReadAll reads topic back within testTimeout and requires exactly want
// records: fewer means records were lost, more that some were written twice
// or that a record reported as failed was written after all.
func e2eReadAll(t *testing.T, seeds []string, topic string, want int) []readback.Record {
	t.Helper()
	return e2eReadAllSaying(t, seeds, topic, want, "")
}

// e2eReadAllSaying is e2eReadAll failing with why, if given, when the
// records are not all there: for records that are written by now or never
// (a Flush returned after them).
func e2eReadAllSaying(t *testing.T, seeds []string, topic string, want int, why string) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, want)
	require.NoError(t, err, "reading back %s within %v %s", topic, testTimeout, why)
	require.Len(t, got, want, "records read back from %s", topic)
	return got
}

// e2eReadAllTopics reads many topics back concurrently (a few at a time) and
// returns each topic's records; want gives each topic's expected count.
func e2eReadAllTopics(t *testing.T, seeds []string, want map[string]int) map[string][]readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var (
		mu   sync.Mutex
		got  = make(map[string][]readback.Record, len(want))
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
	)
	for topic, n := range want {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			recs, err := readback.ReadAll(ctx, seeds, topic, n)
			mu.Lock()
			defer mu.Unlock()
			got[topic] = recs
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...), "reading back %d topics", len(want))
	return got
}

// e2eSameRecord compares everything the producer decides about a record
// with what the broker stored: key, value, headers in order (nil and empty
// values kept apart) and the timestamp in milliseconds.
func e2eSameRecord(t *testing.T, want *producer.Record, got readback.Record, what string) bool {
	t.Helper()
	ok := sameBytes(t, want.Key, got.Key, what+": key")
	ok = sameBytes(t, want.Value, got.Value, what+": value") && ok
	if !want.Timestamp.IsZero() {
		ok = assert.Equal(t, want.Timestamp.UnixMilli(), got.Timestamp.UnixMilli(), "%s: timestamp", what) && ok
	}
	if !assert.Len(t, got.Headers, len(want.Headers), "%s: headers", what) {
		return false
	}
	for i, h := range want.Headers {
		ok = assert.Equal(t, h.Key, got.Headers[i].Key, "%s: header %d key", what, i) && ok
		ok = sameBytes(t, h.Value, got.Headers[i].Value, fmt.Sprintf("%s: header %d (%q) value", what, i, h.Key)) && ok
	}
	return ok
}

// e2eOffsets indexes read-back records by partition and offset.
func e2eOffsets(recs []readback.Record) map[[2]int64]readback.Record {
	m := make(map[[2]int64]readback.Record, len(recs))
	for _, r := range recs {
		m[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	return m
}

// e2eOutcome is one callback's arguments.
type e2eOutcome struct {
	md  producer.RecordMetadata
	err error
}

// e2eProduceNow produces r and requires its callback to have run before
// Produce returned, as it must for a record rejected up front.
func e2eProduceNow(t *testing.T, p *producer.Producer, r *producer.Record) (producer.RecordMetadata, error) {
	t.Helper()
	got := make(chan e2eOutcome, 2)
	p.Produce(t.Context(), r, func(md producer.RecordMetadata, err error) { got <- e2eOutcome{md, err} })
	select {
	case o := <-got:
		require.Error(t, o.err, "record to %q was accepted, want it rejected at once", r.Topic)
		return o.md, o.err
	default:
		t.Fatalf("record to %q: no outcome when Produce returned; a record that can never be produced must fail at once", r.Topic)
		return producer.RecordMetadata{}, nil
	}
}

// e2eWait waits for done to close within testTimeout, failing with what.
func e2eWait(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	receive(t, done, what+": not done")
}

// receive returns what ch gives (the zero value once it is closed), failing
// with what if nothing comes within testTimeout: the bounded wait for a
// signal or a result from another goroutine.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return bounded.Receive(t, ch, testTimeout, what)
}
