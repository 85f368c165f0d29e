// Package oauthbearer implements SASL/OAUTHBEARER (RFC 7628) as Kafka uses
// it (KIP-255): the client sends a bearer token, typically a JWT from an
// identity provider, with optional SASL extensions (KIP-342). The token
// comes from a callback on every authentication, so a re-authentication
// (KIP-368) sends a fresh one. Wrap a callback that asks an identity
// provider in Cached, so that the producer's connections share one token
// until shortly before it expires (Token.Expiry), as the Java client's login
// module refreshes its token:
//
//	oauthbearer.New(oauthbearer.Cached(fetchFromIdentityProvider))
package oauthbearer

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gokafka/producer/internal/badchar"
	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/sasl"
)

// Token is what a TokenProvider returns.
type Token struct {
	// Value is the bearer token. It must be a b64token (RFC 6750): letters,
	// digits and -._~+/, then optional '='s; a JWT is one.
	Value string
	// Extensions are SASL extensions sent beside the token (KIP-342), such
	// as a cloud's logicalCluster or identityPoolId. Names are letters only
	// and "auth" is reserved; values are printable ASCII, space, tab, CR
	// or LF.
	Extensions map[string]string
	// AuthzID, if set, asks to act as this identity (RFC 7628's authzid);
	// Kafka's broker takes it only if it is the token's principal name.
	// It must be ASCII without NUL, ',' or '=': Kafka's broker refuses
	// the whole message for any other character, and takes RFC 5801's
	// escapes (=2C, =3D) as they are, without decoding them into the
	// ',' or '=' they stand for, so no escaping would reach the name.
	AuthzID string
	// Expiry is when the token expires (a JWT's exp), for Cached, which
	// serves the token until shortly before then. The zero time means
	// unknown: Cached never serves such a token past the call that fetched
	// it. Nothing else reads it; the broker reads the token's own.
	Expiry time.Time
}

// String shows the extensions' names, never the token or their values.
func (t Token) String() string {
	return fmt.Sprintf("Token(%d bytes, extensions %v)", len(t.Value), slices.Sorted(maps.Keys(t.Extensions)))
}

// Format prints String for every verb, so that no verb reaches the token by
// reflection.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// TokenProvider returns the token to send, called once per authentication
// (every new connection and every re-authentication), with the
// authentication's context. Brokers may be many and each connection
// authenticates, so a provider that asks an identity provider should be
// wrapped in Cached (with Token.Expiry set), or cache the token itself
// until shortly before it expires. An error fails no record by
// itself: at a new connection the dial is tried again after the reconnect
// backoff, until the records' delivery timeout; at a re-authentication the
// connection keeps its current session and the provider is asked again
// after the reconnect backoff, until the session would expire first. A
// token that breaks Token's rules is another matter: the broker would refuse
// it whenever it came, so at a new connection it fails the records at once,
// as refused credentials do (sasl.ErrInvalidCredentials).
type TokenProvider func(ctx context.Context) (Token, error)

// Mechanism authenticates with tokens from a provider.
type Mechanism struct {
	provider TokenProvider
}

// New returns OAUTHBEARER with tokens from provider. Java:
// sasl.mechanism=OAUTHBEARER with sasl.login.callback.handler.class;
// kafka-python: sasl_oauth_token_provider.
func New(provider TokenProvider) *Mechanism { return &Mechanism{provider: provider} }

// Name implements sasl.Mechanism.
func (*Mechanism) Name() string { return "OAUTHBEARER" }

// String names the mechanism; the token is the provider's.
func (Mechanism) String() string { return "OAUTHBEARER" }

// errNoProvider: New was given a nil TokenProvider. It is invalid
// credentials to conn, which refuses it at once, as New refuses it through
// Validate.
var errNoProvider = fmt.Errorf("OAUTHBEARER: %w: no token provider", sasl.ErrInvalidCredentials)

// Validate implements sasl.Validator: a mechanism without a token provider
// can never start.
func (m *Mechanism) Validate() error {
	if m.provider == nil {
		return errNoProvider
	}
	return nil
}

// Start implements sasl.Mechanism: it asks the provider for a token. The
// provider's error is returned as it is, a fault to retry; a token that
// breaks Token's rules is an error wrapping sasl.ErrInvalidCredentials.
func (m *Mechanism) Start(ctx context.Context, _ string) (sasl.Session, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	tok, err := m.provider(ctx)
	if err != nil {
		return nil, fmt.Errorf("OAUTHBEARER: token provider: %w", err)
	}
	msg, err := initialResponse(tok)
	if err != nil {
		return nil, err
	}
	return &session{first: msg}, nil
}

