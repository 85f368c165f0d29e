package oauthbearer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gokafka/producer/sasl"
)

const jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."

func provide(tok Token) *Mechanism {
	return New(func(context.Context) (Token, error) { return tok, nil })
}

func TestInitialResponse(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		tok  Token
		want string
	}{
		{Token{Value: jwt}, "n,,\x01auth=Bearer " + jwt + "\x01\x01"},
		{
			Token{Value: jwt, AuthzID: "alice", Extensions: map[string]string{"logicalCluster": "lkc-1", "identityPoolId": "pool 2"}},
			"n,a=alice,\x01auth=Bearer " + jwt + "\x01identityPoolId=pool 2\x01logicalCluster=lkc-1\x01\x01",
		},
	} {
		s, err := provide(tc.tok).Start(ctx, "b:9092")
		if err != nil {
			t.Fatal(err)
		}
		msg, done, err := s.Step(ctx, nil)
		if err != nil || done || string(msg) != tc.want {
			t.Errorf("initial response %q, %v, %v; want %q", msg, done, err, tc.want)
		}
		if _, done, err := s.Step(ctx, []byte{}); err != nil || !done {
			t.Errorf("empty answer: done=%v err=%v, want success", done, err)
		}
	}
}

func TestRejectedToken(t *testing.T) {
	ctx := context.Background()
	s, _ := provide(Token{Value: jwt}).Start(ctx, "")
	s.Step(ctx, nil)
	status := `{"status":"invalid_token"}`
	// RFC 7628 3.2.3: the client answers an error status with a lone kvsep.
	msg, done, err := s.Step(ctx, []byte(status))
	if err != nil || done || string(msg) != "\x01" {
		t.Fatalf("after an error status: %q, %v, %v; want the kvsep", msg, done, err)
	}
	if _, _, err := s.Step(ctx, []byte{}); err == nil || !strings.Contains(err.Error(), "invalid_token") {
		t.Fatalf("final step: %v, want the broker's status", err)
	}
}

