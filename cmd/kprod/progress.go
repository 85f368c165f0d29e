package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressInterval is how often the display reads the counters.
const progressInterval = 200 * time.Millisecond

// progress is the live display on stderr: records acknowledged out of the
// total, the rate, and the errors so far. It is shown only on a terminal
// (or with --progress always); on a pipe, stderr carries only a few lines.
type progress struct {
	w    io.Writer
	bar  *progressbar.ProgressBar // nil when not shown
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex // orders updates and notes
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress starts the display for a run of total records (-1 when
// unknown) and returns it; its stop must be called once.
func startProgress(w io.Writer, mode string, total int64, m *meter) *progress {
	p := &progress{w: w, done: make(chan struct{})}
	if mode == "never" || (mode == "auto" && !isTerminal(w)) {
		return p
	}
	if total == 0 {
		total = -1 // progressbar refuses a zero maximum
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("acked"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rec"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(progressInterval/2),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true), // show the display from the start, not the first update
	)
	p.wg.Go(func() {
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.update(m)
			}
		}
	})
	return p
}

func (p *progress) update(m *meter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := m.counts()
	if c.failed > 0 {
		p.bar.Describe(fmt.Sprintf("acked (%s errors)", group(c.failed)))
	}
	_ = p.bar.Set64(c.acked)
}

// note prints a line on stderr without garbling the display.
func (p *progress) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear() // the next update draws it again, below the line
	}
	fmt.Fprintln(p.w, line)
}

// stop ends the display and erases it, so that the summary follows on a
// clean line.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
