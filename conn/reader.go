package conn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/gokafka/producer/protocol"
)

// MaxResponseSize bounds the size prefix of a response: a larger one kills
// the connection before anything is read, as no broker sends it (Kafka's own
// default for the largest message is about 1 MiB, and its
// socket.request.max.bytes is 100 MiB). It bounds what a response may cost,
// not what a prefix costs: memory follows the bytes that arrive, a
// response past 1 MiB growing its buffer as they come rather than taking
// all its prefix announces at once.
const MaxResponseSize = 100 << 20

// maxUpfrontFrame is the largest frame allocated whole as soon as its size
// prefix is read. Every Produce answer and nearly every other response is
// far smaller, and so costs one allocation. A larger frame's buffer grows
// as its bytes arrive: otherwise a corrupt stream, a broken proxy or a
// hostile peer could announce 100 MiB, send a few bytes and stall, and
// make the client hold 100 MiB per connection until RequestTimeout.
// MaxResponseSize's doc states this size to users.
const maxUpfrontFrame = 1 << 20

// readLoop is the connection's reader goroutine. Kafka answers requests on
// one connection in the order it received them, so each response belongs to
// the oldest request awaiting one; anything else means the stream is out of
// step and the connection is killed.
func (c *Conn) readLoop() {
	defer close(c.readerDone)
	br := bufio.NewReaderSize(c.nc, 32<<10)
	var size [4]byte
	for {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			c.fail(fmt.Errorf("%w: reading from %s: %w", ErrDisconnected, c.addr, err))
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 4 || n > MaxResponseSize {
			c.fail(badSize(c.addr, size, br))
			return
		}
		frame, err := readResponseFrame(br, int(n))
		if err != nil {
			c.fail(fmt.Errorf("%w: reading a %d-byte response from %s: %w", ErrDisconnected, n, c.addr, err))
			return
		}
		if !c.deliver(frame) {
			return
		}
	}
}

// readResponseFrame reads the n bytes of a frame after its size prefix,
// failing as io.ReadFull would. Decoded responses alias the frame, so it is
// a new buffer each time. Up to maxUpfrontFrame it is allocated whole at
// once; past it, the buffer starts at that bound and doubles (capped at n)
// each time it is full, so that it holds at most the bound or twice the
// bytes that came.
func readResponseFrame(r io.Reader, n int) ([]byte, error) {
	if n <= maxUpfrontFrame {
		frame := make([]byte, n)
		_, err := io.ReadFull(r, frame)
		return frame, err
	}
	frame := make([]byte, 0, maxUpfrontFrame)
	for {
		got, err := io.ReadFull(r, frame[len(frame):cap(frame)])
		frame = frame[:len(frame)+got]
		if err == io.EOF && len(frame) > 0 {
			err = io.ErrUnexpectedEOF // the body had begun
		}
		if err != nil || len(frame) == n {
			return frame, err
		}
		grown := make([]byte, len(frame), min(2*cap(frame), n))
		copy(grown, frame)
		frame = grown
	}
}

// deliver matches one response frame with the oldest pending request and
// completes it. It reports whether the connection is still alive.
func (c *Conn) deliver(frame []byte) bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false
	}
	if len(c.pending) == 0 {
		c.mu.Unlock()
		c.fail(fmt.Errorf("%w: %s sent a response to no request", ErrDisconnected, c.addr))
		return false
	}
	p := c.pending[0]
	c.mu.Unlock()

	api := p.req.Key()
	corr, body, err := protocol.ReadResponseHeader(frame, api, p.version)
	if err != nil {
		c.fail(fmt.Errorf("%w: %s: response header: %w", ErrDisconnected, c.addr, err))
		return false
	}
	if corr != p.corr {
		c.fail(&byRequest{corr: p.corr, err: fmt.Errorf("%w: %s answered %s v%d (correlation id %d) with correlation id %d: responses out of step",
			ErrDisconnected, c.addr, api, p.version, p.corr, corr)})
		return false
	}

	c.mu.Lock()
	if c.err != nil || len(c.pending) == 0 || c.pending[0] != p {
		// Killed while the header was read: fail has completed p.
		c.mu.Unlock()
		return false
	}
	copy(c.pending, c.pending[1:])
	c.pending[len(c.pending)-1] = nil
	c.pending = c.pending[:len(c.pending)-1]
	c.mu.Unlock()
	c.wake() // the oldest deadline moved
	if !p.auth {
		<-c.slots
	}

	// A body that does not decode fails its request only: the frame was
	// read whole, so the stream is still in step.
	resp, err := c.decode(p, body)
	if err != nil {
		err = fmt.Errorf("response from %s: %w", c.addr, err)
	}
	p.done(resp, err)
	return true
}

// errDecoderPanicked is the error of a response whose decoder panicked.
// Decoders read through a bounds-checked reader and are fuzzed, so such a
// panic is a bug of this client's; on the reader goroutine nothing could
// recover it, and it would end the process. It fails its request only, and
// is not retriable: the same answer would panic again.
var errDecoderPanicked = errors.New("the decoder panicked")

// decode decodes a response body at the version its request was sent at.
func (c *Conn) decode(p *pending, body []byte) (resp protocol.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			// As for a SASL mechanism's panic (recoverMechanism): the
			// stack is what finds the bug.
			c.log.Error("a response's decoder panicked; its request fails",
				"api", p.req.Key().String(), "version", p.version, "panic", v, "stack", string(debug.Stack()))
			// The panic's value is shown, not wrapped: it could be any
			// error, even one that looks retriable.
			resp, err = nil, fmt.Errorf("decoding %s v%d: %w: %v", p.req.Key(), p.version, errDecoderPanicked, v)
		}
	}()
	if p.req.Key() == protocol.ApiVersions {
		// A broker that does not speak our ApiVersions version answers in
		// v0; ReadApiVersionsResponse knows to fall back.
		resp, err := protocol.ReadApiVersionsResponse(body, p.version)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
	resp = p.req.ResponseKind()
	if err := resp.ReadFrom(body, p.version); err != nil {
		return nil, err
	}
	return resp, nil
}

// badSize explains a size prefix no Kafka broker would send. Such a prefix
// is most often the start of another protocol's answer: "HTTP" from a web
// server, a TLS record from a TLS listener that a plaintext client reached.
// Saying so beats reporting "a response size of 1213486160 bytes". Only the
// bytes already read are shown; nothing more is waited for.
func badSize(addr string, size [4]byte, br *bufio.Reader) error {
	if (size[0] == 0x15 || size[0] == 0x16) && size[1] == 0x03 {
		return fmt.Errorf("%w: %w: %s answered with a TLS record: it is a TLS listener, dial it with TLS",
			ErrDisconnected, ErrNotKafka, addr)
	}
	head := size[:]
	if more, _ := br.Peek(min(br.Buffered(), 28)); len(more) > 0 {
		head = append(head, more...)
	}
	if text := printablePrefix(head); len(text) >= len(size) {
		return fmt.Errorf("%w: %w: %s answered with text beginning %q", ErrDisconnected, ErrNotKafka, addr, text)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	return fmt.Errorf("%w: %s sent a response size of %d bytes (allowed 4 to %d)", ErrDisconnected, addr, n, MaxResponseSize)
}

// printablePrefix is the longest prefix of b made of printable ASCII.
func printablePrefix(b []byte) []byte {
	if i := bytes.IndexFunc(b, func(r rune) bool { return r < ' ' || r > '~' }); i >= 0 {
		return b[:i]
	}
	return b
}
