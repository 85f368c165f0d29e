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
	} {
		_, err := provide(tok).Start(context.Background(), "")
		if !errors.Is(err, errInvalidToken) || !errors.Is(err, sasl.ErrInvalidCredentials) {
			t.Errorf("%s: %v, want errInvalidToken, sasl.ErrInvalidCredentials", name, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q quotes the token", name, err)
		}
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