// A token that breaks the rules is invalid credentials, which conn refuses
// at once, and its error never quotes the token.
func TestInvalidTokensAreRefusedUnquoted(t *testing.T) {
	for name, tok := range map[string]Token{
		"space in token":     {Value: "secret token"},
		"empty token":        {Value: ""},
		"reserved extension": {Value: jwt, Extensions: map[string]string{"auth": "x"}},
		"bad extension name": {Value: jwt, Extensions: map[string]string{"a1": "x"}},
		"hyphenated name":    {Value: jwt, Extensions: map[string]string{"trace-id": "x"}},
		"bad extension":      {Value: jwt, Extensions: map[string]string{"a": "\x00"}},
		"authzid separator":  {Value: jwt, AuthzID: "a,b"},
		// '=' escapes in RFC 7628's saslname as ',' does, and Kafka's
		// broker takes an extension's value of one character at least.
		"authzid equals": {Value: jwt, AuthzID: "a=b"},
		// Kafka's broker takes =2C as it is, where RFC 5801 decodes it.
		"authzid escaped comma": {Value: jwt, AuthzID: "a=2Cb"},
		// Kafka's broker refuses the whole message for any character
		// outside ASCII, or NUL, in the authzid.
		"authzid not ASCII": {Value: jwt, AuthzID: "jos\u00e9"},
		"authzid not UTF-8": {Value: jwt, AuthzID: "a\xffb"},
		"authzid NUL":       {Value: jwt, AuthzID: "a\x00b"},
		"empty extension":   {Value: jwt, Extensions: map[string]string{"a": ""}},
	} {
		_, err := provide(tok).Start(context.Background(), "")
		if !errors.Is(err, errInvalidToken) || !errors.Is(err, sasl.ErrInvalidCredentials) {
			t.Errorf("%s: %v, want errInvalidToken, sasl.ErrInvalidCredentials", name, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q quotes the token", name, err)
		}
	}
}

// An authzid or an extension name that is refused is not quoted: the
// error names the character refused and where it is. Quoted, one of a
// megabyte made an error of one, or of four in escapes.
func TestARefusedAuthzidOrExtensionNameIsNamedByItsCharacter(t *testing.T) {
	long := strings.Repeat("\x01", 1<<20)
	letters := strings.Repeat("a", 1<<20)
	for want, tok := range map[string]Token{
		`AuthzID has ',' at 1:`: {Value: jwt, AuthzID: "a,b"},
		fmt.Sprintf("AuthzID has the byte 0xff at %d, not UTF-8:", 1<<20): {Value: jwt, AuthzID: long + "\xff"},
		fmt.Sprintf("AuthzID has 'é' at %d:", 1<<20):                      {Value: jwt, AuthzID: long + "\u00e9"},
		fmt.Sprintf("an extension name has '-' at %d:", 1<<20):            {Value: jwt, Extensions: map[string]string{letters + "-id": "x"}},
		"an extension name has the byte 0xff at 1, not UTF-8:":            {Value: jwt, Extensions: map[string]string{"a\xff": "x"}},
		"an extension name is empty":                                      {Value: jwt, Extensions: map[string]string{"": "x"}},
		`the extension name "auth" is reserved`:                           {Value: jwt, Extensions: map[string]string{"auth": "x"}},
	} {
		_, err := provide(tok).Start(context.Background(), "")
		if !errors.Is(err, errInvalidToken) || !strings.Contains(err.Error(), want) || len(err.Error()) > 200 {
			t.Errorf("Start: %.300q (%d bytes), want errInvalidToken saying %s, in 200 bytes at most", err, len(fmt.Sprint(err)), want)
		}
	}
}

// A control character other than NUL is in the saslname Kafka's broker
// reads, \x01 included: the ',' after the authzid ends it, so the \x01 is
// not taken for the separator of the key=value pairs, and the broker
// compares the authzid, as sent, with the token's principal name.
func TestAnAuthzidWithAControlCharacterIsSentAsGiven(t *testing.T) {
	msg, err := initialResponse(Token{Value: jwt, AuthzID: "a\x01b\x7f"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "n,a=a\x01b\x7f,\x01auth=Bearer " + jwt + "\x01\x01"; string(msg) != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
}

func TestProviderError(t *testing.T) {
	boom := errors.New("identity provider down")
	m := New(func(context.Context) (Token, error) { return Token{}, boom })
	if _, err := m.Start(context.Background(), ""); !errors.Is(err, boom) || errors.Is(err, sasl.ErrInvalidCredentials) {
		t.Fatalf("Start: %v, want the provider's error, a fault to retry, not invalid credentials", err)
	}
	if _, err := New(nil).Start(context.Background(), ""); !errors.Is(err, sasl.ErrInvalidCredentials) {
		t.Fatalf("Start with a nil provider: %v, want sasl.ErrInvalidCredentials", err)
	}
}

// A mechanism without a provider can never start, and says so before any
// connection: a Start that fails is otherwise retried as a passing fault.
func TestValidateRefusesANilProvider(t *testing.T) {
	var _ sasl.Validator = New(nil)
	if err := New(nil).Validate(); !errors.Is(err, errNoProvider) {
		t.Fatalf("Validate: %v, want errNoProvider", err)
	}
	if err := provide(Token{Value: jwt}).Validate(); err != nil {
		t.Fatalf("Validate with a provider: %v", err)
	}
}

func TestPrintingHidesTheToken(t *testing.T) {
	tok := Token{Value: "s3cret.tok.en", Extensions: map[string]string{"x": "s3cretext"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		for _, v := range []any{tok, &tok, struct{ T Token }{tok}} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, "s3cret") {
				t.Errorf("%s of %T prints a secret: %s", verb, v, out)
			}
		}
	}
}

// The broker's error status is shown quoted and bounded: it comes before
// anything has proven who sent it, and a terminal escape, a line break
// that fakes a line of the caller's output, or a megabyte of it must not
// reach a terminal or a log line as it is.
func TestTheBrokersStatusIsShownSafely(t *testing.T) {
	ctx := context.Background()
	s, _ := provide(Token{Value: jwt}).Start(ctx, "")
	s.Step(ctx, nil)
	s.Step(ctx, []byte("\x1b[2J\nkprod: 1000 records acked"+strings.Repeat("x", 1<<20)))
	_, _, err := s.Step(ctx, []byte{})
	if err == nil {
		t.Fatal("no error after an error status")
	}
	msg := err.Error()
	if i := strings.IndexFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		t.Errorf("error shows control character %q: %.80q", msg[i], msg)
	}
	if len(msg) > 1<<10 || !strings.Contains(msg, "kprod: 1000 records acked") {
		t.Errorf("error of %d bytes, want the start of the status in at most 1 KiB: %.80q", len(msg), msg)
	}
}
