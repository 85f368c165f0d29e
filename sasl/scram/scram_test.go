package scram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	return rfcSessionOf(t, SHA256("user", "pencil"))
}

// rfcSessionOf starts m with RFC 7677's client nonce.
func rfcSessionOf(t *testing.T, m *Mechanism) sasl.Session {
	t.Helper()
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

// RFC 7677's exchange over SHA-512: the same user, password, nonces, salt
// and count. No RFC gives a SCRAM-SHA-512 example; these proof and
// signature were computed from RFC 5802's definitions with Python's
// hashlib and hmac, which give RFC 7677's values above over SHA-256.
const (
	sha512ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
		"p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ=="
	sha512ServerFinal = "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw=="
)

// SCRAM-SHA-512 salts, proves and verifies over SHA-512 throughout, with
// keys of its 64 bytes: the RFC vector checks SHA-256 only, and a
// SCRAM-SHA-512 that salted to 32 bytes, or hashed with SHA-384, passed
// every other test here, to be refused by every broker.
func TestTheRFC7677ExchangeOverSHA512(t *testing.T) {
	s := rfcSessionOf(t, SHA512("user", "pencil"))
	if msg, done, err := step(t, s, ""); err != nil || done || msg != rfcClientFirst {
		t.Fatalf("client-first = %q, %v, %v; want %q", msg, done, err, rfcClientFirst)
	}
	if msg, done, err := step(t, s, rfcServerFirst); err != nil || done || msg != sha512ClientFinal {
		t.Fatalf("client-final = %q, %v, %v; want %q", msg, done, err, sha512ClientFinal)
	}
	if msg, done, err := step(t, s, sha512ServerFinal); err != nil || !done || msg != "" {
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

// A user name Kafka's broker cannot read as a saslname (its
// ClientFirstMessage takes ASCII without NUL, one character at least) is
// refused before anything is sent, as invalid credentials, which New and
// conn refuse at once: the broker would refuse every exchange as malformed.
// The password is only hashed, so any bytes do.
func TestAUserNameTheBrokerCannotReadIsRefused(t *testing.T) {
	for name, user := range map[string]string{
		"empty":     "",
		"not ASCII": "jos\u00e9",
		"not UTF-8": "a\xffb",
		"NUL":       "a\x00b",
	} {
		m := SHA256(user, "s3cret")
		var v sasl.Validator = m
		if err := v.Validate(); !errors.Is(err, sasl.ErrInvalidCredentials) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: Validate() = %v, want sasl.ErrInvalidCredentials quoting no password", name, err)
		}
		if _, err := m.Start(context.Background(), "b:9092"); !errors.Is(err, sasl.ErrInvalidCredentials) {
			t.Errorf("%s: Start: %v, want sasl.ErrInvalidCredentials", name, err)
		}
	}
	if err := SHA512("a=b,c\x01\x7f", "p\u00e4ss\xff").Validate(); err != nil {
		t.Errorf("a user name of ASCII without NUL: %v", err)
	}
}

// A refused user name is not quoted: the error names the character
// refused and where it is. Quoted, a name of a megabyte made an error of
// one, or of four in escapes.
func TestARefusedUserNameIsNamedByItsCharacter(t *testing.T) {
	for user, want := range map[string]string{
		"a\x00b":                                   `the user name has '\x00' at 1;`,
		strings.Repeat("u", 1<<20) + "\u00e9":      fmt.Sprintf("the user name has 'é' at %d;", 1<<20),
		strings.Repeat("\x01", 1<<20) + "\xff\x02": fmt.Sprintf("the user name has the byte 0xff at %d, not UTF-8;", 1<<20),
	} {
		err := SHA512(user, "s3cret").Validate()
		if !errors.Is(err, sasl.ErrInvalidCredentials) || !strings.Contains(err.Error(), want) || len(err.Error()) > 200 {
			t.Errorf("Validate() = %.300q (%d bytes), want sasl.ErrInvalidCredentials saying %s, in 200 bytes at most", err, len(fmt.Sprint(err)), want)
		}
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

// An iteration count just below the minimum, 4096, is refused: the count
// sets what a captured exchange costs to guess the password from, so a
// man in the middle lowering it makes that cheaper, and RFC 7677 asks for
// 4096 at least.
func TestAnIterationCountJustBelowTheMinimumIsRefused(t *testing.T) {
	refusesServerFirst(t, "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095")
}

// The maximum iteration count is taken, as the refusal's "up to" says: the
// bound is on what the client will spend, not one past it.
func TestTheMaximumIterationCountIsTaken(t *testing.T) {
	if _, err := iterations(strconv.Itoa(maxIterations)); err != nil {
		t.Fatal(err)
	}
}

// An iteration count that is not a decimal number is refused, not read as
// if every byte were a digit: "4O96", with a letter O, counted as 7196,
// and "4096 " as 41200.
func TestAnIterationCountThatIsNotADecimalNumberIsRefused(t *testing.T) {
	for _, count := range []string{"4O96", "4096 "} {
		refusesServerFirst(t, "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i="+count)
	}
}

// A salt that is base64 only in part is refused, not taken as the part
// before the fault: the message is malformed, and a key salted with a
// part of the salt would fail later, as a server signature that does not
// match, blaming the broker's knowledge of the credentials.
func TestASaltThatIsNotBase64ThroughoutIsRefused(t *testing.T) {
	refusesServerFirst(t, "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7s*EsUEjb6gQ==,i=4096")
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

// hostileText is what a broker, or a man in the middle of a plaintext
// listener, may put in the text the client shows before the broker has
// proven anything: a terminal escape that clears the screen, a line break
// that fakes a line of the caller's own output, and a megabyte of filler.
var hostileText = "\x1b[2J\nkprod: 1000 records acked" + strings.Repeat("x", 1<<20)

// assertShownSafely checks that err shows text from the broker quoted and
// cut short: no control character reaches a terminal or a log line, and a
// huge message does not make a huge error.
func assertShownSafely(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if i := strings.IndexFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		t.Errorf("error shows control character %q at %d: %.80q", msg[i], i, msg)
	}
	if len(msg) > 1<<10 {
		t.Errorf("error of %d bytes, want at most 1 KiB: %.80q", len(msg), msg)
	}
}

// The broker's e= text in server-final is shown quoted and bounded.
func TestTheBrokersErrorTextIsShownSafely(t *testing.T) {
	s := rfcSession(t)
	step(t, s, "")
	step(t, s, rfcServerFirst)
	_, _, err := step(t, s, "e="+hostileText)
	assertShownSafely(t, err)
	if err != nil && !strings.Contains(err.Error(), `kprod: 1000 records acked`) {
		t.Errorf("error %.120q lost the start of the broker's text", err)
	}
}

// A malformed server-first message is quoted in its error within bounds
// too, whichever part of it is at fault.
func TestAMalformedServerFirstIsShownSafely(t *testing.T) {
	for name, sf := range map[string]string{
		"not an attribute": hostileText,
		"salt":             "r=rOprNGfwEbeRWgbNEkqOx,s=" + hostileText + ",i=4096",
		"iteration count":  "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" + strings.Repeat("9", 1<<20),
		// Leading zeros keep the count small to the last digit, so it is
		// refused as out of range, not as too long.
		"iteration count of leading zeros": "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" + strings.Repeat("0", 1<<20) + "1",
	} {
		t.Run(name, func(t *testing.T) {
			s := rfcSession(t)
			step(t, s, "")
			_, _, err := step(t, s, sf)
			assertShownSafely(t, err)
		})
	}
}

// A session whose client-final message failed never completes: it has no
// server signature to expect, and an empty one must not match that
// nothing (hmac.Equal of two empty slices is true). conn stops at the
// first error, but a Session is an exported type anyone may drive.
func TestASessionThatFailedDoesNotCompleteOnAnEmptySignature(t *testing.T) {
	s := rfcSession(t)
	step(t, s, "")
	if _, _, err := step(t, s, "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"); err == nil {
		t.Fatal("a nonce not ours was taken")
	}
	if _, done, err := step(t, s, "v="); done || err == nil {
		t.Fatalf("server-final v= after a failed step: done=%v err=%v, want an error", done, err)
	}
}

// The broker's part of the nonce is printable ASCII, as RFC 5802's
// grammar has it and the Java client checks: a control character or a
// byte outside ASCII would be echoed back in client-final.
func TestANonceThatIsNotPrintableIsRefused(t *testing.T) {
	for _, tail := range []string{"\x1b[2J", "\x00", " ", "\x7f", "é"} {
		refusesServerFirst(t, "r=rOprNGfwEbeRWgbNEkqO"+tail+",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	}
}

// A server signature followed by bytes that are not base64 is refused as
// malformed, though what decodes before them is the right signature:
// server-final carries the signature and nothing else.
func TestAServerSignatureWithTrailingBytesIsRefused(t *testing.T) {
	s := rfcSession(t)
	step(t, s, "")
	step(t, s, rfcServerFirst)
	if _, done, err := step(t, s, rfcServerFinal+"*"); done || !errors.Is(err, sasl.ErrProtocol) {
		t.Fatalf("server-final with trailing bytes: done=%v err=%v, want ErrProtocol", done, err)
	}
}

// A message after the exchange completed is refused: the broker's
// signature ended it, and nothing sent after may complete it again. conn
// stops at done, but a Session is an exported type anyone may drive.
func TestAMessageAfterTheExchangeEndedIsRefused(t *testing.T) {
	s := rfcSession(t)
	step(t, s, "")
	step(t, s, rfcServerFirst)
	if _, done, err := step(t, s, rfcServerFinal); err != nil || !done {
		t.Fatalf("server-final: done=%v err=%v, want done", done, err)
	}
	if _, done, err := step(t, s, rfcServerFinal); done || !errors.Is(err, sasl.ErrProtocol) {
		t.Fatalf("a message after the end: done=%v err=%v, want ErrProtocol", done, err)
	}
}
