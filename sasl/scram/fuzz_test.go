package scram

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
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
