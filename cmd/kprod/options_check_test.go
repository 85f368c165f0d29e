package main

import (
	"strings"
	"testing"
)

// The checks of the common flags at their edges: each was tested with a
// value far from its bound, or in one command only.

// --replication-factor -1 is the broker's default, as --help says: it is
// taken, where 0 and -2 are refused.
func TestReplicationFactorMinusOneIsTheBrokersDefault(t *testing.T) {
	if err := validateArgs(t, "--replication-factor", "-1"); err != nil {
		t.Errorf("--replication-factor -1: %v", err)
	}
	err := validateArgs(t, "--replication-factor", "-2")
	if want := "--replication-factor: -2 is neither positive nor -1"; err == nil || err.Error() != want {
		t.Errorf("--replication-factor -2: %v, want %q", err, want)
	}
}

// A wait of 0 is refused: the library reads 0 as "the default", so
// --max-block 0 waited the default minute. --delivery-timeout left unset
// is 0, the library's default; given, 0 is refused too.
func TestAZeroWaitIsRefused(t *testing.T) {
	for _, flag := range []string{"max-block", "request-timeout", "delivery-timeout"} {
		err := validateArgs(t, "--"+flag, "0")
		if want := "--" + flag + ": 0s is not positive"; err == nil || err.Error() != want {
			t.Errorf("--%s 0: %v, want %q", flag, err, want)
		}
	}
}

// perf, which needs no brokers, refuses --embedded with brokers as
// produce does: which of the two the run would go to is not the user's
// guess to make.
func TestPerfRefusesEmbeddedWithBrokers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--embedded", "-b", "h:1"}, "--embedded: not with --brokers"},
		{[]string{"--embedded", "-X", "bootstrap.servers=h:1"}, "--embedded: not with -X bootstrap.servers"},
	} {
		if _, err := parsePerf(t, tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("perf %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
