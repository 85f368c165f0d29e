package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/producer/conn"
)

// The library logs connection failures, retries and metadata trouble
// through Config.Logger. kprod always gives it a logger: with --debug every
// event goes to stderr, and in any case the last event that carried an
// error is kept, because a record that fails with DELIVERY_TIMEOUT names
// its partition's last error only if it had one, and that event may say
// more (a metadata refresh that failed).

// lastCause is the last error the library logged.
type lastCause struct {
	mu   sync.Mutex
	text string
}

func (l *lastCause) set(text string, at time.Time) {
	l.mu.Lock()
	l.text = fmt.Sprintf("at %s, %s", at.Format("15:04:05.000"), text)
	l.mu.Unlock()
}

// get returns the last error logged, and when, or "" if none was.
func (l *lastCause) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text
}

// causeHandler is the slog.Handler kprod gives the library.
type causeHandler struct {
	last  *lastCause
	debug slog.Handler // nil without --debug
	attrs []slog.Attr  // from WithAttrs: which broker, which connection
}

// newLibraryLogger returns the library's logger: it records the last
// error into last and, when debug is not nil, prints every event there.
func newLibraryLogger(last *lastCause, debug io.Writer) *slog.Logger {
	h := &causeHandler{last: last}
	if debug != nil {
		h.debug = slog.NewTextHandler(debug, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return slog.New(h)
}

// Enabled is true at every level: the library logs rarely (a connection
// event, a retry), and the debug events are the ones that carry causes.
func (h *causeHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *causeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errText string
	where := attrStrings(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && err != nil {
			// A connection closed on purpose (by Close, or when a broker
			// moves) is no cause.
			if !errors.Is(err, conn.ErrClosed) {
				errText = err.Error()
			}
		} else {
			where = append(where, a.String())
		}
		return true
	})
	if errText != "" {
		h.last.set(fmt.Sprintf("%s (%s): %s", r.Message, strings.Join(where, " "), errText), r.Time)
	}
	if h.debug != nil {
		return h.debug.Handle(ctx, r)
	}
	return nil
}

func (h *causeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	if h.debug != nil {
		c.debug = h.debug.WithAttrs(attrs)
	}
	return &c
}

// WithGroup is passed on to the debug output; the library does not group
// its attributes, so the cause text ignores groups.
func (h *causeHandler) WithGroup(name string) slog.Handler {
	c := *h
	if h.debug != nil {
		c.debug = h.debug.WithGroup(name)
	}
	return &c
}

func attrStrings(attrs []slog.Attr) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.String()
	}
	return out
}
