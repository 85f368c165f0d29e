package conn

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gokafka/producer/protocol"
)

// Send sends req at the highest version both sides speak; see SendVersion.
func (c *Conn) Send(ctx context.Context, req protocol.Request, done func(protocol.Response, error)) {
	v, err := c.Version(req.Key())
	if err != nil {
		done(nil, err)
		return
	}
	c.SendVersion(ctx, req, v, done)
}

// SendVersion sends req at version, pipelined behind earlier requests, and
// returns once it is written (or has failed). Once done has run and
// SendVersion has returned, the Conn keeps nothing of req: the caller may
// reuse it. done is called exactly once:
// with the decoded response, or with an error — the context ended before the
// request was written, the request timed out, the connection closed or
// broke, or the response did not decode (*protocol.DecodeError, naming API,
// version and byte offset, or, should the decoder panic, an error naming API
// and version that says so). A ProduceRequest with Acks 0 gets no response
// from Kafka, so its done(nil, nil) comes as soon as its bytes are written.
//
// SendVersion blocks while MaxInFlight requests await responses, until ctx
// ends. Once the request is being written, ctx no longer matters: a request
// cannot be taken back from the wire, and RequestTimeout bounds the wait.
//
// done runs on the reader goroutine for responses, and on the goroutine
// that broke or closed the connection for failures (possibly this one). It
// must not block, since the connection reads nothing while it runs, and must
// not call Close synchronously, since Close waits for the reader goroutine.
func (c *Conn) SendVersion(ctx context.Context, req protocol.Request, version int16, done func(protocol.Response, error)) {
	api := req.Key()
	if r := protocol.Supported(api); version < r.Min || version > r.Max {
		done(nil, fmt.Errorf("%w: %w: %s v%d: this client speaks v%d-v%d", ErrNotSent, protocol.ErrUnsupportedVersion, api, version, r.Min, r.Max))
		return
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		done(nil, c.ctxErr(ctx, req))
		return
	case <-c.dead:
		done(nil, notSent(api, c.Err()))
		return
	}
	select {
	case c.writeLock <- struct{}{}:
	case <-ctx.Done():
		<-c.slots
		done(nil, c.ctxErr(ctx, req))
		return
	case <-c.dead:
		<-c.slots
		done(nil, notSent(api, c.Err()))
		return
	}
	// Both waits are over; the context may have ended during the second.
	if ctx.Err() != nil {
		<-c.writeLock
		<-c.slots
		done(nil, c.ctxErr(ctx, req))
		return
	}
	c.write(req, version, done, false)
}

// expectsResponse reports whether Kafka answers req: it does not answer a
// ProduceRequest with acks=0.
func expectsResponse(req protocol.Request) bool {
	pr, ok := req.(*protocol.ProduceRequest)
	return !ok || pr.Acks != 0
}

// write encodes and writes one request. The caller holds a slot and the
// write lock; write releases the lock, and the slot unless a response is
// awaited (then whoever completes the request releases it). A request of
// the authentication exchange (auth) holds no slot and keeps the lock: the
// exchange releases it when it ends (auth.go). If such a request's write
// fails, write returns the teardown of the connection it killed, for the
// exchange to run once it has let go of the lock; done is called then, not
// before. For any other request it returns nil.
func (c *Conn) write(req protocol.Request, version int16, done func(protocol.Response, error), auth bool) (killed *teardown) {
	api := req.Key()
	corr := c.nextCorrelationID()
	buf, b, splices := c.encode(req, version, corr)
	awaits := expectsResponse(req)
	if err := c.enqueue(pending{corr: corr, req: req, version: version, done: done, auth: auth}, awaits); err != nil {
		putBuffer(buf, b)
		if !auth {
			<-c.writeLock
			<-c.slots
		}
		done(nil, err)
		return nil
	}

	werr := c.writeFrame(b, splices)
	clear(splices) // the batches' bytes are the sender's again
	c.splices = splices[:0]

	c.mu.Lock()
	c.writeDeadline = time.Time{}
	c.mu.Unlock()
	putBuffer(buf, b)
	// A write that failed may have left part of its frame on the wire, and
	// a broker would read the next request's bytes as the rest of it. The
	// connection dies before the write lock is let go, so that a request
	// waiting for the lock fails unwritten (ErrNotSent, which tells the
	// sender its batches were never sent) rather than go out behind the
	// torn frame. Its teardown, which runs the callbacks of the requests
	// it fails, this one's among them, comes once the lock is let go: here,
	// or by the exchange that keeps it.
	var td *teardown
	if werr != nil {
		td = c.kill(fmt.Errorf("%w: writing to %s: %w", ErrDisconnected, c.addr, werr))
	}
	if auth {
		return td
	}
	<-c.writeLock
	c.tearDown(td)
	if !awaits {
		<-c.slots
		if werr != nil {
			done(nil, requestFailed(api, version, corr, c.Err()))
			return nil
		}
		done(nil, nil)
	}
	return nil
}

// nextCorrelationID takes the next request's correlation id. The caller
// holds the write lock, which orders the ids as the requests are written.
func (c *Conn) nextCorrelationID() int32 {
	corr := c.nextCorr
	if c.nextCorr == math.MaxInt32 {
		c.nextCorr = 0 // stay non-negative; a wrap after 2^31 requests is harmless
	} else {
		c.nextCorr++
	}
	return corr
}

