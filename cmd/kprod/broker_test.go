package main

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/gokafka/producer/integration/embedded/child"
)

// A broker that `kprod broker` runs for other runs holds the default
// topic, of the embedded broker's partition count, so that the example of
// its help, a bare perf against it, runs: it failed, the topic not
// existing, without --create-topic.
func TestABrokerForOtherRunsHoldsTheDefaultTopic(t *testing.T) {
	cmd := exec.Command(kprodBin, "broker")
	p, err := child.Start(context.Background(), cmd, brokerAddrPrefix, brokerStartTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Not a child: it stops on SIGTERM, not when its stdin closes.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := p.Stop(brokerStopTimeout); err != nil {
			t.Errorf("kprod broker: %v", err)
		}
	}()
	env := []string{brokersEnv + "=" + strings.Join(p.Addrs, ",")}
	for _, args := range [][]string{
		{"perf", "--num-records", "10", "--json"},
		// An existing topic must have as many partitions as --partitions.
		{"perf", "--num-records", "10", "--partitions", "6", "--json"},
	} {
		r := runKprodEnv(t, env, "", args...)
		if r.code != exitOK {
			t.Errorf("%v: exit %d\nstderr:\n%s", args, r.code, r.stderr)
			continue
		}
		if s := parseSummary(t, r); s.Topic != defaultTopic || s.Embedded || s.RecordsAcked != 10 {
			t.Errorf("%v: topic %s, embedded %v, acked %d; want %s, false, 10", args, s.Topic, s.Embedded, s.RecordsAcked, defaultTopic)
		}
	}
}
