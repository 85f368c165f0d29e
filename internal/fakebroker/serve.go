package fakebroker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/record"
)

// maxFrame bounds a request's size prefix, as socket.request.max.bytes
// does, so a corrupt prefix cannot make the fake allocate gigabytes.
const maxFrame = 100 << 20

// session is the fake's side of one connection. Requests are read, handled
// and answered one at a time, in order, as Kafka does per connection; the
// buffers and decoded structs are reused from one request to the next so
// that a benchmark's allocations are the producer's.
type session struct {
	c  *Cluster
	n  *node
	nc net.Conn
	br *bufio.Reader

	frame   []byte // the request being handled; reused unless KeepRecords
	out     []byte // the response being written
	produce protocol.ProduceRequest
	resp    protocol.ProduceResponse
	batch   record.Batch    // one partition's decoded batch
	pending pendingProducer // its producer's tentative state

	// With Options.SCRAM: the exchange in progress, and its outcome.
	scram         *scramExchange
	authenticated bool
	refused       bool // answered with a refusal: close after writing it
}

func (c *Cluster) accept(n *node) {
	defer c.wg.Done()
	for {
		nc, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.mu.Lock()
		select {
		case <-c.closing:
			// Close has already closed the conns it knew of.
			n.mu.Unlock()
			nc.Close()
			return
		default:
		}
		n.conns[nc] = struct{}{}
		n.mu.Unlock()
		c.accepted.Add(1)
		s := &session{c: c, n: n, nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
		c.wg.Add(1)
		go s.serve()
	}
}

// serve handles the connection's requests until it breaks or must close.
func (s *session) serve() {
	defer s.c.wg.Done()
	defer func() {
		s.n.mu.Lock()
		delete(s.n.conns, s.nc)
		s.n.mu.Unlock()
		s.nc.Close()
	}()
	for {
		frame, err := s.read()
		if err != nil {
			return
		}
		if err := s.handle(frame); err != nil {
			return
		}
	}
}

// read returns the next request frame.
func (s *session) read() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(s.br, size[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 8 || n > maxFrame {
		return nil, fmt.Errorf("fakebroker: request size %d", n)
	}
	// Stored records alias the frame, so with KeepRecords each request
	// gets its own.
	if s.c.opts.KeepRecords || cap(s.frame) < n {
		s.frame = make([]byte, n)
	}
	frame := s.frame[:n]
	if _, err := io.ReadFull(s.br, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// errDrop and errHang end request handling: the connection is closed, or
// left open and ignored.
var (
	errDrop = errors.New("fakebroker: connection dropped by a hook")
	errHang = errors.New("fakebroker: connection hung by a hook")
)

// handle answers one request. An error ends the connection.
func (s *session) handle(frame []byte) error {
	api, version, corr, _, body, err := protocol.ReadRequestHeader(frame)
	if err != nil {
		return err
	}
	if api == protocol.ApiVersions {
		return s.apiVersions(version, corr, body)
	}
	r, ok := s.c.versions[api]
	if !ok || version < r.Min || version > r.Max {
		// Kafka closes a connection that sends what it does not speak.
		return fmt.Errorf("fakebroker: %s v%d not supported", api, version)
	}
	sasl := api == protocol.SaslHandshake || api == protocol.SaslAuthenticate
	if s.c.opts.SCRAM != nil && !s.authenticated && !sasl {
		return fmt.Errorf("fakebroker: %s before authentication", api) // Kafka closes the connection too
	}
	var resp protocol.Response
	switch api {
	case protocol.SaslHandshake:
		resp, err = s.handleSaslHandshake(version, body)
	case protocol.SaslAuthenticate:
		resp, err = s.handleSaslAuthenticate(version, body)
	case protocol.Produce:
		resp, err = s.handleProduce(version, body)
	case protocol.Metadata:
		resp, err = s.handleMetadata(version, body)
	case protocol.InitProducerId:
		resp, err = s.handleInitProducerId(version, body)
	case protocol.FindCoordinator:
		resp, err = s.handleFindCoordinator(version, body)
	}
	switch {
	case errors.Is(err, errHang):
		s.ignore()
		return err
	case err != nil:
		return err
	case resp == nil: // acks=0
		return nil
	}
	if err := s.write(api, version, corr, resp); err != nil {
		return err
	}
	if s.refused {
		return errAuthFailed
	}
	return nil
}

// await applies an Action's delay, drop and hang.
func (s *session) await(a Action) error {
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-s.c.closing:
			t.Stop()
			return errClosed
		}
	}
	switch {
	case a.Drop:
		return errDrop
	case a.Hang:
		return errHang
	}
	return nil
}

// ignore reads and discards requests until the connection ends: a hung
// broker that still drains its socket, so the client notices only through
// its request timeout.
func (s *session) ignore() {
	for {
		if _, err := s.read(); err != nil {
			return
		}
	}
}

// write sends one response frame.
func (s *session) write(api protocol.APIKey, version int16, corr int32, resp protocol.Response) error {
	b := append(s.out[:0], 0, 0, 0, 0)
	b = protocol.AppendResponseHeader(b, api, version, corr)
	b = resp.AppendTo(b, version)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	s.out = b
	_, err := s.nc.Write(b)
	return err
}
