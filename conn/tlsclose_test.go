package conn

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/testcerts"
)

// closeBound is how long a close may take in these tests: well under the
// 5s crypto/tls gives its close_notify alert, well over the grace.
const closeBound = 2 * time.Second

// pipeTLSBroker is a TLS broker at the far end of a net.Pipe, which
// buffers nothing: once the broker stops reading, the client's transport
// takes no byte more, as a TCP connection whose socket buffers are full.
// The broker runs the handshake, answers ApiVersions, then hands its TLS
// connection and the pipe under it to then.
func pipeTLSBroker(t *testing.T, then func(ts *tls.Conn, transport net.Conn)) Config {
	t.Helper()
	ca, err := testcerts.NewCA("conn test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(testcerts.Valid("broker", time.Hour, "broker"))
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	t.Cleanup(func() { server.Close() })
	go func() {
		ts := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := ts.Handshake(); err != nil {
			return
		}
		answerHandshakeOnly(t, ts)
		then(ts, server)
	}()
	return Config{
		TLS:  &tls.Config{RootCAs: ca.Pool()},
		Dial: func(context.Context, string, string) (net.Conn, error) { return client, nil },
	}
}

func stopReading(*tls.Conn, net.Conn) {}

// A broker that stops reading cannot take TLS's close_notify alert, and
// crypto/tls gives that write 5s: Close, and a timeout's failing of the
// connection, waited that long for each such connection.
func TestTLSCloseDoesNotWaitForABrokerThatStoppedReading(t *testing.T) {
	t.Run("Close", func(t *testing.T) {
		c, err := Dial(context.Background(), "broker:9093", pipeTLSBroker(t, stopReading))
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		closed := make(chan struct{})
		start := time.Now()
		go func() {
			c.Close()
			close(closed)
		}()
		defer func() { <-closed }()
		select {
		case <-closed:
		case <-time.After(closeBound):
			t.Fatalf("Close had not returned after %v: it waits for the close_notify the broker does not read", time.Since(start).Round(time.Millisecond))
		}
	})
	t.Run("request timeout", func(t *testing.T) {
		read := make(chan struct{})
		cfg := pipeTLSBroker(t, func(ts *tls.Conn, _ net.Conn) {
			readFrame(ts)
			close(read) // and read no more
		})
		fake := clock.NewFake(time.Unix(1000, 0))
		cfg.Clock, cfg.RequestTimeout = fake, time.Second
		c, err := Dial(context.Background(), "broker:9093", cfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		o := newOutcome()
		c.Send(context.Background(), metadataRequest(), o.done)
		waitClosed(t, read, "the broker reading the request")
		// Each step is a full timeout, so the first one after the watcher
		// armed its timer fails the request.
		start := time.Now()
		for {
			fake.Advance(time.Second)
			select {
			case res := <-o.ch:
				if !errors.Is(res.err, ErrRequestTimeout) {
					t.Fatalf("request ended with %v, want ErrRequestTimeout", res.err)
				}
				return
			case <-time.After(5 * time.Millisecond): // paces the fake clock only
			}
			if took := time.Since(start); took > closeBound {
				t.Fatalf("the timed-out request had not failed after %v: failing the connection waits for the close_notify the broker does not read", took.Round(time.Millisecond))
			}
		}
	})
}

// Where the broker reads, Close still ends the TLS session with a
// close_notify alert.
func TestTLSCloseSendsCloseNotifyToABrokerThatReads(t *testing.T) {
	got := make(chan int, 1)
	cfg := pipeTLSBroker(t, func(_ *tls.Conn, transport net.Conn) {
		// Raw bytes, under TLS: the client sends nothing after Dial but
		// the alert.
		n, _ := io.Copy(io.Discard, transport)
		got <- int(n)
	})
	c, err := Dial(context.Background(), "broker:9093", cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	select {
	case n := <-got:
		if n == 0 {
			t.Error("the broker read no close_notify before the end of the stream")
		}
	case <-time.After(waitTime):
		t.Fatal("the broker did not see the stream end")
	}
}

// readFrame reads one request frame.
func readFrame(r io.Reader) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return
	}
	io.ReadFull(r, make([]byte, binary.BigEndian.Uint32(size[:])))
}
