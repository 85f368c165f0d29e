package plain

import (
	"context"
	"fmt"
	"strings"
	"testing"
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
