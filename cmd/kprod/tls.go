package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
)

// TLS plugs into the producer through Config.TLS, and into kprod's own
// connection for topic creation through conn.Config.TLS, so that a
// certificate that does not verify fails the run at once, saying why.

// tlsEnabled reports whether any TLS flag asks for TLS.
func (o *commonOptions) tlsEnabled() bool {
	return o.tls || o.tlsCA != "" || o.tlsCert != "" || o.tlsKey != "" || o.tlsServerName != ""
}

// tlsFlag is the first TLS flag given, for an error that blames TLS as a
// whole; "" without TLS.
func (o *commonOptions) tlsFlag() string {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"--tls", o.tls}, {"--tls-ca", o.tlsCA != ""}, {"--tls-cert", o.tlsCert != ""},
		{"--tls-key", o.tlsKey != ""}, {"--tls-server-name", o.tlsServerName != ""},
	} {
		if f.set {
			return f.name
		}
	}
	return ""
}

// tlsConfig builds the client TLS configuration from the flags, or returns a
// usage error naming the flag at fault. nil without TLS. The embedded
// broker listens in plain text: a TLS handshake with it would wait for the
// connection setup's timeout and fail without saying why.
func (o *commonOptions) tlsConfig(embedded bool) (*tls.Config, error) {
	if !o.tlsEnabled() {
		return nil, nil
	}
	if embedded {
		return nil, usagef("%s: the embedded broker has no TLS; give --brokers", o.tlsFlag())
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.tlsServerName}
	if o.tlsCA != "" {
		pem, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, usagef("--tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--tls-ca: %s holds no PEM certificate", o.tlsCA)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.tlsCert != "" && o.tlsKey == "":
		return nil, usagef("--tls-key: required with --tls-cert")
	case o.tlsKey != "" && o.tlsCert == "":
		return nil, usagef("--tls-cert: required with --tls-key")
	case o.tlsCert != "":
		pair, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, usagef("--tls-cert/--tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
