// Package scram implements SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC
// 7677), the password mechanisms Kafka stores salted: the password never
// crosses the wire, and the broker proves with its server signature that it
// knows the salted credentials too, which this client checks before it
// trusts the connection.
//
// The user name must be ASCII without NUL, and not empty: Kafka's broker
// reads RFC 5802's saslname so and refuses the whole message otherwise
// (its ClientFirstMessage), as it refuses the Java client's; ',' and '='
// are sent escaped, as =2C and =3D, which the broker decodes. The password
// never crosses the wire: like the Java client, no SASLprep is applied,
// so one outside ASCII must be in the form the broker stored (its UTF-8).
package scram

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"unicode"

	"github.com/gokafka/producer/internal/badchar"
	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/sasl"
)

// Mechanism authenticates as one user with SCRAM over one hash.
type Mechanism struct {
	name     string
	hash     func() hash.Hash
	user     string
	password string
	// nonce returns the client nonce; tests fix it to replay RFC vectors.
	nonce func() (string, error)
}

// SHA256 returns SCRAM-SHA-256 credentials for user. Java:
// sasl.mechanism=SCRAM-SHA-256 with ScramLoginModule; kafka-python:
// sasl_mechanism="SCRAM-SHA-256", sasl_plain_username, sasl_plain_password.
func SHA256(user, password string) *Mechanism {
	return &Mechanism{name: "SCRAM-SHA-256", hash: sha256.New, user: user, password: password, nonce: randomNonce}
}

// SHA512 returns SCRAM-SHA-512 credentials for user.
func SHA512(user, password string) *Mechanism {
	return &Mechanism{name: "SCRAM-SHA-512", hash: sha512.New, user: user, password: password, nonce: randomNonce}
}

// Name implements sasl.Mechanism.
func (m *Mechanism) Name() string { return m.name }

// Validate implements sasl.Validator: a user name that Kafka's broker
// cannot read as a saslname is refused, empty or with a character outside
// ASCII, or a NUL: the broker would refuse every exchange as malformed,
// and the producer would hear only that authentication failed. The error
// names the first such character and where it is, not the name: it is
// not a secret, but its bytes may not print, and it may be long.
func (m *Mechanism) Validate() error {
	if m.user == "" {
		return fmt.Errorf("%s: %w: the user name is empty", m.name, sasl.ErrInvalidCredentials)
	}
	if i := strings.IndexFunc(m.user, func(r rune) bool { return r == 0 || r > unicode.MaxASCII }); i >= 0 {
		return fmt.Errorf("%s: %w: the user name has %s; Kafka's broker takes ASCII without NUL",
			m.name, sasl.ErrInvalidCredentials, badchar.At(m.user, i))
	}
	return nil
}

// Start implements sasl.Mechanism. It refuses what Validate refuses, for
// a caller that did not ask Validate (conn.Dial does not).
func (m *Mechanism) Start(context.Context, string) (sasl.Session, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	nonce, err := m.nonce()
	if err != nil {
		return nil, fmt.Errorf("%s: client nonce: %w", m.name, err)
	}
	return &session{m: m, clientNonce: nonce}, nil
}

// String names the mechanism and the user, never the password.
func (m Mechanism) String() string { return fmt.Sprintf("%s(user=%q)", m.name, m.user) }

// Format prints String for every verb, so that no verb reaches the password
// by reflection.
func (m Mechanism) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// randomNonce is 24 bytes from crypto/rand, base64: printable and free of
// commas, as RFC 5802 requires of a nonce.
func randomNonce() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// Bounds on the broker's iteration count. RFC 7677 asks for at least 4096,
// Kafka's minimum; a huge count would make the client burn CPU at a
// broker's word, on every connection. Kafka stores no credential above
// 16384 iterations (its ScramMechanism's maximum), so a broker asking for
// more than four times that is not one of Kafka's, or is not honest: at
// 1<<20, the cap before, a hostile broker, or a man in the middle on a
// plaintext listener, made each dial cost half a second of SHA-512.
const (
	minIterations = 4096
	maxIterations = 1 << 16
)

// gs2Header says: no channel binding, no authorization identity.
const gs2Header = "n,,"

// session walks the three steps of RFC 5802 section 3: client-first,
// client-final, then verification of the server-final message.
type session struct {
	m           *Mechanism
	clientNonce string
	step        int
	clientFirst string // client-first-message-bare
	serverSig   []byte // expected ServerSignature
	// err is the error that ended the exchange, returned again by every
	// later Step: a session whose client-final failed has no signature to
	// expect, and an empty one would match that nothing.
	err error
}

func (s *session) Step(_ context.Context, challenge []byte) ([]byte, bool, error) {
	if s.err != nil {
		return nil, false, s.err
	}
	msg, done, err := s.next(challenge)
	s.err = err
	return msg, done, err
}

