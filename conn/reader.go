package conn

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gokafka/producer/protocol"
)

// MaxResponseSize bounds the size prefix of a response. It is checked before
// the frame is allocated, so a corrupt or hostile prefix cannot make the
// client allocate gigabytes; Kafka's own default for the largest message is
// about 1 MiB, and its socket.request.max.bytes is 100 MiB.
const MaxResponseSize = 100 << 20

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
			c.fail(fmt.Errorf("%w: %s sent a response size of %d bytes (allowed 4 to %d)", ErrDisconnected, c.addr, n, MaxResponseSize))
			return
		}
		frame := make([]byte, n) // decoded responses alias it, so it is not reused
		if _, err := io.ReadFull(br, frame); err != nil {
			c.fail(fmt.Errorf("%w: reading a %d-byte response from %s: %w", ErrDisconnected, n, c.addr, err))
			return
		}
		if !c.deliver(frame) {
			return
		}
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
		c.fail(fmt.Errorf("%w: %s answered correlation id %d, expected %d (%s v%d): responses out of step",
			ErrDisconnected, c.addr, corr, p.corr, api, p.version))
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
	resp, err := decode(p, body)
	if err != nil {
		err = fmt.Errorf("response from %s: %w", c.addr, err)
	}
	p.done(resp, err)
	return true
}

// decode decodes a response body at the version its request was sent at.
func decode(p *pending, body []byte) (protocol.Response, error) {
	if p.req.Key() == protocol.ApiVersions {
		// A broker that does not speak our ApiVersions version answers in
		// v0; ReadApiVersionsResponse knows to fall back.
		resp, err := protocol.ReadApiVersionsResponse(body, p.version)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
	resp := p.req.ResponseKind()
	if err := resp.ReadFrom(body, p.version); err != nil {
		return nil, err
	}
	return resp, nil
}
