package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// console is kprod's stderr during a run: its own lines, the library's log
// with --debug, and the live progress bar. Lines and the bar share one
// terminal line discipline: a line first erases the bar, which the next
// tick draws again below it, so nothing is left half-drawn (a stale bar
// after Ctrl-C, a log line glued to the bar).
type console struct {
	mu  sync.Mutex
	w   io.Writer
	bar bool // a bar is on the current line
}

// eraseLine returns to the start of the line and clears it (ANSI EL).
const eraseLine = "\r\x1b[K"

func newConsole(w io.Writer) *console { return &console{w: w} }

// line prints the formatted message on a line of its own, each of its
// lines after "kprod: ".
func (c *console) line(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseBar()
	io.WriteString(c.w, prefixed(fmt.Sprintf(format, args...)))
}

// prefixed is msg with "kprod: " before each of its lines, so that every
// line kprod writes to stderr says whose it is: an error made with
// errors.Join has a line per failure (a broker each, for one), and the
// lines after the first went out bare. An indented line after the first is
// left as it is: it quotes another program (the embedded broker's output,
// after "its output:"), which the prefix would pass off as kprod's.
func prefixed(msg string) string {
	var b strings.Builder
	for i, line := range strings.Split(msg, "\n") {
		if i > 0 && strings.HasPrefix(line, "  ") {
			b.WriteString(line + "\n")
			continue
		}
		b.WriteString(programName + ": " + line + "\n")
	}
	return b.String()
}

// Write prints whole lines (the library's log) below the bar.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseBar()
	return c.w.Write(p)
}

// drawBar replaces the bar, or draws it.
func (c *console) drawBar(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.w, eraseLine+s)
	c.bar = true
}

// clearBar erases the bar, if one is drawn.
func (c *console) clearBar() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseBar()
}

func (c *console) eraseBar() {
	if c.bar {
		fmt.Fprint(c.w, eraseLine)
		c.bar = false
	}
}

// width is the terminal's width, for a bar that must not wrap; 80 when
// unknown.
func (c *console) width() int {
	if f, ok := c.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