// The formats Kafka's broker accepts (OAuthBearerClientInitialResponse).
var (
	tokenFormat    = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	extensionValue = regexp.MustCompile(`^[\x21-\x7E \t\r\n]+$`)
	// errInvalidToken: a token the broker would refuse every time, whatever
	// the moment, so a refusal (sasl.ErrInvalidCredentials), not a fault
	// to retry.
	errInvalidToken = fmt.Errorf("OAUTHBEARER: %w: invalid token", sasl.ErrInvalidCredentials)
)

// outsideAuthzid reports a character that an authzid cannot hold: RFC
// 5801's saslname as Kafka's broker reads it is ASCII but NUL, with ','
// and '=' only as the escapes it leaves undecoded, which are refused here
// with them. An invalid byte is utf8.RuneError, outside ASCII.
func outsideAuthzid(r rune) bool { return r == 0 || r > unicode.MaxASCII || r == ',' || r == '=' }

// badExtensionName says why Kafka's broker would refuse name as an
// extension's: it takes letters only, and not "auth", the token's key.
func badExtensionName(name string) error {
	switch i := strings.IndexFunc(name, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }); {
	case name == "":
		return fmt.Errorf("%w: an extension name is empty: want letters", errInvalidToken)
	case i >= 0:
		return fmt.Errorf("%w: an extension name has %s: want letters only", errInvalidToken, badchar.At(name, i))
	case name == "auth":
		return fmt.Errorf(`%w: the extension name "auth" is reserved for the token`, errInvalidToken)
	}
	return nil
}

// kvsep separates the key=value pairs of RFC 7628's client response.
const kvsep = "\x01"

// initialResponse is RFC 7628 section 3.1's client response:
//
//	gs2-header kvsep "auth=Bearer " token kvsep *(key=value kvsep) kvsep
//
// with extensions in name order, so that the same token makes the same bytes.
func initialResponse(t Token) ([]byte, error) {
	if !tokenFormat.MatchString(t.Value) {
		// Never quote the token: it is the secret.
		return nil, fmt.Errorf("%w: %d bytes that are not a b64token (RFC 6750)", errInvalidToken, len(t.Value))
	}
	// The authzid and an extension's name are refused for the character
	// they may not hold, named with where it is, not quoted: they may be
	// long, or not print.
	if i := strings.IndexFunc(t.AuthzID, outsideAuthzid); i >= 0 {
		return nil, fmt.Errorf("%w: AuthzID has %s: Kafka's broker takes ASCII without NUL, ',' or '=' there", errInvalidToken, badchar.At(t.AuthzID, i))
	}
	var b strings.Builder
	b.WriteString("n,")
	if t.AuthzID != "" {
		b.WriteString("a=" + t.AuthzID)
	}
	b.WriteString("," + kvsep + "auth=Bearer " + t.Value + kvsep)
	for _, name := range slices.Sorted(maps.Keys(t.Extensions)) {
		if err := badExtensionName(name); err != nil {
			return nil, err
		}
		if !extensionValue.MatchString(t.Extensions[name]) {
			return nil, fmt.Errorf("%w: extension %q: value has characters RFC 7628 does not allow", errInvalidToken, name)
		}
		b.WriteString(name + "=" + t.Extensions[name] + kvsep)
	}
	b.WriteString(kvsep)
	return []byte(b.String()), nil
}

// session sends the initial response, then reads the broker's verdict.
// Success is an empty answer. A failure is a JSON status (RFC 7628 section
// 3.2.2), which the client acknowledges with a lone kvsep so that the broker
// can end the exchange with its error code.
type session struct {
	first  []byte
	step   int
	status string // the broker's error status, once it sent one
}

func (s *session) Step(_ context.Context, challenge []byte) ([]byte, bool, error) {
	s.step++
	switch {
	case s.step == 1:
		return s.first, false, nil
	case s.step == 2 && len(challenge) == 0:
		return nil, true, nil
	case s.step == 2:
		s.status = string(challenge)
		return []byte(kvsep), false, nil
	}
	// Quoted: the broker sent it before proving anything.
	return nil, false, fmt.Errorf("OAUTHBEARER: the broker rejected the token: %s", brokertext.Quote(s.status))
}
