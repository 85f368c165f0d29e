package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/internal/testcerts"
)

const kfakePassword = "kprod-test-pw"

// saslBroker is kfake over TLS with one user for PLAIN and SCRAM-SHA-512,
// answering wrong PLAIN passwords as Kafka does; it returns the brokers
// and the path of its CA's PEM file.
func saslBroker(t *testing.T) (brokers, caFile string) {
	t.Helper()
	ca, err := testcerts.NewCA("kprod SASL test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(testcerts.Valid("kfake", time.Hour, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := embedded.Start(embedded.Options{AutoCreateTopics: true, Kfake: []kfake.Opt{
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "kprod", kfakePassword),
		kfake.Superuser("SCRAM-SHA-512", "kprod", kfakePassword),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.AnswerWrongPlainPasswords(kfakePassword)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.Join(c.Addrs(), ","), caFile
}

func writeSecret(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SASL over TLS end to end, the password from a file and from the
// environment; none of kprod's output shows it.
func TestPerfOverSASL(t *testing.T) {
	brokers, ca := saslBroker(t)
	common := []string{"perf", "--brokers", brokers, "--create-topic", "--tls-ca", ca, "--num-records", "2000", "--json", "--sasl-user", "kprod"}
	runs := map[string][]string{
		"SCRAM-SHA-512, password file": {"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-password-file", writeSecret(t, kfakePassword)},
		"PLAIN, environment":           {"--sasl-mechanism", "PLAIN"},
	}
	t.Setenv(passwordEnv, kfakePassword)
	for name, args := range runs {
		t.Run(name, func(t *testing.T) {
			r := runKprod(t, "", append(append(common, args...), "--topic", uniqueTopic("sasl"))...)
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if s := parseSummary(t, r); s.RecordsAcked != 2000 {
				t.Errorf("acked %d, want 2000", s.RecordsAcked)
			}
			if strings.Contains(r.stdout+r.stderr, kfakePassword) {
				t.Errorf("the password shows in kprod's output")
			}
		})
	}
}

// Wrong credentials: exit 1 at once with one line naming the mechanism.
// At once: well before MaxBlock (a minute), which a refusal taken for a
// broker not answering would wait, with room for a loaded machine.
func TestWrongPasswordExitsOne(t *testing.T) {
	brokers, ca := saslBroker(t)
	start := time.Now()
	r := runKprod(t, "", "perf", "--brokers", brokers, "--tls-ca", ca, "--num-records", "10",
		"--sasl-mechanism", "PLAIN", "--sasl-user", "kprod", "--sasl-password-file", writeSecret(t, "wrong-pw-123"))
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitFailed, r.stderr)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %v to fail", took)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "SASL PLAIN") || !strings.Contains(last, "SASL_AUTHENTICATION_FAILED") {
		t.Errorf("last stderr line %q does not say that PLAIN was refused\nstderr:\n%s", last, r.stderr)
	}
	if strings.Contains(r.stderr, "wrong-pw-123") {
		t.Error("the password shows in kprod's output")
	}
}

func TestSASLUsageErrors(t *testing.T) {
	b := "127.0.0.1:1" // validation comes before any connection
	pw := writeSecret(t, "pw")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sasl-mechanism", "GSSAPI", "--sasl-user", "u"}, "--sasl-mechanism"},
		{[]string{"--sasl-mechanism", "PLAIN", "--sasl-password-file", pw}, "--sasl-user: required"},
		{[]string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u"}, "--sasl-password-file: required"},
		{[]string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u", "--sasl-password", "p", "--sasl-password-file", pw}, "give one"},
		{[]string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u", "--sasl-password-file", "/nonexistent"}, "--sasl-password-file"},
		{[]string{"--sasl-user", "u"}, "--sasl-user: needs --sasl-mechanism"},
		{[]string{"--sasl-mechanism", "OAUTHBEARER"}, "exactly one"},
		{[]string{"--sasl-mechanism", "OAUTHBEARER", "--sasl-user", "u", "--sasl-oauth-token-file", pw}, "takes a token"},
		{[]string{"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "u", "--sasl-password-file", pw, "--sasl-oauth-token-file", pw}, "only for OAUTHBEARER"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runKprod(t, "", append([]string{"perf", "--brokers", b}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, exitUsage, tc.want)
			}
		})
	}
}

// --sasl-mechanism builds the mechanism it names, in any case: a broker
// keeps a user's SCRAM-SHA-256 and SCRAM-SHA-512 credentials apart, and
// refuses the one it does not have. The end-to-end runs cover PLAIN and
// SCRAM-SHA-512 only, so this is where SCRAM-SHA-256 is told apart.
func TestEachSASLMechanismIsTheOneNamed(t *testing.T) {
	noEnv := func(string) string { return "" }
	for flag, want := range map[string]string{
		"PLAIN": "PLAIN", "SCRAM-SHA-256": "SCRAM-SHA-256", "SCRAM-SHA-512": "SCRAM-SHA-512",
		"scram-sha-256": "SCRAM-SHA-256", "OAUTHBEARER": "OAUTHBEARER",
	} {
		o := &saslOptions{mechanism: flag, user: "u", password: "p"}
		changed := func(name string) bool { return name == "sasl-password" }
		if want == "OAUTHBEARER" {
			o = &saslOptions{mechanism: flag, tokenFile: "token"}
			changed = func(string) bool { return false }
		}
		name := ""
		mech, err := o.build(changed, noEnv, false)
		if mech != nil {
			name = mech.Name()
		}
		if err != nil || name != want {
			t.Errorf("--sasl-mechanism %s: %q (%v), want %s", flag, name, err, want)
		}
	}
}

// The token providers read the file and run the command at every call.
func TestTokenProviders(t *testing.T) {
	path := writeSecret(t, "tok.en")
	tok, err := tokenFromFile(path)(context.Background())
	if err != nil || tok.Value != "tok.en" {
		t.Fatalf("file: %v, %v", tok.Value, err)
	}
	tok, err = tokenFromCommand("printf 'abc.def\\n'")(context.Background())
	if err != nil || tok.Value != "abc.def" {
		t.Fatalf("command: %q, %v", tok.Value, err)
	}
	if _, err := tokenFromCommand("echo secret-in-stderr >&2; exit 3")(context.Background()); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("failing command: %v", err)
	}
}

// A token command whose authentication gave up returns soon, though a
// process it started still holds its output open: the call ends with its
// ctx, not with the last process that could write a token.
func TestATokenCommandGivenUpOnReturnsThoughItsChildHoldsTheOutput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := tokenFromCommand("sleep 40; echo late.token")(ctx)
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("a token command killed at its ctx's end gave a token")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the token command still ran 20s after its ctx ended: sleep held its output")
	}
}
