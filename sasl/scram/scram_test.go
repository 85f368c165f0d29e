package scram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gokafka/producer/sasl"
)

// RFC 7677 section 3: the SCRAM-SHA-256 exchange of user "user" with
// password "pencil" and client nonce rOprNGfwEbeRWgbNEkqO.
const (
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcSession(t *testing.T) sasl.Session {
	t.Helper()
	m := SHA256("user", "pencil")
	m.nonce = func() (string, error) { return "rOprNGfwEbeRWgbNEkqO", nil }
	s, err := m.Start(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func step(t *testing.T, s sasl.Session, challenge string) (string, bool, error) {
	t.Helper()
	msg, done, err := s.Step(context.Background(), []byte(challenge))
	return string(msg), done, err
}

func TestRFC7677Vector(t *testing.T) {
	s := rfcSession(t)
	if msg, done, err := step(t, s, ""); err != nil || done || msg != rfcClientFirst {
		t.Fatalf("client-first = %q, %v, %v; want %q", msg, done, err, rfcClientFirst)
	}
	if msg, done, err := step(t, s, rfcServerFirst); err != nil || done || msg != rfcClientFinal {
		t.Fatalf("client-final = %q, %v, %v; want %q", msg, done, err, rfcClientFinal)
	}
	if msg, done, err := step(t, s, rfcServerFinal); err != nil || !done || msg != "" {
		t.Fatalf("after server-final: %q, %v, %v; want done", msg, done, err)
	}
}

func TestWrongServerSignatureIsRefused(t *testing.T) {
	s := rfcSession(t)
	step(t, s, "")
	step(t, s, rfcServerFirst)
	// One byte off: a broker that does not know the salted password.
	bad := "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	_, done, err := step(t, s, bad)
	if done || !errors.Is(err, sasl.ErrServerVerification) {
		t.Fatalf("wrong signature: done=%v err=%v, want ErrServerVerification", done, err)
	}
	if strings.Contains(err.Error(), "pencil") {
		t.Errorf("error %q quotes the password", err)
	}
}

func TestServerErrorAttribute(t *testing.T) {
	s := rfcSession(t)
	step(t, s, "")
	step(t, s, rfcServerFirst)
	if _, _, err := step(t, s, "e=invalid-proof"); err == nil || !strings.Contains(err.Error(), "invalid-proof") {
		t.Fatalf("e= attribute: %v", err)
	}
}

func TestBadServerFirst(t *testing.T) {
	for name, sf := range map[string]string{
		"nonce not ours":      "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"nonce not extended":  "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"salt not base64":     "r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096",
		"too few iterations":  "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000",
		"too many iterations": "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
		"mandatory extension": "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"not attributes":      "garbage",
	} {
		s := rfcSession(t)
		step(t, s, "")
		if _, _, err := step(t, s, sf); !errors.Is(err, sasl.ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

func TestNamesAreEscaped(t *testing.T) {
	m := SHA512("a=b,c", "pw")
	s, err := m.Start(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	msg, _, _ := s.Step(context.Background(), nil)
	if !strings.HasPrefix(string(msg), "n,,n=a=3Db=2Cc,r=") {
		t.Errorf("client-first %q", msg)
	}
	if m.Name() != "SCRAM-SHA-512" {
		t.Errorf("name %q", m.Name())
	}
}

func TestNoncesAreFresh(t *testing.T) {
	m := SHA256("u", "p")
	seen := map[string]bool{}
	for range 100 {
		s, err := m.Start(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		msg, _, _ := s.Step(context.Background(), nil)
		if seen[string(msg)] {
			t.Fatalf("client-first %q repeated", msg)
		}
		seen[string(msg)] = true
	}
}

func TestPrintingHidesThePassword(t *testing.T) {
	m := SHA256("alice", "s3cret-pw")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{m, *m, struct{ M any }{m}} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, "s3cret") || strings.Contains(out, fmt.Sprintf("%x", "s3cret")) {
				t.Errorf("%s of %T prints the password: %s", verb, v, out)
			}
		}
	}
}

// refusesServerFirst checks that server-first message sf is refused as
// malformed, before the client salts its password.
func refusesServerFirst(t *testing.T, sf string) {
	t.Helper()
	s := rfcSession(t)
	step(t, s, "")
	if _, _, err := step(t, s, sf); !errors.Is(err, sasl.ErrProtocol) {
		t.Fatalf("server-first %q: %v, want ErrProtocol", sf, err)
	}
}

// An empty salt is refused: salting with none would derive the same key
// for every user of that password, which RFC 5802 rules out.
func TestAnEmptySaltIsRefused(t *testing.T) {
	refusesServerFirst(t, "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096")
}

// An iteration count just above the maximum is refused: a broker, or a
// man in the middle, could otherwise make the client hash for minutes.
func TestAnIterationCountJustAboveTheMaximumIsRefused(t *testing.T) {
	refusesServerFirst(t, fmt.Sprintf("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=%d", maxIterations+1))
}

// An iteration count that overflows an int is refused, not read as what it
// wraps to: 2^64+4096 would otherwise pass as 4096.
func TestAnIterationCountThatOverflowsIsRefused(t *testing.T) {
	refusesServerFirst(t, "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=18446744073709555712")
}

// An attribute given twice is refused, not read as its last value: the
// nonce that counted was the second, which a message with one of each
// would not carry.
func TestAnAttributeGivenTwiceIsRefused(t *testing.T) {
	refusesServerFirst(t, "r=evil,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,r=rOprNGfwEbeRWgbNEkqOx")
}

// Kafka's largest iteration count, 16384, is taken: the cap on what a
// broker may ask for is above every credential a Kafka broker stores.
func TestKafkasLargestIterationCountIsTaken(t *testing.T) {
	if _, err := iterations("16384"); err != nil {
		t.Fatal(err)
	}
}

// An attribute without '=' after its letter is refused: reading "rX..." as
// the nonce "..." would accept a message RFC 5802 calls malformed.
func TestAnAttributeWithoutAnEqualsSignIsRefused(t *testing.T) {
	refusesServerFirst(t, "rXrOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
}

// The client nonce is 24 random bytes (32 characters of base64): RFC 5802
// asks for a nonce hard to predict, and a short one is easier to replay.
func TestTheClientNonceCarries24RandomBytes(t *testing.T) {
	s, err := SHA512("u", "p").Start(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	msg, _, err := s.Step(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, nonce, ok := strings.Cut(string(msg), ",r=")
	if !ok || len(nonce) != 32 {
		t.Fatalf("client-first %q: a nonce of %d characters, want 32", msg, len(nonce))
	}
}
