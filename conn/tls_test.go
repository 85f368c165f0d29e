package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/testcerts"
	"github.com/gokafka/producer/protocol"
)

// tlsSetup is a CA, a broker certificate it issued, and a fake broker
// serving it.
type tlsSetup struct {
	ca *testcerts.CA
	fb *fakeBroker
}

func newTLSSetup(t *testing.T, server testcerts.Spec, clientAuth tls.ClientAuthType, sni *sync.Map) *tlsSetup {
	t.Helper()
	ca, err := testcerts.NewCA("conn test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(server)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: ca.Pool(), ClientAuth: clientAuth}
	if sni != nil {
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sni.Store(h.ServerName, true)
			return nil, nil
		}
	}
	return &tlsSetup{ca: ca, fb: newFakeBrokerTLS(t, cfg)}
}

func dialTLS(addr string, cfg *tls.Config) (*Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	return Dial(ctx, addr, Config{TLS: cfg})
}

func TestTLSVerifiesAndSendsSNI(t *testing.T) {
	var sni sync.Map
	s := newTLSSetup(t, testcerts.Valid("broker", time.Hour, "localhost", "127.0.0.1"), tls.NoClientCert, &sni)
	_, port, _ := net.SplitHostPort(s.fb.addr())
	c, err := dialTLS(net.JoinHostPort("localhost", port), &tls.Config{RootCAs: s.ca.Pool()})
	if err != nil {
		t.Fatalf("Dial over TLS: %v", err)
	}
	defer c.Close()
	if _, ok := sni.Load("localhost"); !ok {
		t.Error("the broker did not get the host dialled as SNI")
	}
	// Dial's ApiVersions exchange has run over TLS.
	if _, err := c.Version(protocol.Metadata); err != nil {
		t.Errorf("no versions negotiated over TLS: %v", err)
	}
}

// Configuration errors fail the dial at once with an *AuthError naming TLS,
// the broker and the reason: retrying cannot help.
func TestTLSConfigurationErrors(t *testing.T) {
	other, err := testcerts.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		server testcerts.Spec
		client func(s *tlsSetup) *tls.Config
		reason any // a pointer to the x509 error type expected
		words  string
	}{
		{"unknown CA", testcerts.Valid("broker", time.Hour, "127.0.0.1"),
			func(*tlsSetup) *tls.Config { return &tls.Config{RootCAs: other.Pool()} },
			&x509.UnknownAuthorityError{}, "unknown authority"},
		{"expired", testcerts.Expired("broker", "127.0.0.1"),
			func(s *tlsSetup) *tls.Config { return &tls.Config{RootCAs: s.ca.Pool()} },
			&x509.CertificateInvalidError{}, "expired"},
		{"wrong host", testcerts.Valid("broker", time.Hour, "kafka.example"),
			func(s *tlsSetup) *tls.Config { return &tls.Config{RootCAs: s.ca.Pool()} },
			&x509.HostnameError{}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTLSSetup(t, tc.server, tls.NoClientCert, nil)
			_, err := dialTLS(s.fb.addr(), tc.client(s))
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Mechanism != "TLS" || IsRetriable(err) {
				t.Fatalf("error %v, want a non-retriable TLS *AuthError", err)
			}
			if !errors.As(err, tc.reason) {
				t.Errorf("error %v does not wrap %T", err, tc.reason)
			}
			if msg := err.Error(); !strings.Contains(msg, s.fb.addr()) || !strings.Contains(msg, tc.words) {
				t.Errorf("error %q does not name the broker and %q", msg, tc.words)
			}
		})
	}
}

// A broker that requires a client certificate refuses a client without
// one; with one issued by its CA, the connection works (mTLS).
func TestMutualTLS(t *testing.T) {
	s := newTLSSetup(t, testcerts.Valid("broker", time.Hour, "127.0.0.1"), tls.RequireAndVerifyClientCert, nil)
	_, err := dialTLS(s.fb.addr(), &tls.Config{RootCAs: s.ca.Pool()})
	if !errors.Is(err, ErrAuthentication) || IsRetriable(err) {
		t.Fatalf("without a client certificate: %v, want a non-retriable *AuthError", err)
	}
	spec := testcerts.Valid("client", time.Hour)
	spec.Client = true
	client, err := s.ca.Issue(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialTLS(s.fb.addr(), &tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{client}})
	if err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	c.Close()
}

