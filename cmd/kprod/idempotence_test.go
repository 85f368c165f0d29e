package main

import (
	"strings"
	"testing"
)

// kprod is idempotent by default; --acks 1 turns it off, as in the Java
// client, and so do more than 5 requests in flight and --idempotent=false.
// The summary says which.
func TestSummarySaysWhetherIdempotent(t *testing.T) {
	brokers := sharedBroker(t)
	for _, tc := range []struct {
		args []string
		want bool
		line string
	}{
		{nil, true, "producer  acks=all, idempotent"},
		{[]string{"--acks", "1"}, false, "producer  acks=1, not idempotent"},
		{[]string{"--idempotent=false"}, false, "producer  acks=all, not idempotent"},
		{[]string{"-X", "enable.idempotence=false"}, false, "producer  acks=all, not idempotent"},
		{[]string{"-X", "max.in.flight.requests.per.connection=6"}, false, "producer  acks=all, not idempotent"},
	} {
		t.Run(strings.Join(append([]string{"default"}, tc.args...), " "), func(t *testing.T) {
			args := append([]string{"perf", "-b", brokers, "--create-topic", "-t", uniqueTopic("idem"), "--num-records", "2000"}, tc.args...)
			r := runKprod(t, "", append(args, "--json")...)
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if s := parseSummary(t, r); s.Idempotent != tc.want {
				t.Errorf("idempotent %v, want %v", s.Idempotent, tc.want)
			}
			r = runKprod(t, "", args...)
			if r.code != exitOK || !strings.Contains(r.stdout, tc.line) {
				t.Errorf("exit %d, summary:\n%s\nwant a line %q", r.code, r.stdout, tc.line)
			}
		})
	}
}
