package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// writeSummary is the human summary of a run with the meter's counts.
func writeSummary(t *testing.T, in summaryInput) string {
	t.Helper()
	var b bytes.Buffer
	if err := newSummary(in).write(&b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Typed records: the rates would measure the typist, so they are left out
// however many there are.
func TestSummaryOfTypedRecords(t *testing.T) {
	m := meterWith(5000, 0, 500_000)
	ph := phase{elapsed: 10 * time.Second, rated: m.counts(), cpu: time.Second}
	typed := writeSummary(t, summaryInput{mode: "produce", meter: m, interactive: true, phase: ph})
	piped := writeSummary(t, summaryInput{mode: "produce", meter: m, phase: ph})
	for _, figure := range []string{"records/s", "µs/record"} {
		if strings.Contains(typed, figure) || !strings.Contains(piped, figure) {
			t.Errorf("%q: typed run\n%s\npiped run\n%s", figure, typed, piped)
		}
	}
}

// The interrupted time is the time to the interrupt, with the flush after
// it apart; a run with nothing acknowledged has no latency to show.
func TestSummaryOfInterruptedRun(t *testing.T) {
	m := meterWith(0, 0, 0)
	got := writeSummary(t, summaryInput{mode: "perf", meter: m,
		phase: phase{interrupted: true, elapsed: 3 * time.Second, flushed: 250 * time.Millisecond}})
	if !strings.Contains(got, "time      3.000 s until interrupted (then 0.250 s to flush)") {
		t.Errorf("summary:\n%s", got)
	}
	if strings.Contains(got, "latency") {
		t.Errorf("latency shown without an acknowledged record:\n%s", got)
	}
}
