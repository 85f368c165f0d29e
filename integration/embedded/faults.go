package embedded

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fault is a handle on one injected fault: it fires on up to n requests and
// then uninstalls itself. The functions installing one take n below 1 as 1.
type Fault struct {
	n       int
	hits    func() int
	waitFor func(context.Context) error // until all n fired or ctx ends
	remove  func()

	removeOnce sync.Once
	removed    chan struct{}
}

func newFault(n int, hits func() int, waitFor func(context.Context) error, remove func()) *Fault {
	return &Fault{n: n, hits: hits, waitFor: waitFor, remove: remove, removed: make(chan struct{})}
}

// Hits is how many requests the fault has fired on so far.
func (f *Fault) Hits() int { return f.hits() }

// Wait blocks until the fault has fired on all n requests it was installed
// for. It fails, saying how many fired, when ctx ends first or once the
// fault is removed short of n.
func (f *Fault) Wait(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.removed:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := f.waitFor(ctx)
	if err == nil || f.Hits() >= f.n { // all fired, then removed
		return nil
	}
	select {
	case <-f.removed:
		return fmt.Errorf("embedded: fault removed after firing on %d of %d requests", f.Hits(), f.n)
	default:
		return fmt.Errorf("embedded: fault fired on %d of %d requests: %w", f.Hits(), f.n, err)
	}
}

// Remove uninstalls the fault; requests from now on are served normally.
func (f *Fault) Remove() {
	f.removeOnce.Do(func() {
		f.remove()
		close(f.removed)
	})
}

// FailNextProduce answers the next n Produce requests with the error code for
// every partition they carry. The broker does not append the records, except
// for REQUEST_TIMED_OUT (7) and NOT_ENOUGH_REPLICAS_AFTER_APPEND (20): as on a
// real broker, those are returned after the records were appended, so a
// retry without idempotence writes them twice. Unknown codes are answered
// as UNKNOWN_SERVER_ERROR (-1).
//
// OUT_OF_ORDER_SEQUENCE_NUMBER (45) and UNKNOWN_PRODUCER_ID (59) are answered
// as a real broker answers them when its state for the producer does not
// match the batch: per partition, with the partition's log start offset
// (which the Java client compares with its last acknowledged offset to tell
// whether the broker lost the producer's state to retention, KIP-360), and
// NOT_LEADER_OR_FOLLOWER for a partition this broker does not lead. The
// broker's own producer state is left as it was.
func (c *Cluster) FailNextProduce(n int, code int16) *Fault {
	e, ok := kerr.ErrorForCode(code).(*kerr.Error)
	if !ok {
		e = kerr.UnknownServerError
	}
	n = max(n, 1)
	if e == kerr.OutOfOrderSequenceNumber || e == kerr.UnknownProducerID {
		return c.failProducerState(n, e)
	}
	h := c.fake.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Produce},
		Err:   e,
		Count: n,
	})
	return newFault(n, h.Hits, func(ctx context.Context) error { return h.Wait(ctx, n) }, h.Remove)
}

// DelayNextProduce holds each of the next n Produce requests for d before the
// broker handles it. Like a slow broker, the delay also holds every request
// behind it on the same connection; other connections are served meanwhile.
// Hits counts requests as their delay starts. Close does not wait for
// pending delays.
func (c *Cluster) DelayNextProduce(n int, d time.Duration) *Fault {
	b := newBudget(max(n, 1))
	c.fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !b.take() {
			c.fake.DropControl()
			return nil, nil, false
		}
		if !b.armed() {
			c.fake.DropControl() // an unhandled request keeps it otherwise
		}
		c.fake.SleepControl(func() {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.closing:
			}
		})
		return nil, nil, false // now let the broker handle it
	})
	return b.fault()
}

