package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	producer "github.com/gokafka/producer"
)

// stopReason names the producer's stop only when it cut the handing over
// short: one that came during the flush, every record handed over already,
// stopped nothing before its end, and the JSON's error, "why the run
// stopped before its end", is empty.
func TestAStopDuringTheFlushIsNoStopReason(t *testing.T) {
	stopped := fmt.Errorf("%w: fenced", producer.ErrProducerStopped)
	if got := stopReason(phase{stoppedBy: stopped}); got != "" {
		t.Errorf("a stop during the flush: error %q, want none", got)
	}
	if got, want := stopReason(phase{stoppedBy: stopped, cutShort: true}), stoppedEarlyLine+": "+stopped.Error(); got != want {
		t.Errorf("a stop that cut the run short: error %q, want %q", got, want)
	}
}

// The last error the producer logged goes with a timeout's example only:
// a timeout says that time ran out, not what stood in the way, where any
// other failure says what it is, and a logged error beside it, likely
// another partition's, would be taken for its cause.
func TestOnlyATimeoutsExampleNamesTheLastLoggedError(t *testing.T) {
	m := newMeter(1)
	m.errCause = func() string { return "NOT_ENOUGH_REPLICAS from broker 1" }
	m.recordError(fmt.Errorf("%w: 2000000 bytes", producer.ErrRecordTooLarge))
	m.recordError(fmt.Errorf("%w: 2m0s", producer.ErrDeliveryTimeout))
	var b bytes.Buffer
	_, count := m.outcomes()
	reportErrorExamples(newConsole(&b), m, count)
	const cause = "; the last error the producer logged was NOT_ENOUGH_REPLICAS from broker 1"
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		timeout := strings.Contains(line, "DELIVERY_TIMEOUT")
		if strings.HasSuffix(line, cause) != timeout {
			t.Errorf("line %q: ends with the logged error %t, want %t", line, !timeout, timeout)
		}
	}
	if n := strings.Count(b.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want one example of each failure:\n%s", n, b.String())
	}
}

// "Stopped early" points at the example printed above only when that
// example is the failure that stopped the run: another failure of the same
// name (two brokers fencing for two reasons) is said in full.
func TestStoppedEarlyPointsAtTheExampleOnlyWhenItIsTheStop(t *testing.T) {
	first := fmt.Errorf("%w: PRODUCER_FENCED from broker 1", producer.ErrProducerStopped)
	other := fmt.Errorf("%w: CLUSTER_AUTHORIZATION_FAILED from broker 2", producer.ErrProducerStopped)
	for _, tc := range []struct {
		stop error
		want string
	}{
		{first, stoppedEarlyLine + " (the PRODUCER_STOPPED failure above); records not yet handed to it were not sent"},
		{other, stoppedEarlyLine + ": " + other.Error() + "; records not yet handed to it were not sent"},
	} {
		m := newMeter(1)
		m.recordError(first)
		var b bytes.Buffer
		reportStoppedEarly(newConsole(&b), m, tc.stop)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("stopped by %q: %q, want %q", tc.stop, b.String(), tc.want)
		}
	}
}
