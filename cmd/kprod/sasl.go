package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/oauthbearer"
	"github.com/gokafka/producer/sasl/plain"
	"github.com/gokafka/producer/sasl/scram"
)

// passwordEnv holds the SASL password when no flag gives it, so that it
// need not sit in the shell's history or the process list.
const passwordEnv = "KPROD_SASL_PASSWORD"

// saslOptions are the --sasl-* flags.
type saslOptions struct {
	mechanism    string
	user         string
	password     string
	passwordFile string
	tokenFile    string
	tokenCommand string
}

func (o *saslOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.mechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER")
	fs.StringVar(&o.user, "sasl-user", "", "SASL user name (PLAIN, SCRAM)")
	fs.StringVar(&o.password, "sasl-password", "", "SASL password; prefer --sasl-password-file or $"+passwordEnv+", which stay out of the shell history")
	fs.StringVar(&o.passwordFile, "sasl-password-file", "", "`file` holding the SASL password (one line)")
	fs.StringVar(&o.tokenFile, "sasl-oauth-token-file", "", "`file` holding the OAUTHBEARER token, read again at every authentication")
	fs.StringVar(&o.tokenCommand, "sasl-oauth-token-command", "", "shell `command` printing the OAUTHBEARER token, run at every authentication")
}

// mechanism builds the SASL mechanism the flags describe, nil without
// --sasl-mechanism, or returns a usage error naming the flag at fault.
// getenv is os.Getenv, or a test's.
func (o *saslOptions) build(changed func(string) bool, getenv func(string) string, embedded bool) (sasl.Mechanism, error) {
	if o.mechanism == "" {
		for _, name := range []string{"sasl-user", "sasl-password", "sasl-password-file", "sasl-oauth-token-file", "sasl-oauth-token-command"} {
			if changed(name) {
				return nil, usagef("--%s: needs --sasl-mechanism", name)
			}
		}
		return nil, nil
	}
	if embedded {
		return nil, usagef("--sasl-mechanism: the embedded broker has no SASL; give --brokers")
	}
	switch mech := strings.ToUpper(o.mechanism); mech {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if o.tokenFile != "" || o.tokenCommand != "" {
			return nil, usagef("--sasl-oauth-token-*: only for OAUTHBEARER, not %s", mech)
		}
		if o.user == "" {
			return nil, usagef("--sasl-user: required with --sasl-mechanism %s", mech)
		}
		password, err := o.secret(changed, getenv)
		if err != nil {
			return nil, err
		}
		switch mech {
		case "PLAIN":
			return plain.New(o.user, password), nil
		case "SCRAM-SHA-256":
			return scram.SHA256(o.user, password), nil
		}
		return scram.SHA512(o.user, password), nil
	case "OAUTHBEARER":
		if changed("sasl-user") || changed("sasl-password") || changed("sasl-password-file") {
			return nil, usagef("--sasl-user, --sasl-password*: OAUTHBEARER takes a token (--sasl-oauth-token-file or --sasl-oauth-token-command)")
		}
		switch {
		case (o.tokenFile == "") == (o.tokenCommand == ""):
			return nil, usagef("--sasl-oauth-token-file or --sasl-oauth-token-command: exactly one is required with OAUTHBEARER")
		case o.tokenFile != "":
			return oauthbearer.New(tokenFromFile(o.tokenFile)), nil
		}
		return oauthbearer.New(tokenFromCommand(o.tokenCommand)), nil
	default:
		return nil, usagef("--sasl-mechanism: %q: want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", o.mechanism)
	}
}

// secret is the password from --sasl-password, --sasl-password-file or the
// environment: exactly one of them.
func (o *saslOptions) secret(changed func(string) bool, getenv func(string) string) (string, error) {
	env := getenv(passwordEnv)
	switch {
	case changed("sasl-password") && changed("sasl-password-file"):
		return "", usagef("--sasl-password, --sasl-password-file: give one")
	case changed("sasl-password"):
		return o.password, nil
	case changed("sasl-password-file"):
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return "", usagef("--sasl-password-file: %v", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", usagef("--sasl-password-file: %s is empty", o.passwordFile)
		}
		return p, nil
	case env != "":
		return env, nil
	}
	return "", usagef("--sasl-password-file: required (or --sasl-password, or $%s)", passwordEnv)
}

// tokenFromFile reads the token at every authentication, so that a file
// refreshed by another process serves long runs.
func tokenFromFile(path string) oauthbearer.TokenProvider {
	return func(context.Context) (oauthbearer.Token, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return oauthbearer.Token{}, fmt.Errorf("token file: %w", err)
		}
		return oauthbearer.Token{Value: strings.TrimSpace(string(b))}, nil
	}
}

// tokenCommandWaitDelay is how long a token command's output is read
// after its ctx ended and sh was killed: a process sh started may still
// hold the output open, and would hold the call until it exits.
const tokenCommandWaitDelay = time.Second

// tokenFromCommand runs command with sh at every authentication and takes
// its output as the token. Its stderr is not shown: it might hold secrets.
func tokenFromCommand(command string) oauthbearer.TokenProvider {
	return func(ctx context.Context) (oauthbearer.Token, error) {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stdout = &out
		cmd.WaitDelay = tokenCommandWaitDelay
		if err := cmd.Run(); err != nil {
			return oauthbearer.Token{}, fmt.Errorf("token command: %w", err)
		}
		return oauthbearer.Token{Value: strings.TrimSpace(out.String())}, nil
	}
}