// HoldNext holds the next request of the API key (int16(kmsg.EndTxn), say)
// at the broker until release is called or the cluster closes, and then
// lets the broker handle it: a request under way at the broker, whose
// answer the client may give up on. The fault fires as the request is
// held. Requests behind it on its connection wait with it; other
// connections are served meanwhile. Release before Close, or the request
// waits for Close. Release returns once the broker has taken the held
// request up again: the broker serves one request at a time, so any
// request sent after release returns is handled after the held one, and
// sees what it did (a late request's effect, made certain).
func (c *Cluster) HoldNext(key int16) (f *Fault, release func()) {
	b := newBudget(1)
	released, resumed := make(chan struct{}), make(chan struct{})
	var holding atomic.Bool
	var once sync.Once
	c.fake.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
		c.fake.DropControl() // an unhandled request keeps it otherwise
		// While the held request sleeps, kfake may ask this control
		// again, for the next request, before it has dropped it: the
		// budget holds the first alone.
		if !b.take() {
			return nil, nil, false
		}
		holding.Store(true)
		c.fake.SleepControl(func() {
			select {
			case <-released:
			case <-c.closing:
			}
		})
		// The broker is back on this request, and handles it before it
		// reads another.
		close(resumed)
		return nil, nil, false // now let the broker handle it
	})
	return b.fault(), func() {
		once.Do(func() { close(released) })
		if !holding.Load() {
			return
		}
		select {
		case <-resumed:
		case <-c.closing:
		}
	}
}

// CloseConnOnNextProduce closes the connection of each of the next n Produce
// requests once the broker has read the request and before it handles it:
// the client has sent the request, gets no response, and nothing is
// appended. See DropNextProduceResponse for a write whose response is lost.
func (c *Cluster) CloseConnOnNextProduce(n int) *Fault {
	b := newBudget(max(n, 1))
	c.fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !b.take() {
			c.fake.DropControl()
			return nil, nil, false
		}
		if b.armed() {
			c.fake.KeepControl() // a handled request drops it otherwise
		}
		// A handled request with an error makes kfake close the
		// connection without answering.
		return nil, errInjected, true
	})
	return b.fault()
}

// DropNextProduceResponse lets the broker handle each of the next n Produce
// requests (the records are appended), then writes only the first half of
// the response and closes the connection. The client cannot tell whether
// the write happened: a retry duplicates the records unless the producer is
// idempotent. Requests with acks=0 get no response and are not counted.
func (c *Cluster) DropNextProduceResponse(n int) *Fault {
	b := newBudget(max(n, 1))
	c.listeners.drops.add(b)
	return b.fault()
}

// HoldNextProduceResponse holds the response to the next Produce request
// that broker node handles: the records are appended, and the response
// waits, unwritten, until its connection closes (StopBroker, Close), when it
// is lost. A broker stopped then has certainly written a request it never
// answered. Requests behind it on its connection wait with it, unread (the
// broker serves a connection's requests one after the other); other
// connections are served meanwhile. The fault fires as the response is
// held. It fails if node is unknown or stopped.
func (c *Cluster) HoldNextProduceResponse(node int32) (*Fault, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	b := newBudget(1)
	if port, ok := c.ports[node]; !ok || !c.listeners.armHold(port, b) {
		return nil, fmt.Errorf("embedded: holding a produce response: node %d unknown or stopped", node)
	}
	return b.fault(), nil
}

// budget counts down the requests a fault still fires on.
type budget struct {
	mu    sync.Mutex
	n     int
	left  int
	fired chan struct{} // closed once all n fired
}

func newBudget(n int) *budget {
	return &budget{n: n, left: n, fired: make(chan struct{})}
}

// take uses one unit, reporting false if none is left.
func (b *budget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == 0 {
		return false
	}
	b.left--
	if b.left == 0 {
		close(b.fired)
	}
	return true
}

// armed reports whether units are left.
func (b *budget) armed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left > 0
}

func (b *budget) fault() *Fault {
	return newFault(b.n,
		func() int {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.n - b.left
		},
		func(ctx context.Context) error {
			select {
			case <-b.fired:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		func() {
			b.mu.Lock()
			b.n -= b.left // so that Hits stays what it was
			b.left = 0
			b.mu.Unlock()
		})
}
