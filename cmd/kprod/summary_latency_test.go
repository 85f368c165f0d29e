package main

import (
	"strings"
	"testing"
)

// The human latency line shows each percentile under its own name: with
// latencies of 1 to 1070 µs, all four differ.
func TestTheLatencyLineShowsEachPercentileInItsPlace(t *testing.T) {
	m := newMeter(1)
	m.shard(0).sent.Store(1070)
	for us := int64(1); us <= 1070; us++ {
		m.acked(m.shard(0).tally, us, 1)
	}
	got := writeSummary(t, summaryInput{mode: "perf", acks: "all", meter: m})
	const want = "latency   p50 0.535 ms, p99 1.060 ms, p99.9 1.069 ms, max 1.070 ms (Produce to ack)\n"
	if !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant the line\n%s", got, want)
	}
}
