package backoff

import (
	"math"
	"testing"
	"time"
)

func TestDelayDoublesWithJitterUpToMax(t *testing.T) {
	e := Exponential{Base: 100 * time.Millisecond, Max: time.Second}
	for failures, want := range map[int]time.Duration{0: 100, 1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 40: 1000} {
		lo, hi := want*time.Millisecond*8/10, want*time.Millisecond*12/10
		for range 100 {
			if got := e.Delay(failures); got < lo || got > hi {
				t.Fatalf("after %d failures: %v is not within ±20%% of %vms", failures, got, want)
			}
		}
	}
}

func TestDelaySpreads(t *testing.T) {
	e := Exponential{Base: time.Second, Max: time.Second}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[e.Delay(1)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 delays took only %d values: no jitter", len(seen))
	}
}

// A Max as large as a Duration goes (meaning "no cap") saturates: every
// wait is positive and grows with the failures, where doubling past 2^62
// ns wrapped to negative waits and then to zero.
func TestDelayNeverOverflows(t *testing.T) {
	for _, ceiling := range []time.Duration{math.MaxInt64, math.MaxInt64 / 3 * 2} {
		e := Exponential{Base: 100 * time.Millisecond, Max: ceiling}
		var last time.Duration
		for _, failures := range []int{30, 38, 40, 60, 64, 100, math.MaxInt} {
			got := e.Delay(failures)
			if got <= 0 {
				t.Fatalf("Max %v, after %d failures: a wait of %v", ceiling, failures, got)
			}
			if got < last/12*8 {
				t.Fatalf("Max %v, after %d failures: %v, below %v after fewer", ceiling, failures, got, last)
			}
			last = got
		}
	}
}

// A Base above Max still waits at most Max (±20%): a user's cap on the wait
// holds from the first failure, whatever Base says. The jitter's draw
// cannot change the outcome: 1s spread is at most 1.2s, 10s at least 8s.
func TestABaseAboveMaxWaitsAtMostMax(t *testing.T) {
	e := Exponential{Base: 10 * time.Second, Max: time.Second}
	if d := e.Delay(1); d > 1200*time.Millisecond {
		t.Fatalf("Base 10s, Max 1s: the first wait is %v", d)
	}
}
