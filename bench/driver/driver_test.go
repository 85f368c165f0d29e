package driver

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClient completes every record at once, failing those whose value
// fail picks, and remembers what it was sent.
type fakeClient struct {
	mu     sync.Mutex
	keys   [][]byte
	values [][]byte
	fail   func(value []byte) bool
}

func (f *fakeClient) Callback(done func(error)) any { return done }

func (f *fakeClient) Produce(key, value []byte, cb any) {
	done := cb.(func(error))
	f.mu.Lock()
	f.keys = append(f.keys, key)
	f.values = append(f.values, value)
	f.mu.Unlock()
	if f.fail != nil && f.fail(value) {
		done(errors.New("refused"))
		return
	}
	done(nil)
}

func (f *fakeClient) Flush(context.Context) error { return nil }
func (f *fakeClient) Close() error                { return nil }

func settings() Settings {
	return Settings{Brokers: []string{"b:9092"}, Topic: "t", Records: 100, ValueSize: 100, KeySize: 16,
		Compression: "none", Acks: "all", Linger: 5 * time.Millisecond, BatchSize: 1 << 16, BufferMemory: 1 << 25, Idempotent: true}
}

func TestDriveCountsEveryRecordAndTheWarmUp(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"async", "senders", "rate"} {
		s := settings()
		switch mode {
		case "senders":
			s.Senders = 7
		case "rate":
			s.Rate = 1_000_000 // 100 records in 0.1 ms: paced, but fast
		}
		f := &fakeClient{}
		res, err := Drive(ctx, f, s)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if res.Produced != s.Records+1 || len(f.values) != s.Records+1 || res.Failed != 0 {
			t.Errorf("%s: produced %d, sent %d, failed %d; want %d sent, none failed", mode, res.Produced, len(f.values), res.Failed, s.Records+1)
		}
		if (mode == "rate") != (res.P99 > 0) {
			t.Errorf("%s: p99 %v; want one on the paced workload only", mode, res.P99)
		}
		for i, k := range f.keys {
			if len(k) != 16 || len(f.values[i]) != 100 {
				t.Fatalf("%s: record %d has a %d-byte key and a %d-byte value", mode, i, len(k), len(f.values[i]))
			}
		}
	}
}

