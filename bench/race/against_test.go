package race

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestReportAgainstARef: the report pairs this tree's runs with the ref's
// round by round, counts the rounds this tree's was lower, and tests the
// count.
func TestReportAgainstARef(t *testing.T) {
	const ref = "gokafka@abc1234"
	r := &Results{Broker: "embedded", Clients: []string{ours, ref, Baseline}, Workloads: []string{"senders", "latency"}}
	for round, cpu := range []struct{ us, them time.Duration }{
		// 0.9x, 0.95x, 1.1x, 0.8x: lower in 3 of 4, median 0.925x.
		{900 * time.Millisecond, time.Second},
		{950 * time.Millisecond, time.Second},
		{1100 * time.Millisecond, time.Second},
		{800 * time.Millisecond, time.Second},
	} {
		r.Runs = append(r.Runs,
			Run{Round: round + 1, Workload: "senders", Client: ours, Records: 1_000_000, CPU: cpu.us, Elapsed: time.Second, Requests: 1600},
			Run{Round: round + 1, Workload: "senders", Client: ref, Records: 1_000_000, CPU: cpu.them, Elapsed: 2 * time.Second, Requests: 1300},
			Run{Round: round + 1, Workload: "latency", Client: ours, Records: 50_000, CPU: time.Second, Elapsed: time.Second, P99: 2 * time.Millisecond, Requests: -1},
			Run{Round: round + 1, Workload: "latency", Client: ref, Records: 50_000, CPU: time.Second, Elapsed: time.Second, P99: time.Millisecond, Requests: -1})
	}
	// A failed run of this tree's is left out, with its round.
	r.Runs = append(r.Runs, Run{Round: 5, Workload: "senders", Client: ours, Records: 1_000_000, CPU: 500 * time.Millisecond, Elapsed: time.Second, Requests: 1600, Err: "boom"},
		Run{Round: 5, Workload: "senders", Client: ref, Records: 1_000_000, CPU: time.Second, Elapsed: time.Second, Requests: 1300})
	var md strings.Builder
	writeAgainstRefs(&md, r)
	for _, want := range []string{
		"### gokafka against gokafka@abc1234",
		"| 1,000 synchronous senders | 0.925x (0.80-1.10) | 3 of 4 | 0.62 | 2.000x (2.00-2.00) | 1600 vs 1300 |  |  |  |",
		"| latency at 10,000 records/s, linger 0 | 1.000x (1.00-1.00) | 0 of 4 | 1.00 | 1.000x (1.00-1.00) | unknown | 2.000x (2.00-2.00) | 0 of 4 | 0.12 |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the comparison lacks %q:\n%s", want, md.String())
		}
	}

	// Without this tree's client there is nothing to compare.
	md.Reset()
	r.Clients = []string{ref, Baseline}
	if writeAgainstRefs(&md, r); md.Len() != 0 {
		t.Errorf("wrote a comparison without %s:\n%s", ours, md.String())
	}
}

func TestSignTest(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		want float64
	}{
		{0, 8, 2.0 / 256}, {8, 8, 2.0 / 256}, {7, 8, 18.0 / 256}, {4, 8, 1}, {10, 30, 0.0987}, {0, 0, 1},
	} {
		if got := signTest(tc.k, tc.n); math.Abs(got-tc.want) > 0.0005 {
			t.Errorf("signTest(%d, %d) = %.4f, want %.4f", tc.k, tc.n, got, tc.want)
		}
	}
}