// next is Step while the exchange has not failed.
func (s *session) next(challenge []byte) ([]byte, bool, error) {
	s.step++
	switch s.step {
	case 1:
		s.clientFirst = "n=" + escapeName(s.m.user) + ",r=" + s.clientNonce
		return []byte(gs2Header + s.clientFirst), false, nil
	case 2:
		msg, err := s.clientFinal(string(challenge))
		return msg, false, err
	case 3:
		if err := s.verify(string(challenge)); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("%w: %s: a message after the exchange ended", sasl.ErrProtocol, s.m.name)
}

// clientFinal answers server-first with the proof that we know the password.
func (s *session) clientFinal(serverFirst string) ([]byte, error) {
	attrs, err := parse(s.m.name, serverFirst)
	if err != nil {
		return nil, err
	}
	if _, ok := attrs['m']; ok {
		return nil, fmt.Errorf("%w: %s: the broker requires an extension this client does not know", sasl.ErrProtocol, s.m.name)
	}
	nonce := attrs['r']
	if !strings.HasPrefix(nonce, s.clientNonce) || len(nonce) == len(s.clientNonce) {
		return nil, fmt.Errorf("%w: %s: the broker's nonce does not extend ours", sasl.ErrProtocol, s.m.name)
	}
	if !printable(nonce) {
		return nil, fmt.Errorf("%w: %s: the broker's nonce %s is not printable ASCII", sasl.ErrProtocol, s.m.name, brokertext.Quote(nonce))
	}
	salt, err := base64.StdEncoding.DecodeString(attrs['s'])
	if err != nil || len(salt) == 0 {
		return nil, fmt.Errorf("%w: %s: salt %s is not base64", sasl.ErrProtocol, s.m.name, brokertext.Quote(attrs['s']))
	}
	iters, err := iterations(attrs['i'])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", sasl.ErrProtocol, s.m.name, err)
	}

	salted, err := pbkdf2.Key(s.m.hash, s.m.password, salt, iters, s.m.hash().Size())
	if err != nil {
		return nil, fmt.Errorf("%s: salting the password: %w", s.m.name, err)
	}
	clientKey := s.hmac(salted, "Client Key")
	storedKey := s.sum(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + nonce
	authMessage := s.clientFirst + "," + serverFirst + "," + withoutProof
	proof := s.hmac(storedKey, authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	s.serverSig = s.hmac(s.hmac(salted, "Server Key"), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verify checks the broker's signature in server-final.
func (s *session) verify(serverFinal string) error {
	attrs, err := parse(s.m.name, serverFinal)
	if err != nil {
		return err
	}
	if e, ok := attrs['e']; ok {
		// Quoted: nothing has proven yet who sent it.
		return fmt.Errorf("%s: the broker refused: %s", s.m.name, brokertext.Quote(e))
	}
	got, err := base64.StdEncoding.DecodeString(attrs['v'])
	if err != nil {
		return fmt.Errorf("%w: %s: server signature is not base64", sasl.ErrProtocol, s.m.name)
	}
	if !hmac.Equal(got, s.serverSig) {
		return fmt.Errorf("%w: %s: the server signature does not match the credentials", sasl.ErrServerVerification, s.m.name)
	}
	return nil
}

func (s *session) hmac(key []byte, msg string) []byte {
	h := hmac.New(s.m.hash, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func (s *session) sum(b []byte) []byte {
	h := s.m.hash()
	h.Write(b)
	return h.Sum(nil)
}

// escapeName escapes a saslname: ',' and '=' are the message's separators.
func escapeName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// parse splits a server message into its attributes (a letter, '=', a
// value), as RFC 5802 section 5 lays them out. An attribute given twice is
// refused, as the Java client refuses it, rather than read as its last
// value: the message has one of each.
func parse(mech, msg string) (map[byte]string, error) {
	attrs := make(map[byte]string)
	for field := range strings.SplitSeq(msg, ",") {
		if len(field) < 2 || field[1] != '=' {
			return nil, fmt.Errorf("%w: %s: attribute %s is not a=value", sasl.ErrProtocol, mech, brokertext.Quote(field))
		}
		if _, twice := attrs[field[0]]; twice {
			return nil, fmt.Errorf("%w: %s: attribute %q given twice", sasl.ErrProtocol, mech, field[:1])
		}
		attrs[field[0]] = field[2:]
	}
	return attrs, nil
}

// printable reports whether s is made of RFC 5802's printable characters,
// those of a nonce: ASCII from '!' to '~' but ','.
func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

func iterations(s string) (int, error) {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' || n > maxIterations {
			return 0, fmt.Errorf("iteration count %s is not a number up to %d", brokertext.Quote(s), maxIterations)
		}
		n = n*10 + int(c-'0')
	}
	if n < minIterations || n > maxIterations {
		return 0, fmt.Errorf("iteration count %s is outside %d..%d", brokertext.Quote(s), minIterations, maxIterations)
	}
	return n, nil
}