// TestSendersReportTheirStacks: the senders workload reports the stack
// memory it added per sender: about the 2 KiB a goroutine starts with,
// and not absurdly more. The client holds every sender's record until all
// have sent one, as a broker's acks keep thousands of senders waiting at
// once; records completed at once would let each goroutine exit, and the
// next reuse its stack, before the next was started.
func TestSendersReportTheirStacks(t *testing.T) {
	s := settings()
	s.Records, s.Senders = 2000, 2000
	res, err := Drive(context.Background(), &holdingClient{hold: s.Senders}, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.SenderStack < 1<<10 || res.SenderStack > 1<<20 {
		t.Errorf("%d bytes of stack per sender, want from 1 KiB to 1 MiB", res.SenderStack)
	}
	s.Senders = 0
	if res, err = Drive(context.Background(), &fakeClient{}, s); err != nil || res.SenderStack != 0 {
		t.Errorf("without senders: %d bytes of stack per sender, %v; want none", res.SenderStack, err)
	}
}

// holdingClient completes the warm-up record at once and holds the next
// hold records' callbacks until it has them all, then completes them; any
// later record, at once.
type holdingClient struct {
	mu    sync.Mutex
	warm  bool          // the warm-up record has been completed
	hold  int           // records to hold before completing any
	held  int           // records held so far
	waits []func(error) // their callbacks, until held reaches hold
}

func (h *holdingClient) Callback(done func(error)) any { return done }

func (h *holdingClient) Produce(_, _ []byte, cb any) {
	done := cb.(func(error))
	h.mu.Lock()
	if !h.warm || h.held >= h.hold {
		h.warm = true
		h.mu.Unlock()
		done(nil)
		return
	}
	h.waits = append(h.waits, done)
	h.held++
	var release []func(error)
	if h.held == h.hold {
		release, h.waits = h.waits, nil
	}
	h.mu.Unlock()
	for _, d := range release {
		d(nil)
	}
}

func (h *holdingClient) Flush(context.Context) error { return nil }
func (h *holdingClient) Close() error                { return nil }

func TestDriveCountsFailures(t *testing.T) {
	s := settings()
	first := true
	f := &fakeClient{fail: func([]byte) bool {
		if first { // the warm-up must succeed
			first = false
			return false
		}
		return true
	}}
	res, err := Drive(context.Background(), f, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != int64(s.Records) || res.FirstError != "refused" {
		t.Errorf("failed %d (%q), want %d (refused)", res.Failed, res.FirstError, s.Records)
	}
}

// TestValuesDoNotRepeatWithinARing keeps the compressed workloads honest: a
// codec must not find the same value twice in a batch.
func TestValuesDoNotRepeatWithinARing(t *testing.T) {
	r := newRing(RingSize, 100, valueSeed)
	seen := make(map[string]bool, RingSize)
	for range RingSize {
		v := string(r.take())
		if seen[v] {
			t.Fatal("a value repeats within the ring")
		}
		seen[v] = true
	}
	again := newRing(RingSize, 100, valueSeed)
	if !bytes.Equal(again.take(), newRing(RingSize, 100, valueSeed).take()) {
		t.Error("the same seed made different values: clients would not send the same bytes")
	}
	if newRing(RingSize, 0, keySeed).take() != nil {
		t.Error("a ring of 0-byte keys gave a key; want nil (no key)")
	}
}

func TestPayloadLinesHaveNoNewlineInside(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(string(PayloadLines(50, 100)), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for i, l := range lines {
		if len(l) != 100 {
			t.Fatalf("line %d is %d bytes, want 100", i, len(l))
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Settings){
		"no brokers":        func(s *Settings) { s.Brokers = nil },
		"no records":        func(s *Settings) { s.Records = 0 },
		"senders and rate":  func(s *Settings) { s.Senders, s.Rate = 2, 10 },
		"unknown codec":     func(s *Settings) { s.Compression = "brotli" },
		"unknown acks":      func(s *Settings) { s.Acks = "2" },
		"senders > records": func(s *Settings) { s.Senders = s.Records + 1 },
	} {
		s := settings()
		mutate(&s)
		text, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeSettings(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	text, _ := settings().Encode()
	if got, err := DecodeSettings(text); err != nil || got.Linger != 5*time.Millisecond || got.Topic != "t" {
		t.Errorf("round trip: %+v, %v", got, err)
	}
}

// TestPercentileIsNearestRank pins the rank: p99 of 60 values is the 60th
// (the smallest with 99% at or below it), p50 of 60 the 30th.
func TestPercentileIsNearestRank(t *testing.T) {
	sorted := make([]time.Duration, 60)
	for i := range sorted {
		sorted[i] = time.Duration(i + 1)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.50, 30}, {0.99, 60}, {0, 1}, {1, 60}} {
		if got := percentile(sorted, c.q); got != c.want {
			t.Errorf("percentile(1..60, %v) = %d, want %d", c.q, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile of one value = %d, want 7", got)
	}
}

// TestOutcomeCountsWithoutAllocating checks that counting a success
// allocates nothing: the harness runs it once per record for every client,
// so an allocation there would weigh on every client's CPU and memory.
func TestOutcomeCountsWithoutAllocating(t *testing.T) {
	out := newOutcome(1 << 30)
	if n := testing.AllocsPerRun(1000, func() { out.done(nil) }); n != 0 {
		t.Fatalf("outcome.done(nil) allocates %v times per call, want 0", n)
	}
	out.done(errors.New("first"))
	out.done(errors.New("second"))
	if got := (*out.first.Load()).Error(); got != "first" {
		t.Fatalf("first error kept = %q, want %q", got, "first")
	}
}

// repeatingClient completes every record at once, but the record of its
// Produce call number again (the warm-up is call 1) twice in a row, and
// that of call heldUntilClose only when it is closed: a client that
// breaks "exactly one outcome per record".
type repeatingClient struct {
	mu             sync.Mutex
	calls          int
	again          int
	heldUntilClose int
	held           func(error)
}

func (r *repeatingClient) Callback(done func(error)) any { return done }

func (r *repeatingClient) Produce(_, _ []byte, cb any) {
	done := cb.(func(error))
	r.mu.Lock()
	r.calls++
	call := r.calls
	if call == r.heldUntilClose {
		r.held = done
	}
	r.mu.Unlock()
	if call == r.heldUntilClose {
		return
	}
	done(nil)
	if call == r.again {
		done(nil)
	}
}

// Flush returns at once, as sarama's and kafka-go's do: the driver waits
// for the callbacks themselves.
func (r *repeatingClient) Flush(context.Context) error { return nil }

func (r *repeatingClient) Close() error {
	if r.held != nil {
		r.held(nil)
	}
	return nil
}

// TestARecordCompletedTwiceFailsTheRun: a callback that runs twice for one
// record fails the run on every workload, the warm-up's included, and
// blocks nothing: the senders' and the warm-up's callback sent a second
// ack into a channel that had room for one, inside Produce, for ever.
func TestARecordCompletedTwiceFailsTheRun(t *testing.T) {
	for _, c := range []struct {
		mode  string
		again int
	}{{"warm-up", 1}, {"async", 2}, {"senders", 2}, {"rate", 2}} {
		s := settings()
		switch c.mode {
		case "senders":
			s.Senders = 7
		case "rate":
			s.Rate = 1_000_000
		}
		ended := make(chan error, 1)
		go func() {
			_, err := Drive(context.Background(), &repeatingClient{again: c.again}, s)
			ended <- err
		}()
		select {
		case err := <-ended:
			if err == nil || !strings.Contains(err.Error(), "more than once") && !strings.Contains(err.Error(), "ran again") {
				t.Errorf("%s: Drive returned %v; want the second callback's error", c.mode, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: Drive did not return within 10s: the second callback blocked", c.mode)
		}
	}
}

// TestARecordCompletedOnlyAtCloseFailsTheRunThatSawAnotherTwice: on the
// throughput workload, whose shared callback cannot tell records apart, a
// record completed twice let the count reach the records while another
// still waited for its callback, which came at Close: the run reported
// every record produced. Main counts the callbacks again after Close.
func TestARecordCompletedOnlyAtCloseFailsTheRunThatSawAnotherTwice(t *testing.T) {
	s := settings()
	text, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	client := &repeatingClient{again: 2, heldUntilClose: s.Records + 1}
	open := func(Settings) (Client, []string, error) { return client, nil, nil }
	var stdout strings.Builder
	err = run([]string{"-settings", text}, &stdout, "repeating", "v0", open)
	if err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("run returned %v, printing %q; want the extra callback's error", err, stdout.String())
	}
	if client.held == nil {
		t.Fatal("the last record was not held: the test no longer tests anything")
	}
}

// TestProducedCountsTheCompletedRecords: Produced is what completed, the
// warm-up included, not what the settings asked for.
func TestProducedCountsTheCompletedRecords(t *testing.T) {
	out := newOutcome(10)
	for range 7 {
		out.done(nil)
	}
	if got := out.produced(); got != 8 {
		t.Errorf("produced() = %d after 7 records and the warm-up, want 8", got)
	}
	if err := out.exactlyOnce(); err == nil || !strings.Contains(err.Error(), "7 of 10") {
		t.Errorf("exactlyOnce() = %v, want 7 of 10 records completed", err)
	}
}

// stallingClient completes every record at once, but its Produce call
// number stall (the warm-up is call 1) first blocks for stallFor, as a
// Produce does while the buffer is full.
type stallingClient struct {
	calls    int
	stall    int
	stallFor time.Duration
}

func (c *stallingClient) Callback(done func(error)) any { return done }

func (c *stallingClient) Produce(_, _ []byte, cb any) {
	c.calls++
	if c.calls == c.stall {
		time.Sleep(c.stallFor) // the stall measured, not a synchronization
	}
	cb.(func(error))(nil)
}

func (c *stallingClient) Flush(context.Context) error { return nil }
func (c *stallingClient) Close() error                { return nil }

// TestPacedLatencyCountsTheRecordsAStallDelayed: records due while Produce
// blocked are late by the wait they had for their turn. Timed from their
// Produce call they were sent back to back after the stall and looked as
// fast as the rest: with a 100ms stall over 100 of 400 records due a
// millisecond apart, p99 came out in microseconds.
func TestPacedLatencyCountsTheRecordsAStallDelayed(t *testing.T) {
	s := settings()
	s.KeySize, s.Rate, s.Records = 0, 1000, 400
	res, err := Drive(context.Background(), &stallingClient{stall: 11, stallFor: 100 * time.Millisecond}, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.P99 < 50*time.Millisecond {
		t.Errorf("p99 %v after a 100ms stall that delayed a quarter of the records; want at least 50ms", res.P99)
	}
	if res.LatencyFrom != LatencyFromDueTime {
		t.Errorf("LatencyFrom = %q, want %q", res.LatencyFrom, LatencyFromDueTime)
	}
}

// valueCounter is a client that counts the values it is sent, by their
// index in the ring.
type valueCounter struct {
	mu      sync.Mutex
	indexOf map[string]int
	counts  []int
}

func (v *valueCounter) Callback(done func(error)) any { return done }

func (v *valueCounter) Produce(_, value []byte, cb any) {
	v.mu.Lock()
	v.counts[v.indexOf[string(value)]]++
	v.mu.Unlock()
	cb.(func(error))(nil)
}

func (v *valueCounter) Flush(context.Context) error { return nil }
func (v *valueCounter) Close() error                { return nil }

// TestValueCountsAreWhatTheWorkloadsSend: the harness checks a run's topic
// against ValueCounts, which must say what Drive sends on every workload,
// across the ring's end included.
func TestValueCountsAreWhatTheWorkloadsSend(t *testing.T) {
	for _, mode := range []string{"async", "senders", "rate"} {
		s := settings()
		s.Records = RingSize + 500
		switch mode {
		case "senders":
			s.Senders = 7
		case "rate":
			s.Rate = 100_000_000
		}
		client := &valueCounter{indexOf: map[string]int{}, counts: make([]int, RingSize)}
		for i, v := range Values(s.ValueSize) {
			client.indexOf[string(v)] = i
		}
		if _, err := Drive(context.Background(), client, s); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if want := ValueCounts(s); !slices.Equal(client.counts, want) {
			for i := range want {
				if client.counts[i] != want[i] {
					t.Errorf("%s: value %d sent %d times, ValueCounts says %d", mode, i, client.counts[i], want[i])
					break
				}
			}
		}
	}
}
