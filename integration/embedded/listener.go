package embedded

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake hands out no handle on its connections, so the cluster listens
// through this wrapper. It gives us two things kfake cannot do alone: closing
// every connection of a stopped broker (kfake's RemoveNode only closes the
// listener, so clients would keep talking to a broker that is gone), and
// losing a produce response after the broker applied the request, at once
// or when the connection closes.

// errInjected is what a connection we cut reports to kfake.
var errInjected = errors.New("embedded: connection closed by fault injection")

// listeners tracks the listener of every broker port and the connections each
// accepted.
type listeners struct {
	mu     sync.Mutex
	byPort map[int]*listener
	drops  budgets // produce responses to lose; see DropNextProduceResponse
}

// budgets are the fault budgets armed on a listener or on every listener,
// each for a number of produce responses.
type budgets struct {
	mu   sync.Mutex
	list []*budget
}

func (bs *budgets) add(b *budget) {
	bs.mu.Lock()
	bs.list = append(bs.list, b)
	bs.mu.Unlock()
}

// armed reports whether any budget is still armed, forgetting those spent.
func (bs *budgets) armed() bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.list = slices.DeleteFunc(bs.list, func(b *budget) bool { return !b.armed() })
	return len(bs.list) > 0
}

// take reports whether a budget covers this response, counting it off.
func (bs *budgets) take() bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for _, b := range bs.list {
		if b.take() {
			return true
		}
	}
	return false
}

// listen is kfake's ListenFn.
func (ls *listeners) listen(network, address string) (net.Listener, error) {
	inner, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	l := &listener{Listener: inner, ls: ls, conns: make(map[*conn]struct{})}
	ls.mu.Lock()
	ls.byPort[inner.Addr().(*net.TCPAddr).Port] = l
	ls.mu.Unlock()
	return l, nil
}

// armHold makes the broker listening on port hold produce responses while
// b lasts; see HoldNextProduceResponse. It reports false if no broker
// listens there.
func (ls *listeners) armHold(port int, b *budget) bool {
	ls.mu.Lock()
	l := ls.byPort[port]
	ls.mu.Unlock()
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.holds.add(b)
	return true
}

// closeConns closes every connection accepted on port; the listener itself
// has been closed by kfake already.
func (ls *listeners) closeConns(port int) {
	ls.mu.Lock()
	l := ls.byPort[port]
	ls.mu.Unlock()
	if l != nil {
		l.closeAll()
	}
}

type listener struct {
	net.Listener
	ls *listeners

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	holds  budgets // produce responses to hold until their connection closes
}

func (l *listener) Accept() (net.Conn, error) {
	inner, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: inner, l: l, produce: make(map[int32]struct{}), closed: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		inner.Close()
		return nil, net.ErrClosed
	}
	l.conns[c] = struct{}{}
	return c, nil
}

func (l *listener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Listener.Close()
}

func (l *listener) closeAll() {
	l.mu.Lock()
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (l *listener) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// conn watches the request headers going in, to know which correlation IDs
// belong to produce requests, so that it can recognize their responses going
// out. kfake reads one request and writes one whole response per Write.
type conn struct {
	net.Conn
	l *listener

	// Read side, used only by kfake's reading goroutine: the header of
	// the request being read (size, key, version, correlation ID) and how
	// many body bytes are left to pass over.
	hdr  [12]byte
	nhdr int
	skip int

	mu      sync.Mutex
	produce map[int32]struct{} // correlation IDs of produce requests not yet answered
	once    sync.Once
	closed  chan struct{} // closed by Close: ends a held response
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan(p[:n])
	return n, err
}

// scan follows the request framing through b, noting produce requests.
func (c *conn) scan(b []byte) {
	for len(b) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
			continue
		}
		k := copy(c.hdr[c.nhdr:], b)
		c.nhdr += k
		b = b[k:]
		if c.nhdr < len(c.hdr) {
			return
		}
		size := int(binary.BigEndian.Uint32(c.hdr[0:4]))
		key := int16(binary.BigEndian.Uint16(c.hdr[4:6]))
		corr := int32(binary.BigEndian.Uint32(c.hdr[8:12]))
		// Only while a drop or hold is armed, so that acks=0 requests,
		// which get no response, do not pile up here otherwise.
		if key == int16(kmsg.Produce) && (c.l.ls.drops.armed() || c.l.holds.armed()) {
			c.mu.Lock()
			c.produce[corr] = struct{}{}
			c.mu.Unlock()
		}
		c.nhdr = 0
		c.skip = max(size-(len(c.hdr)-4), 0)
	}
}

// Write passes responses through, except that it answers a produce request
// with half a response and a closed connection while the drop budget lasts,
// and holds it unwritten until the connection closes while a hold lasts.
// Responses start with size (4) and correlation ID (4).
func (c *conn) Write(p []byte) (int, error) {
	if len(p) >= 8 {
		corr := int32(binary.BigEndian.Uint32(p[4:8]))
		c.mu.Lock()
		_, isProduce := c.produce[corr]
		delete(c.produce, corr)
		c.mu.Unlock()
		if isProduce && c.l.ls.drops.take() {
			n, _ := c.Conn.Write(p[:len(p)/2])
			c.Close()
			return n, errInjected
		}
		if isProduce && c.l.holds.take() {
			<-c.closed
			return 0, errInjected
		}
	}
	return c.Conn.Write(p)
}

func (c *conn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.Conn.Close()
		close(c.closed)
		c.l.forget(c)
	})
	return err
}
