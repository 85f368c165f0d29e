package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
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
