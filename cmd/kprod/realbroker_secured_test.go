package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// With KAFKA_SECURITY set, KAFKA_BROKERS is a secured broker as broker.sh
// start --security MODE prints it (integration/kafka/security.sh): kprod
// reaches it with its --tls-* and --sasl-* flags.
type securedBroker struct {
	security, brokers string
	user, password    string
	tlsArgs           []string
}

func realSecured(t *testing.T) securedBroker {
	t.Helper()
	b := securedBroker{security: os.Getenv("KAFKA_SECURITY"), brokers: os.Getenv("KAFKA_BROKERS")}
	if b.security == "" || b.brokers == "" {
		t.Skip("KAFKA_SECURITY and KAFKA_BROKERS are not set")
	}
	b.user, b.password = os.Getenv("KAFKA_SASL_USER"), os.Getenv("KAFKA_SASL_PASSWORD")
	if b.user == "" {
		b.user = "gokafka" // broker.sh's defaults
	}
	if b.password == "" {
		b.password = "gokafka-secret"
	}
	if ca := os.Getenv("KAFKA_CA"); ca != "" {
		b.tlsArgs = []string{"--tls-ca", ca}
	}
	if cert := os.Getenv("KAFKA_CLIENT_CERT"); cert != "" {
		b.tlsArgs = append(b.tlsArgs, "--tls-cert", cert, "--tls-key", os.Getenv("KAFKA_CLIENT_KEY"))
	}
	return b
}

// unsecuredJWT is an unsigned token for sub, which the broker's
// unsecured-token validator accepts.
func unsecuredJWT(sub string) string {
	enc := base64.RawURLEncoding
	now := time.Now().Unix()
	claims := fmt.Sprintf(`{"sub":%q,"iat":%d,"exp":%d}`, sub, now, now+3600)
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString([]byte(claims)) + "."
}

func TestSecuredRealBrokerPerf(t *testing.T) {
	b := realSecured(t)
	runs := map[string][]string{}
	if strings.HasPrefix(b.security, "sasl_") {
		token := writeSecret(t, unsecuredJWT(b.user))
		runs = map[string][]string{
			"PLAIN, password in the environment": {"--sasl-mechanism", "PLAIN", "--sasl-user", b.user},
			"SCRAM-SHA-256, password file":       {"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", b.user, "--sasl-password-file", writeSecret(t, b.password)},
			"SCRAM-SHA-512, password file":       {"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", b.user, "--sasl-password-file", writeSecret(t, b.password)},
			"OAUTHBEARER, token file":            {"--sasl-mechanism", "OAUTHBEARER", "--sasl-oauth-token-file", token},
			"OAUTHBEARER, token command":         {"--sasl-mechanism", "OAUTHBEARER", "--sasl-oauth-token-command", "cat " + token},
		}
		t.Setenv(passwordEnv, b.password)
	} else {
		runs["mutual TLS"] = nil
	}
	for name, args := range runs {
		t.Run(name, func(t *testing.T) {
			all := append([]string{"perf", "--brokers", b.brokers, "--create-topic", "--topic", uniqueTopic("secured"), "--partitions", "3",
				"--num-records", "20000", "--json"}, b.tlsArgs...)
			r := runKprod(t, "", append(all, args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if s := parseSummary(t, r); s.RecordsAcked != 20000 {
				t.Errorf("acked %d, want 20000", s.RecordsAcked)
			}
			if strings.Contains(r.stdout+r.stderr, b.password) {
				t.Error("the password shows in kprod's output")
			}
		})
	}
}

func TestSecuredRealBrokerWrongPassword(t *testing.T) {
	b := realSecured(t)
	if !strings.HasPrefix(b.security, "sasl_") {
		t.Skip("no SASL on this broker")
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			args := append([]string{"perf", "--brokers", b.brokers, "--create-topic", "--num-records", "10", "--sasl-mechanism", mech,
				"--sasl-user", b.user, "--sasl-password-file", writeSecret(t, "not-"+b.password)}, b.tlsArgs...)
			r := runKprod(t, "", args...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != exitFailed || len(lines) != 1 || !strings.Contains(lines[0], "SASL "+mech) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and one line naming %s", r.code, r.stderr, mech)
			}
			if strings.Contains(r.stderr, "not-"+b.password) {
				t.Error("the password shows in kprod's output")
			}
		})
	}
}
