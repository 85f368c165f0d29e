// Package plain implements SASL/PLAIN (RFC 4616): the user name and password
// sent as they are, in one message. Use it over TLS only: without TLS anyone
// on the path reads the password.
package plain

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gokafka/producer/sasl"
)

// Mechanism authenticates as one user with PLAIN.
type Mechanism struct {
	authzid  string
	user     string
	password string
}

// New returns PLAIN credentials for user. Java: sasl.mechanism=PLAIN with
// PlainLoginModule's username and password; kafka-python:
// sasl_plain_username, sasl_plain_password.
func New(user, password string) *Mechanism {
	return &Mechanism{user: user, password: password}
}

// AsUser returns a copy that asks to act as authzid (RFC 4616's
// authorization identity). Kafka brokers accept only an empty one or the
// user's own name.
func (m *Mechanism) AsUser(authzid string) *Mechanism {
	c := *m
	c.authzid = authzid
	return &c
}

// Name implements sasl.Mechanism.
func (*Mechanism) Name() string { return "PLAIN" }

// Validate implements sasl.Validator: a NUL byte, or bytes that are not
// UTF-8, in the authorization identity, the user name or the password are
// refused. NUL separates the fields of PLAIN's one message, and RFC 4616
// forbids it in each: one would move the rest into the next field. RFC 4616
// wants UTF-8 in each, and Kafka's broker (PlainSaslServer) decodes the
// message as UTF-8, each invalid byte read as U+FFFD: it would judge other
// credentials than these, and two passwords that differ in such bytes
// alone as one. The error names the field, never its value.
func (m *Mechanism) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"authorization identity", m.authzid}, {"user name", m.user}, {"password", m.password},
	} {
		if strings.IndexByte(f.value, 0) >= 0 {
			return fmt.Errorf("PLAIN: %w: the %s holds a NUL byte, which separates PLAIN's fields (RFC 4616)",
				sasl.ErrInvalidCredentials, f.name)
		}
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("PLAIN: %w: the %s is not UTF-8 (RFC 4616), and Kafka's broker would read other characters than these",
				sasl.ErrInvalidCredentials, f.name)
		}
	}
	return nil
}

// Start implements sasl.Mechanism. It refuses what Validate refuses, for
// a caller that did not ask Validate (conn.Dial does not).
func (m *Mechanism) Start(context.Context, string) (sasl.Session, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &session{m: m}, nil
}

// Message is the one PLAIN message: authzid NUL user NUL password.
func (m *Mechanism) message() []byte {
	b := make([]byte, 0, len(m.authzid)+len(m.user)+len(m.password)+2)
	b = append(b, m.authzid...)
	b = append(b, 0)
	b = append(b, m.user...)
	b = append(b, 0)
	return append(b, m.password...)
}

// String names the mechanism and the user, never the password.
func (m Mechanism) String() string { return fmt.Sprintf("PLAIN(user=%q)", m.user) }

// Format prints String for every verb, so that no verb (%v, %+v, %#v,
// %x...) reaches the password by reflection.
func (m Mechanism) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

type session struct {
	m    *Mechanism
	sent bool
}

func (s *session) Step(_ context.Context, challenge []byte) ([]byte, bool, error) {
	if !s.sent {
		s.sent = true
		return s.m.message(), false, nil
	}
	// The broker answers success with an empty token; a failure comes as
	// an error code, which conn reports before asking us.
	if len(challenge) != 0 {
		return nil, false, fmt.Errorf("%w: PLAIN: unexpected %d-byte answer", sasl.ErrProtocol, len(challenge))
	}
	return nil, true, nil
}
