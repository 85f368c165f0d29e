package scram

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gokafka/producer/sasl"
)

// Whatever a broker sends, judging it never panics, never accepts a
// server-final message without the right signature, and parsing keeps
// attribute values free of separators.
func FuzzServerMessages(f *testing.F) {
	for _, s := range []string{rfcServerFirst, rfcServerFinal, "e=invalid-proof", "", "v=", ",,", "i=4096", "i=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if attrs, err := parse("SCRAM", msg); err == nil {
			for k, v := range attrs {
				if strings.Contains(v, ",") {
					t.Fatalf("attribute %c=%q holds a separator", k, v)
				}
			}
		}
		if n, err := iterations(msg); err == nil && (n < minIterations || n > maxIterations) {
			t.Fatalf("iteration count %d accepted", n)
		}
		// A session at its last step: it may finish only on the signature
		// it expects.
		want := []byte("an expected signature of 32 b..")
		s := &session{m: SHA256("u", "p"), step: 2, serverSig: want}
		if _, done, _ := s.Step(context.Background(), []byte(msg)); done {
			attrs, _ := parse("SCRAM", msg)
			if got, err := base64.StdEncoding.DecodeString(attrs['v']); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("server-final %q accepted", msg)
			}
		}
	})
}

// FuzzServerFirst feeds the broker's first message, server-first, to a
// session at its second step: FuzzServerMessages' session is at its last,
// so it never parses one. server-first sets what the client computes (salt,
// iteration count) and must carry a nonce that extends ours. The session
// must refuse it as a protocol error (sasl.ErrProtocol), or accept it only
// with a nonce that strictly extends the client's, answering with the
// client-final message for that nonce and a proof the size of the hash.
// Counts above the minimum are skipped: at up to 1<<20 PBKDF2 rounds an
// input would take a second; FuzzServerMessages checks the count's bounds.
func FuzzServerFirst(f *testing.F) {
	for _, s := range []string{rfcServerFirst, "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"m=ext," + rfcServerFirst, "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", "r=rOprNGfwEbeRWgbNEkqOx,s=AA==,i=4095"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if attrs, err := parse("SCRAM", msg); err == nil {
			if n, err := iterations(attrs['i']); err == nil && n > minIterations {
				return
			}
		}
		s := rfcSession(t)
		if _, _, err := step(t, s, ""); err != nil {
			t.Fatal(err)
		}
		final, done, err := step(t, s, msg)
		if done {
			t.Fatalf("server-first %q ended the exchange", msg)
		}
		if err != nil {
			if !errors.Is(err, sasl.ErrProtocol) {
				t.Fatalf("server-first %q refused with %v, not a protocol error", msg, err)
			}
			return
		}
		nonce, _ := parse("SCRAM", msg)
		if r := nonce['r']; !strings.HasPrefix(r, "rOprNGfwEbeRWgbNEkqO") || r == "rOprNGfwEbeRWgbNEkqO" {
			t.Fatalf("server-first %q accepted: its nonce does not extend ours", msg)
		}
		head := "c=biws,r=" + nonce['r'] + ",p="
		proof, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(final, head))
		if !strings.HasPrefix(final, head) || err != nil || len(proof) != 32 {
			t.Fatalf("server-first %q answered with %q", msg, final)
		}
	})
}
