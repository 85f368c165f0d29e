package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Progress on stderr takes one of two forms: on a terminal, a bar redrawn in
// place; on a file or a pipe (a CI log, 2>run.log), a line every 5 s, as
// kafka-producer-perf-test prints, since a bar there is a heap of carriage
// returns nobody reads.

const (
	barInterval  = 200 * time.Millisecond // how often the bar is redrawn
	lineInterval = 5 * time.Second        // how often a progress line is printed
	rateWindow   = time.Second            // the bar's rate is over the last second
	barCells     = 20
)

type progressMode int

const (
	progressOff progressMode = iota
	progressBar
	progressLines
)

// progressModeFor reads --progress: auto is a bar on a terminal and lines
// elsewhere; "always" is the bar, as before the lines existed.
func progressModeFor(flag string, stderr io.Writer) progressMode {
	switch flag {
	case "never":
		return progressOff
	case "bar", "always":
		return progressBar
	case "lines":
		return progressLines
	}
	if isTerminal(stderr) {
		return progressBar
	}
	return progressLines
}

// sample is the meter's counts at one moment.
type sample struct {
	at time.Time
	c  counts
}

// progress shows how a run goes: records acknowledged (out of the total,
// when known), the rate, failures.
type progress struct {
	con   *console
	mode  progressMode
	total int64 // -1: unknown (stdin)
	// acked is what the display calls a record that succeeded: "written"
	// under acks=0, where no broker acknowledges it (successWords).
	acked  string
	m      *meter
	start  sample
	recent []sample // bar: oldest first, recent[0] the newest at least rateWindow old
	last   sample   // lines: when the last line was printed
	// nextLine is when the next line is due: lines keep to start plus
	// multiples of lineInterval. Due lineInterval after the last line's
	// tick, a line would wait a whole tick whenever this tick came a few
	// µs less late than that one (a ticker's delay varies): 5.2 s apart.
	nextLine time.Time
	done     chan struct{}
	wg       sync.WaitGroup
}

// newProgress is a display that has not started ticking.
func newProgress(con *console, mode progressMode, total int64, acked string, m *meter, now time.Time) *progress {
	s := sample{at: now, c: m.counts()}
	return &progress{con: con, mode: mode, total: total, acked: acked, m: m, start: s, recent: []sample{s}, last: s,
		nextLine: now.Add(lineInterval), done: make(chan struct{})}
}

// startProgress starts the display; its stop must be called once.
func startProgress(con *console, mode progressMode, total int64, acked string, m *meter) *progress {
	p := newProgress(con, mode, total, acked, m, time.Now())
	if mode == progressOff {
		return p
	}
	if mode == progressBar {
		p.tick(p.start.at) // at once, not a tick later
	}
	p.wg.Go(func() {
		t := time.NewTicker(barInterval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case now := <-t.C:
				p.tick(now)
			}
		}
	})
	return p
}

// tick updates the display at now.
func (p *progress) tick(now time.Time) {
	s := sample{at: now, c: p.m.counts()}
	switch p.mode {
	case progressBar:
		p.recent = append(p.recent, s)
		for len(p.recent) > 2 && now.Sub(p.recent[1].at) >= rateWindow {
			p.recent = p.recent[1:]
		}
		p.con.drawBar(p.barText(s, p.recent[0], p.con.width()))
	case progressLines:
		if !now.Before(p.nextLine) {
			p.con.line("%s", p.lineText(s, p.last))
			p.last = s
			for !now.Before(p.nextLine) { // past any lines a stall skipped
				p.nextLine = p.nextLine.Add(lineInterval)
			}
		}
	}
}

// stop ends the display and erases the bar, so that the summary follows on
// a clean line.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	p.con.clearBar()
}

// rate is records acknowledged per second between two samples.
func rate(from, to sample) float64 {
	secs := to.at.Sub(from.at).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(to.c.acked-from.c.acked) / secs
}

// barText is the bar at s, its rate measured since from, cut to width.
func (p *progress) barText(s, from sample, width int) string {
	var b strings.Builder
	b.WriteString(p.acked + " ")
	r := rate(from, s)
	if p.total > 0 {
		done := min(float64(s.c.acked)/float64(p.total), 1)
		full := int(done * barCells)
		fmt.Fprintf(&b, "[%s%s] %3.0f%% %s/%s", strings.Repeat("#", full), strings.Repeat(".", barCells-full),
			math.Floor(done*100), group(s.c.acked), group(p.total))
	} else {
		b.WriteString(group(s.c.acked))
	}
	fmt.Fprintf(&b, "  %s rec/s", formatRate(r))
	if s.c.failed > 0 {
		fmt.Fprintf(&b, "  %s failed", group(s.c.failed))
	}
	if left := p.total - s.c.acked - s.c.failed; p.total > 0 && left > 0 && r > 0 {
		fmt.Fprintf(&b, "  ETA %v", time.Duration(float64(left)/r*float64(time.Second)).Round(time.Second))
	}
	line := b.String()
	if n := width - 1; n > 0 && len(line) > n {
		line = line[:n]
	}
	return line
}

// lineText is a progress line at s: the totals, and the rates since prev.
func (p *progress) lineText(s, prev sample) string {
	var b strings.Builder
	if p.total > 0 {
		fmt.Fprintf(&b, "%s of %s %s (%.1f%%)", group(s.c.acked), plural(p.total, "record"), p.acked, 100*float64(s.c.acked)/float64(p.total))
	} else {
		fmt.Fprintf(&b, "%s %s", plural(s.c.acked, "record"), p.acked)
	}
	secs := s.at.Sub(prev.at).Seconds()
	mb := float64(s.c.bytes-prev.c.bytes) / (1 << 20) / secs
	fmt.Fprintf(&b, ", %s records/s, %.2f MB/s over the last %.1f s, %s failed", formatRate(rate(prev, s)), mb, secs, group(s.c.failed))
	return b.String()
}

// formatRate writes a rate with separators, and a decimal when it is small
// enough for one to matter.
func formatRate(r float64) string {
	if r >= 100 {
		return group(int64(math.Round(r)))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}
