package conn

import (
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl/plain"
)

// hostileText is what a broker, or a man in the middle of a plaintext
// listener, may answer the SASL exchange with before anything proved who
// it is: a terminal escape, a line break that fakes a line of the
// caller's output, and a megabyte of filler.
var hostileText = "\x1b[2J\nkprod: 1000 records acked" + strings.Repeat("x", 1<<20)

// assertShownSafely checks that err shows the broker's text quoted and
// cut short: no control character reaches a terminal or a log line, and
// a huge answer does not make a huge error.
func assertShownSafely(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if i := strings.IndexFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		t.Errorf("error shows control character %q at %d: %.120q", msg[i], i, msg)
	}
	if len(msg) > 1<<10 {
		t.Errorf("error of %d bytes, want at most 1 KiB: %.120q", len(msg), msg)
	}
	if !strings.Contains(msg, "kprod: 1000 records acked") {
		t.Errorf("error %.120q lost the start of the broker's text", msg)
	}
}

// A SaslAuthenticate error message is shown quoted and bounded.
func TestARefusalsErrorMessageIsShownSafely(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword)})
	bc := fb.conn(t)
	hs := expect(t, bc, protocol.SaslHandshake)
	bc.reply(hs, &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	msg := hostileText
	bc.reply(ar, &protocol.SaslAuthenticateResponse{ErrorCode: kerr.SASLAuthenticationFailed.Code, ErrorMessage: &msg, AuthBytes: []byte{}})
	r := <-done
	assertRefused(t, r.err, "PLAIN", fb.addr(), kerr.SaslAuthenticationFailed)
	assertShownSafely(t, r.err)
}

// So are the mechanisms a broker lists in refusing ours (each a string
// of at most 32767 bytes, but as many as a response holds).
func TestTheMechanismsOfARefusedHandshakeAreShownSafely(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword)})
	bc := fb.conn(t)
	hs := expect(t, bc, protocol.SaslHandshake)
	mechanisms := []string{hostileText[:32767], "GSSAPI"}
	bc.reply(hs, &protocol.SaslHandshakeResponse{ErrorCode: kerr.UnsupportedSASLMechanism.Code, Mechanisms: mechanisms})
	r := <-done
	assertRefused(t, r.err, "PLAIN", fb.addr(), kerr.UnsupportedSASLMechanism)
	assertShownSafely(t, r.err)
}
