package conn

import (
	"math"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/sasl/plain"
)

// versionsWith is allVersions with api's range changed to lo..hi, or
// without api at all when hi is below lo.
func versionsWith(api protocol.APIKey, lo, hi int16) []protocol.ApiVersionsResponseKey {
	var keys []protocol.ApiVersionsResponseKey
	for _, k := range allVersions() {
		if protocol.APIKey(k.ApiKey) == api {
			if hi < lo {
				continue
			}
			k.MinVersion, k.MaxVersion = lo, hi
		}
		keys = append(keys, k)
	}
	return keys
}

// A broker that speaks SaslHandshake v0 only (before Kafka 1.0, where the
// mechanism's messages went as bare frames) is refused, as one that lists
// no SaslAuthenticate is, before the mechanism starts and with nothing
// written: no exchange with it could succeed, and retrying one until the
// records' delivery timeout would hide why. Without the check of the
// handshake's version, the client sent such a broker a v1 handshake it
// cannot read, and waited for an answer.
func TestABrokerWithoutTheSASLVersionsWeSpeakIsRefused(t *testing.T) {
	for name, keys := range map[string][]protocol.ApiVersionsResponseKey{
		"SaslHandshake v0 only": versionsWith(protocol.SaslHandshake, 0, 0),
		"no SaslAuthenticate":   versionsWith(protocol.SaslAuthenticate, 0, -1),
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t)
			fb.apiVersions = answerApiVersions(keys)
			mech := &flakyStart{Mechanism: plain.New("u", testPassword), from: math.MaxInt32}
			done := dialAsync(t, fb, Config{SASL: mech})
			bc := fb.conn(t)
			r := bounded.Receive(t, done, 2*waitTime, "Dial")
			assertRefused(t, r.err, "PLAIN", fb.addr(), protocol.ErrUnsupportedVersion)
			assertNothingExchanged(t, bc)
			if n := mech.starts.Load(); n != 0 {
				t.Errorf("the mechanism was started %d times for a broker that could never accept it", n)
			}
		})
	}
}

// The exchange's SaslAuthenticate requests go at the highest version both
// sides speak: from v1 they carry the session's lifetime (KIP-368), which
// is what tells the client to re-authenticate before the broker closes the
// connection.
func TestSaslAuthenticateGoesAtTheHighestVersionBothSidesSpeak(t *testing.T) {
	for _, highest := range []int16{0, 1, 2} {
		fb := newFakeBroker(t)
		fb.apiVersions = answerApiVersions(versionsWith(protocol.SaslAuthenticate, 0, highest))
		done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword)})
		bc := fb.conn(t)
		bc.reply(expectHandshake(t, bc, "PLAIN"), &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
		ar := expect(t, bc, protocol.SaslAuthenticate)
		if ar.version != highest {
			t.Errorf("SaslAuthenticate v%d to a broker that speaks up to v%d, want v%d", ar.version, highest, highest)
		}
		bc.reply(ar, &protocol.SaslAuthenticateResponse{AuthBytes: []byte{}, SessionLifetimeMs: time.Hour.Milliseconds()})
		if r := bounded.Receive(t, done, 2*waitTime, "Dial"); r.err != nil {
			t.Fatalf("Dial: %v", r.err)
		}
	}
}
