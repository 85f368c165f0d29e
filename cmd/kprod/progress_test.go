package main

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// meterWith is a meter whose counts are acked, failed and bytes.
func meterWith(acked, failed, bytes int64) *meter {
	m := newMeter(1)
	s := m.shard(0)
	s.sent.Store(acked + failed)
	s.tally.acked, s.tally.bytes = acked, bytes
	m.failed = failed
	return m
}

func TestBarText(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := newProgress(newConsole(&bytes.Buffer{}), progressBar, 5_000_000, "acked", meterWith(0, 0, 0), t0)
	now := sample{at: t0.Add(2 * time.Second), c: counts{acked: 1_234_567, failed: 3}}
	from := sample{at: t0.Add(time.Second), c: counts{acked: 234_567}}
	got := p.barText(now, from, 200)
	want := "acked [####................]  24% 1,234,567/5,000,000  1,000,000 rec/s  3 failed  ETA 4s"
	if got != want {
		t.Errorf("bar\n%q\nwant\n%q", got, want)
	}
	if got := p.barText(now, from, 40); len(got) != 39 {
		t.Errorf("bar on a 40-column terminal is %d wide: %q", len(got), got)
	}

	// Unknown total (stdin), a slow rate: no "/-", no rec/hr, no ETA.
	p.total = -1
	slow := sample{at: t0.Add(4 * time.Second), c: counts{acked: 2}}
	got = p.barText(slow, sample{at: t0}, 200)
	if want := "acked 2  0.5 rec/s"; got != want {
		t.Errorf("bar %q, want %q", got, want)
	}
}

func TestProgressLineText(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := newProgress(newConsole(&bytes.Buffer{}), progressLines, 5_000_000, "acked", meterWith(0, 0, 0), t0)
	prev := sample{at: t0, c: counts{acked: 234_567, bytes: 234_567 * 100}}
	now := sample{at: t0.Add(5 * time.Second), c: counts{acked: 1_234_567, failed: 2, bytes: 1_234_567 * 100}}
	got := p.lineText(now, prev)
	want := "1,234,567 of 5,000,000 records acked (24.7%), 200,000 records/s, 19.07 MB/s over the last 5.0 s, 2 failed"
	if got != want {
		t.Errorf("line\n%q\nwant\n%q", got, want)
	}
	p.acked = "written" // acks=0
	if got, want := p.lineText(now, prev), strings.Replace(want, "acked", "written", 1); got != want {
		t.Errorf("line under acks=0\n%q\nwant\n%q", got, want)
	}
}

// A progress line counts one record in the singular, as the summary does:
// a run of one record, or of stdin with one line read, printed "1 of 1
// records acked" and "1 records acked".
func TestAProgressLineSaysOneRecordInTheSingular(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := sample{at: t0}
	now := sample{at: t0.Add(5 * time.Second), c: counts{acked: 1, bytes: 100}}
	for total, want := range map[int64]string{
		1:  "1 of 1 record acked (100.0%), 0.2 records/s",
		-1: "1 record acked, 0.2 records/s",
	} {
		p := newProgress(newConsole(&bytes.Buffer{}), progressLines, total, "acked", meterWith(0, 0, 0), t0)
		if got := p.lineText(now, prev); !strings.HasPrefix(got, want) {
			t.Errorf("total %d: line\n%q\nwant it to start\n%q", total, got, want)
		}
	}
}

// Off a terminal, a line every 5 s, and no carriage returns.
func TestProgressLinesEveryFiveSeconds(t *testing.T) {
	var out bytes.Buffer
	t0 := time.Unix(1000, 0)
	m := meterWith(10, 0, 1000)
	p := newProgress(newConsole(&out), progressLines, -1, "acked", m, t0)
	for _, at := range []time.Duration{time.Second, 4900 * time.Millisecond, 5 * time.Second, 9 * time.Second, 10 * time.Second} {
		p.tick(t0.Add(at))
	}
	if n := strings.Count(out.String(), "records acked"); n != 2 || strings.Contains(out.String(), "\r") {
		t.Errorf("%d lines in 10 s, want 2 (at 5 s and 10 s), without a bar:\n%q", n, out.String())
	}
}

// A ticker delivers each tick a little after its time, by a varying delay
// (tens of µs): lines keep to a schedule of one every 5 s from the start,
// where a line due 5 s after the last one's tick waited for the next tick
// whenever this tick's delay was the smaller, a third of the time (lines
// 5.2 s apart). Each line's rates are over the time since the last line.
func TestProgressLinesKeepToTheirScheduleWhateverTheTicksDelay(t *testing.T) {
	var out bytes.Buffer
	t0 := time.Unix(1000, 0)
	m := meterWith(0, 0, 0)
	p := newProgress(newConsole(&out), progressLines, -1, "acked", m, t0)
	const ticks = 300 // 60 s
	var printed []time.Duration
	for k := 1; k <= ticks; k++ {
		delay := time.Duration((k*37)%100) * time.Microsecond
		now := t0.Add(time.Duration(k)*barInterval + delay)
		m.shard(0).tally.acked += 200 // 1,000 records/s
		before := out.Len()
		p.tick(now)
		if out.Len() != before {
			printed = append(printed, now.Sub(t0))
		}
	}
	for i, at := range printed {
		if want := time.Duration(i+1) * lineInterval; at-want >= barInterval {
			t.Errorf("line %d printed at %v, a tick or more after %v", i+1, at, want)
		}
	}
	if want := int(ticks * barInterval / lineInterval); len(printed) != want {
		t.Errorf("%d lines in %v, want %d", len(printed), ticks*barInterval, want)
	}
	if n := strings.Count(out.String(), "1,000 records/s"); n != len(printed) {
		t.Errorf("%d of %d lines give the rate of 1,000 records/s:\n%s", n, len(printed), out.String())
	}
}

// A line printed while the bar is shown erases it first; stop erases it,
// so that no stale bar is left (after Ctrl-C, say).
func TestBarAndLinesShareStderr(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out)
	p := startProgress(con, progressBar, 10, "acked", meterWith(5, 0, 50))
	con.line("interrupted")
	p.stop()
	got := out.String()
	if !strings.HasPrefix(got, eraseLine+"acked [") {
		t.Fatalf("the bar is not drawn at once: %q", got)
	}
	i := strings.Index(got, "kprod: interrupted\n")
	if i < len(eraseLine) || got[i-len(eraseLine):i] != eraseLine {
		t.Errorf("the line does not erase the bar first: %q", got)
	}
	if !strings.HasSuffix(got, eraseLine) && !strings.HasSuffix(got, "kprod: interrupted\n") {
		t.Errorf("stop leaves the bar on screen: %q", got)
	}
}

// kprod itself, with stderr a pipe: the auto mode prints progress lines.
func TestProgressLinesWhenStderrIsNotATerminal(t *testing.T) {
	t.Parallel() // it waits on timers; the others run meanwhile
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kprodBin, "produce", "-b", sharedBroker(t), "--create-topic", "-t", uniqueTopic("lines"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	if _, err := stdin.Write([]byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}
	// The first line comes lineInterval after producing starts; stdin
	// stays open until then.
	sc := bufio.NewScanner(stderr)
	var seen strings.Builder
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "2 records acked") {
			if strings.Contains(seen.String(), "\r") {
				t.Errorf("a bar was drawn on a pipe:\n%q", seen.String())
			}
			return
		}
	}
	t.Fatalf("no progress line before kprod ended:\n%s", seen.String())
}
