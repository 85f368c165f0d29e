package main

import (
	"math"
	"testing"
	"time"
)

// --throughput -1 is unlimited, as kafka-producer-perf-test writes it and
// --help says: the one negative taken.
func TestThroughputMinusOneIsUnlimited(t *testing.T) {
	o, err := parsePerf(t, "--throughput", "-1")
	if err != nil {
		t.Fatalf("--throughput -1: %v", err)
	}
	if interval, ok := paceInterval(o.throughput, o.concurrency); interval != 0 || !ok {
		t.Errorf("--throughput -1 paces every %v (%t), want no pacing", interval, ok)
	}
}

// A throughput whose interval is 2^63 ns, one past the longest
// time.Duration, is refused: float64(math.MaxInt64) is 2^63 itself, and
// the conversion of that float overflows (to a negative interval on amd64,
// which turned pacing off).
func TestAThroughputJustTooSlowToPaceIsRefused(t *testing.T) {
	for _, concurrency := range []int{1, 3} {
		throughput := float64(time.Second) * float64(concurrency) / math.Ldexp(1, 63)
		if interval, ok := paceInterval(throughput, concurrency); ok {
			t.Errorf("paceInterval(%v, %d) = %v, taken; want it refused", throughput, concurrency, interval)
		}
	}
}