// encode frames req, its size first, in a pooled buffer, which the caller
// gives back with putBuffer(buf, b). On a connection that writes with
// writev, a request that can leaves its batches out of b and in splices
// (c.splices reused), to be written from where they are.
func (c *Conn) encode(req protocol.Request, version int16, corr int32) (buf *[]byte, b []byte, splices []protocol.Splice) {
	buf = getBuffer()
	b = append((*buf)[:0], 0, 0, 0, 0) // the size, patched below
	b = protocol.AppendRequestHeader(b, req.Key(), version, corr, c.clientID)
	splices = c.splices[:0]
	if sr, ok := req.(splicedRequest); ok && c.writev {
		b, splices = sr.AppendSplicedTo(b, version, splices)
	} else {
		b = req.AppendTo(b, version)
	}
	size := len(b) - 4
	for _, s := range splices {
		size += len(s.Bytes)
	}
	binary.BigEndian.PutUint32(b, uint32(size))
	return buf, b, splices
}

// enqueue readies the connection for p's write: it queues p, with its
// deadline, if a response is awaited, for the reader to find, and sets the
// deadline the watcher times the write out by. On a connection that has
// failed it does neither and returns why p's request was not sent.
func (c *Conn) enqueue(p pending, awaits bool) error {
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	if c.err != nil {
		err := notSent(p.req.Key(), c.err)
		c.mu.Unlock()
		return err
	}
	// The request is queued before it is written: its response cannot
	// arrive before the write, but the reader must find it when it does.
	// Only a request (or write) on an idle connection sets the earliest
	// deadline; behind others, the watcher's current timer is still right.
	wasIdle := len(c.pending) == 0
	p.deadline = c.deadlineLocked(now)
	if awaits {
		// A copy, allocated only here: p's own address taken would
		// allocate it for every request, acks=0's included.
		queued := p
		c.pending = append(c.pending, &queued)
	}
	// A write the broker never reads (its socket buffer full) would block
	// forever; the watcher times it out like a request.
	c.writeDeadline = p.deadline
	c.mu.Unlock()
	if wasIdle {
		c.wake()
	}
	return nil
}

// splicedRequest is a request that can leave its largest byte fields out
// of its encoding (protocol.ProduceRequest and its record batches).
type splicedRequest interface {
	AppendSplicedTo(dst []byte, v int16, splices []protocol.Splice) ([]byte, []protocol.Splice)
}

// writeFrame writes a request: b alone, or b cut at each splice with the
// splice's bytes in between, in one writev. The batches of a Produce
// request thus go to the socket from where they are, not copied into the
// request first.
//
// The caller holds the write lock, which guards the list of buffers kept
// in the Conn for the next request. The write consumes the list it is
// given (net.Buffers' WriteTo, or a rawTCPConn's writeBuffers), so it is
// given a copy of the list's header, kept in the Conn too: a local copy,
// its address taken, would be allocated.
func (c *Conn) writeFrame(b []byte, splices []protocol.Splice) error {
	if len(splices) == 0 {
		_, err := c.nc.Write(b)
		return err
	}
	iov := c.iov[:0]
	at := 0
	for _, s := range splices {
		if s.At > at {
			iov = append(iov, b[at:s.At])
		}
		iov = append(iov, s.Bytes)
		at = s.At
	}
	if at < len(b) {
		iov = append(iov, b[at:])
	}
	c.iov, c.iovLeft = iov, iov
	var err error
	if bw, ok := c.nc.(buffersWriter); ok {
		err = bw.writeBuffers(&c.iovLeft)
	} else {
		_, err = c.iovLeft.WriteTo(c.nc)
	}
	clear(iov) // written, or the connection is broken: nothing to keep
	return err
}

// Request sends req and waits for its response, or until ctx ends (the
// response, if it comes later, is dropped).
func (c *Conn) Request(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	v, err := c.Version(req.Key())
	if err != nil {
		return nil, err
	}
	return c.RequestVersion(ctx, req, v)
}

// RequestVersion is Request at an explicit version.
func (c *Conn) RequestVersion(ctx context.Context, req protocol.Request, version int16) (protocol.Response, error) {
	type result struct {
		resp protocol.Response
		err  error
	}
	ch := make(chan result, 1) // buffered: a late answer must not block the reader
	c.SendVersion(ctx, req, version, func(resp protocol.Response, err error) { ch <- result{resp, err} })
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		select {
		case r := <-ch: // an answer that raced the context still counts
			return r.resp, r.err
		default:
		}
		return nil, fmt.Errorf("%s to %s: %w", req.Key(), c.addr, context.Cause(ctx))
	}
}

// maxPooledBuffer keeps rare huge requests from pinning their memory in the
// pool. It sits well above the default max.request.size (1 MiB) for TLS,
// where a ProduceRequest's batches are copied into the buffer: a full one
// is that plus its framing, and one just past the cap would cost a fresh
// megabyte per request. On plain TCP (writev) the buffer holds a
// ProduceRequest's framing only, its batches written from where they are.
const maxPooledBuffer = 4 << 20

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

// putBuffer returns the (possibly grown) buffer b to the pool. The bytes
// have been written by then: net.Conn.Write does not keep them.
func putBuffer(buf *[]byte, b []byte) {
	if cap(b) > maxPooledBuffer {
		return
	}
	*buf = b[:0]
	buffers.Put(buf)
}