// A *tls.Dialer in Config.Dial gets the same classification.
func TestTLSDialerErrorsAreClassified(t *testing.T) {
	s := newTLSSetup(t, testcerts.Valid("broker", time.Hour, "127.0.0.1"), tls.NoClientCert, nil)
	d := &tls.Dialer{Config: &tls.Config{RootCAs: x509.NewCertPool()}}
	_, err := Dial(context.Background(), s.fb.addr(), Config{Dial: d.DialContext})
	if !errors.Is(err, ErrAuthentication) {
		t.Fatalf("error %v, want an *AuthError", err)
	}
}

// helloAnswer is how a plaintext listener meets a ClientHello.
type helloAnswer int

const (
	// silent waits for the rest of a request of the hello's size.
	silent helloAnswer = iota
	// refusesItsSize reads the hello's first 4 bytes as a request's size,
	// refuses it and hangs up, as Kafka does: the rest of the hello
	// unread, the connection is reset.
	refusesItsSize
	// readsItAll reads the whole hello before it hangs up, as a server of
	// another protocol may: the connection ends cleanly, in EOF.
	readsItAll
)

// plaintextListener is a listener that does not speak TLS, as a Kafka
// plaintext listener does not, and reads a ClientHello as answer says.
func plaintextListener(t *testing.T, answer helloAnswer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted sync.WaitGroup
	accepted.Add(1)
	go func() {
		defer accepted.Done()
		var open []net.Conn
		defer func() {
			for _, nc := range open {
				nc.Close()
			}
		}()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			switch answer {
			case silent:
				open = append(open, nc)
			case refusesItsSize:
				nc.Read(make([]byte, 4))
				nc.Close()
			case readsItAll:
				readTLSRecord(nc)
				nc.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		accepted.Wait()
	})
	return ln.Addr().String()
}

// readTLSRecord reads one TLS record, such as the ClientHello that a TLS
// client sends alone before it waits for an answer.
func readTLSRecord(nc net.Conn) {
	header := make([]byte, 5) // type, version, length
	if _, err := io.ReadFull(nc, header); err != nil {
		return
	}
	io.ReadFull(nc, make([]byte, binary.BigEndian.Uint16(header[3:])))
}

// A TLS handshake the broker never answers, with the caller's ctx live, is
// DialTimeout running out: it says so, and that the listener may not speak
// TLS, and does not match context.DeadlineExceeded, which a producer's Send
// reports as its caller's ctx ending (the record may still be delivered).
// One the broker hangs up on gets the hint too, whether the hang-up resets
// the connection or ends it in EOF: either way the user's likely mistake
// is a TLS setting for a plaintext listener.
func TestATLSHandshakeUnansweredTimesOutAsNoCtxError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer helloAnswer
		words  []string
	}{
		{"unanswered", silent, []string{"no answer within the connection setup timeout (100ms)"}},
		{"hung up on", refusesItsSize, nil},
		{"hung up on after the whole hello", readsItAll, []string{": EOF"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := plaintextListener(t, tc.answer)
			ctx, cancel := context.WithTimeout(context.Background(), waitTime)
			defer cancel()
			_, err := Dial(ctx, addr, Config{TLS: &tls.Config{}, DialTimeout: 100 * time.Millisecond})
			if err == nil {
				t.Fatal("Dial over TLS to a plaintext listener succeeded")
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("error %v matches a ctx error, yet the caller's ctx is live", err)
			}
			if !errors.Is(err, ErrDisconnected) || !IsRetriable(err) {
				t.Errorf("error %v, want a retriable ErrDisconnected", err)
			}
			if tc.answer == silent && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("error %v does not match os.ErrDeadlineExceeded", err)
			}
			words := append([]string{"TLS handshake with " + addr, "is it a plaintext listener?"}, tc.words...)
			for _, w := range words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A dial whose caller's ctx ends mid-handshake fails with that ctx's error
// (its cause, if it has one): the caller gave up, DialTimeout did not pass.
func TestATLSHandshakeEndedByTheCallersCtxSaysSo(t *testing.T) {
	gaveUp := errors.New("the caller gave up")
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"deadline with a cause", func() (context.Context, context.CancelFunc) {
			return context.WithTimeoutCause(context.Background(), 100*time.Millisecond, gaveUp)
		}, gaveUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := plaintextListener(t, silent)
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := Dial(ctx, addr, Config{TLS: &tls.Config{}, DialTimeout: time.Minute})
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrDisconnected) {
				t.Fatalf("error %v, want %v and ErrDisconnected", err, tc.want)
			}
			if strings.Contains(err.Error(), "setup timeout") {
				t.Errorf("error %q blames the connection setup timeout", err)
			}
		})
	}
}
