package plain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gokafka/producer/sasl"
)

func TestMessage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		m    *Mechanism
		want string
	}{
		{New("alice", "pw"), "\x00alice\x00pw"},
		{New("alice", "pw").AsUser("alice"), "alice\x00alice\x00pw"},
	} {
		s, err := tc.m.Start(ctx, "b:9092")
		if err != nil {
			t.Fatal(err)
		}
		msg, done, err := s.Step(ctx, nil)
		if err != nil || done || string(msg) != tc.want {
			t.Errorf("first step = %q, %v, %v; want %q", msg, done, err, tc.want)
		}
		// Success is an empty answer; then nothing more is sent.
		if msg, done, err := s.Step(ctx, []byte{}); err != nil || !done || msg != nil {
			t.Errorf("after an empty answer: %q, %v, %v; want done", msg, done, err)
		}
	}
}

// AsUser returns a copy: the mechanism it was called on goes on sending
// no authorization identity. A mechanism that several producers share
// must not start asking, for all of them, to act as another user.
func TestAsUserLeavesTheOriginalAlone(t *testing.T) {
	ctx := context.Background()
	m := New("alice", "pw")
	m.AsUser("bob")
	s, err := m.Start(ctx, "b:9092")
	if err != nil {
		t.Fatal(err)
	}
	if msg, _, err := s.Step(ctx, nil); err != nil || string(msg) != "\x00alice\x00pw" {
		t.Fatalf("the original after AsUser sends %q, %v; want %q", msg, err, "\x00alice\x00pw")
	}
}

func TestUnexpectedAnswer(t *testing.T) {
	s, _ := New("u", "p").Start(context.Background(), "")
	s.Step(context.Background(), nil)
	if _, _, err := s.Step(context.Background(), []byte("what")); err == nil {
		t.Fatal("a non-empty answer to PLAIN was accepted")
	}
}

func TestPrintingHidesThePassword(t *testing.T) {
	m := New("alice", "s3cret-pw")
	if m.Name() != "PLAIN" {
		t.Errorf("name %q", m.Name())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{m, *m, struct{ M any }{m}, []*Mechanism{m}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "s3cret") || strings.Contains(out, fmt.Sprintf("%x", "s3cret")) {
				t.Errorf("%s of %T prints the password: %s", verb, v, out)
			}
		}
	}
	if !strings.Contains(m.String(), "alice") {
		t.Errorf("String() = %q, want the user named", m.String())
	}
}

// A NUL byte in the authorization identity, the user name or the password
// is refused before anything is sent: NUL separates the fields of PLAIN's
// one message (RFC 4616 forbids it in each), so one would move the rest
// into the next field, and the broker judge other credentials than these.
// The refusal is invalid credentials, which New and conn refuse at once,
// and it quotes none of them.
func TestANULInTheCredentialsIsRefused(t *testing.T) {
	for name, m := range map[string]*Mechanism{
		"user":     New("alice\x00s3cret", "pw"),
		"password": New("alice", "s3cret\x00pw"),
		"authzid":  New("alice", "s3cret").AsUser("bob\x00"),
		// At the start, where a check for a NUL after the first byte
		// would miss it.
		"password's first byte": New("alice", "\x00s3cret"),
	} {
		if err := validate(m); !errors.Is(err, sasl.ErrInvalidCredentials) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: Validate() = %v, want sasl.ErrInvalidCredentials quoting no credential", name, err)
		}
		if _, err := m.Start(context.Background(), "b:9092"); !errors.Is(err, sasl.ErrInvalidCredentials) {
			t.Errorf("%s: Start: %v, want sasl.ErrInvalidCredentials", name, err)
		}
	}
	if err := validate(New("alice", "pw").AsUser("alice")); err != nil {
		t.Errorf("sound credentials: %v", err)
	}
}

// Credentials that are not UTF-8 are refused before anything is sent:
// RFC 4616 wants UTF-8, and Kafka's broker decodes the message as UTF-8,
// reading each invalid byte as U+FFFD, so it would judge other credentials
// than these. The refusal names the field and quotes none of them.
func TestCredentialsThatAreNotUTF8AreRefused(t *testing.T) {
	for name, m := range map[string]*Mechanism{
		"user":     New("alice\xff", "s3cret"),
		"password": New("alice", "s3cret\xfe"),
		"authzid":  New("alice", "s3cret").AsUser("\xc3"),
	} {
		err := validate(m)
		if !errors.Is(err, sasl.ErrInvalidCredentials) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "not UTF-8") {
			t.Errorf("%s: Validate() = %v, want sasl.ErrInvalidCredentials saying not UTF-8, quoting no credential", name, err)
		}
		if _, err := m.Start(context.Background(), "b:9092"); !errors.Is(err, sasl.ErrInvalidCredentials) {
			t.Errorf("%s: Start: %v, want sasl.ErrInvalidCredentials", name, err)
		}
	}
	if err := validate(New("jos\u00e9", "p\u00e4ss")); err != nil {
		t.Errorf("credentials in UTF-8 outside ASCII: %v", err)
	}
}

// validate is m's Validate, as the producer's New calls it.
func validate(m sasl.Mechanism) error {
	v, ok := m.(sasl.Validator)
	if !ok {
		return errors.New("PLAIN is not a sasl.Validator")
	}
	return v.Validate()
}
