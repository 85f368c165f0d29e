package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"time"
)

// closeNotifyGrace is how long closing a TLS connection waits for its
// transport to take the close_notify alert. A transport that takes bytes at
// all takes those few at once; one that takes none within this grace has a
// peer that stopped reading, and waiting longer only holds up the close.
const closeNotifyGrace = 50 * time.Millisecond

// handshakeTLS runs the client's TLS handshake on nc. An empty ServerName
// becomes the host dialled, which is what SNI sends and what the broker's
// certificate is verified against (an IP address is verified against the
// certificate's IP addresses).
func handshakeTLS(ctx context.Context, nc net.Conn, addr string, cfg *tls.Config) (net.Conn, error) {
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(withRawIO(nc), cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// tlsRefused reports whether err is a TLS verdict rather than a network
// failure: the broker's certificate did not verify, or one side refused the
// other with an alert (the broker rejecting our certificate, no common
// version), or the broker does not speak TLS. Retrying would meet the same
// verdict, so these fail at once instead of being retried until the
// delivery timeout.
func tlsRefused(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		alert     tls.AlertError
		header    tls.RecordHeaderError
		op        *net.OpError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &alert), errors.As(err, &header):
		return true
	case errors.As(err, &op):
		// crypto/tls reports an alert from the peer as this op.
		return op.Op == "remote error"
	}
	return false
}

// closeTransport closes nc. Over TLS, crypto/tls's Close first sends a
// close_notify alert, unless a write is in progress, and gives that write
// 5s: a broker that had stopped reading (its socket buffers full, or a
// transport from Config.Dial that buffers nothing) held Close, and the
// failing of the connection on a timeout, that long for each connection,
// and with them Producer.Close, whatever its ctx. The alert still goes out
// when the transport takes it within closeNotifyGrace, as it does where the
// broker reads; past the grace the transport is closed under it, which ends
// the write. The grace is wall time, not the configured clock's: like
// crypto/tls's own deadline, it bounds a socket write. Kafka loses nothing
// without the alert: its requests are framed, so a cut one shows anyway.
func closeTransport(nc net.Conn) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		nc.Close()
		return
	}
	transport := tc.NetConn()
	cut := time.AfterFunc(closeNotifyGrace, func() { transport.Close() })
	defer cut.Stop()
	tc.Close()
}
