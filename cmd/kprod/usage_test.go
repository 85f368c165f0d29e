package main

import (
	"strings"
	"testing"
)

// A usage error exits 2 with one line on stderr that names the culprit, and
// starts nothing: none of these runs has --brokers, so starting the
// embedded broker would show in stderr.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the one stderr line
	}{
		{[]string{"perf", "--acks", "7"}, "--acks"},
		{[]string{"perf", "--nope"}, "--nope"},
		{[]string{"--num-records", "x"}, "--num-records"},
		{[]string{"perf", "--num-records", "0"}, "--num-records"},
		{[]string{"perf", "--compression", "brotli"}, "--compression"},
		{[]string{"perf", "--compression", "gzip", "--compression-level", "99"}, "--compression-level"},
		{[]string{"perf", "--brokers", "nohostport"}, "--brokers"},
		{[]string{"perf", "--concurrency", "0"}, "--concurrency"},
		{[]string{"perf", "--partitions", "0"}, "--partitions"},
		{[]string{"perf", "--progress", "sometimes"}, "--progress"},
		{[]string{"perf", "--idempotent", "--acks", "1"}, "--idempotent: needs --acks all"},
		{[]string{"perf", "--transactional-id", "tx", "--txn-size", "10"}, "--transactional-id: not supported yet"},
		{[]string{"produce", "--txn-size", "10"}, "--txn-size: not supported yet"},
		{[]string{"produce", "--tls-ca", "/nonexistent/ca.pem"}, "--tls-ca"},
		{[]string{"produce", "--tls-cert", "c.pem"}, "--tls-key: required"},
		{[]string{"produce", "--sasl-mechanism", "PLAIN"}, "--sasl-mechanism: the embedded broker has no SASL"},
		{[]string{"produce", "--header", "=v"}, "--header"},
		{[]string{"produce", "--partition", "-2"}, "--partition"},
		{[]string{"dump", "--version", "99", "--value", "v"}, "--version"},
		{[]string{"dump", "--timestamp", "yesterday", "--value", "v"}, "--timestamp"},
		{[]string{"perf", "extra"}, "unexpected argument"},
		{[]string{"nosuchcommand"}, "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runKprod(t, "", tc.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitUsage, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, tc.want)
			}
		})
	}
}

// --idempotent=false turns idempotence off; here only that the flag parses.
func TestIdempotentFalseAccepted(t *testing.T) {
	r := runKprod(t, "", "perf", "--idempotent=false", "--acks", "7")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--acks") {
		t.Fatalf("exit %d, stderr %q: want the --acks error, not --idempotent's", r.code, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	r := runKprod(t, "", "--help")
	if r.code != exitOK {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"perf", "produce", "dump", "--num-records", "--brokers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
}
