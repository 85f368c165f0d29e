package conn

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// eventLog notes a connection's events in order.
type eventLog struct {
	mu     sync.Mutex
	events []string
	errs   []error
	closed chan struct{}
}

func (l *eventLog) config() Config {
	l.closed = make(chan struct{}, 4)
	return Config{NodeID: 7, Events: Events{
		Dialed: func(node int32, addr string, took time.Duration, err error) {
			l.note("dialed", node, took >= 0, err)
		},
		Closed: func(node int32, addr string, err error) {
			l.note("closed", node, true, err)
			l.closed <- struct{}{}
		},
	}}
}

func (l *eventLog) note(what string, node int32, ok bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if node != 7 || !ok {
		what += " (bad node or duration)"
	}
	l.events = append(l.events, what)
	l.errs = append(l.errs, err)
}

func (l *eventLog) snapshot() ([]string, []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...), append([]error(nil), l.errs...)
}

// A connection that breaks is announced dialed, then closed once with why,
// and closing it afterwards announces nothing more.
func TestEventsOfABrokenConnection(t *testing.T) {
	fb := newFakeBroker(t)
	var log eventLog
	c := dial(t, fb, log.config())
	bc := fb.conn(t)
	bc.nc.Close() // the broker hangs up
	select {
	case <-log.closed:
	case <-time.After(waitTime):
		t.Fatal("no Closed event after the broker hung up")
	}
	c.Close()
	events, errs := log.snapshot()
	if len(events) != 2 || events[0] != "dialed" || events[1] != "closed" {
		t.Fatalf("events %v, want [dialed closed]", events)
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrDisconnected) {
		t.Fatalf("errors %v, want [nil, disconnected]", errs)
	}
}

// A connection closed by its owner is announced closed with ErrClosed; a
// dial that fails is announced with its error, and nothing closes.
func TestEventsOfAClosedConnectionAndAFailedDial(t *testing.T) {
	fb := newFakeBroker(t)
	var log eventLog
	c := dial(t, fb, log.config())
	c.Close()
	c.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if _, err := Dial(ctx, addr, log.config()); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	events, errs := log.snapshot()
	want := []string{"dialed", "closed", "dialed"}
	if len(events) != len(want) || events[0] != want[0] || events[1] != want[1] || events[2] != want[2] {
		t.Fatalf("events %v, want %v", events, want)
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrClosed) || !errors.Is(errs[2], ErrDisconnected) {
		t.Fatalf("errors %v, want [nil, closed, disconnected]", errs)
	}
}

// A dial that fails once connected, its ApiVersions refused, is announced
// dialed with its error, and nothing closes: the connection it made never
// opened, and no Closed comes before, or without, a Dialed that announced
// it.
func TestEventsOfADialThatFailsOnceConnected(t *testing.T) {
	fb := newFakeBroker(t)
	fb.apiVersions = func(bc *brokerConn, r request) {
		bc.reply(r, &protocol.ApiVersionsResponse{ErrorCode: kerr.InvalidRequest.Code, FinalizedFeaturesEpoch: -1})
	}
	var log eventLog
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if _, err := Dial(ctx, fb.addr(), log.config()); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("Dial error %v, want INVALID_REQUEST", err)
	}
	events, errs := log.snapshot()
	if len(events) != 1 || events[0] != "dialed" || !errors.Is(errs[0], kerr.InvalidRequest) {
		t.Fatalf("events %v (errors %v), want [dialed] with INVALID_REQUEST", events, errs)
	}
}
