package race

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/integration/embedded"
)

// TestRaceEndToEnd races our producer and franz-go with tiny record counts
// through the whole harness: building the contenders, a broker process per
// run, the watermark check, the results file and the report.
func TestRaceEndToEnd(t *testing.T) {
	ctx, moduleDir := raceSetup(t)
	clients := contendersNamed(t, "gokafka", Baseline, Floor)
	var workloads []Workload
	for _, name := range []string{"nokey", "zstd", "senders", "latency"} {
		w, err := WorkloadByName(name)
		if err != nil {
			t.Fatal(err)
		}
		workloads = append(workloads, w)
	}
	var log strings.Builder
	res, err := Race(ctx, Options{
		Clients: clients, Workloads: workloads, Rounds: 2,
		Records: 2000, LatencyRecords: 200,
		BrokerName: "embedded", ModuleDir: moduleDir, WorkDir: t.TempDir(), Log: &log,
	})
	if err != nil {
		t.Fatalf("race: %v\n%s", err, log.String())
	}
	if want := 2 * len(workloads) * len(clients); len(res.Runs) != want {
		t.Fatalf("%d runs, want %d:\n%s", len(res.Runs), want, log.String())
	}
	for _, r := range res.Runs {
		if r.Err != "" {
			t.Fatalf("round %d %s %s: %s", r.Round, r.Workload, r.Client, r.Err)
		}
		want := r.Records + 1 // the warm-up record
		if r.Client == Floor {
			// It completes every record and sends none.
			if r.Produced != want || r.Counted != 0 || r.Requests != 0 {
				t.Errorf("%s floor: produced %d, counted %d, requests %d, want %d, 0, 0", r.Workload, r.Produced, r.Counted, r.Requests, want)
			}
			continue
		}
		if r.Produced != want || r.Counted != int64(want) {
			t.Errorf("%s %s: produced %d, counted %d, want %d", r.Workload, r.Client, r.Produced, r.Counted, want)
		}
		if r.CPU <= 0 || r.MaxRSS <= 0 || r.Elapsed <= 0 || r.Requests <= 0 {
			t.Errorf("%s %s: unmeasured: CPU %v, RSS %d, elapsed %v, requests %d", r.Workload, r.Client, r.CPU, r.MaxRSS, r.Elapsed, r.Requests)
		}
		if (r.Workload == "latency") != (r.P99 > 0) {
			t.Errorf("%s %s: p99 %v, want one on the latency workload only", r.Workload, r.Client, r.P99)
		}
	}

	out := t.TempDir()
	md := render(t, res, out)
	for _, want := range []string{"| gokafka | ", "| franz-go | ", "| floor | ", "1.00x", "### 1,000 synchronous senders", "race-embedded.svg", "| floor vs franz-go |"} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "race-embedded.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), ">gokafka<") {
		t.Errorf("the chart is not an SVG naming the clients:\n%.300s", svg)
	}
	if strings.Contains(string(svg), ">floor<") {
		t.Errorf("the chart draws the floor, which is no client")
	}
}

// TestRaceCountsRequestsOnARunningBroker races on a broker the race does
// not own, which counts its own Produce requests as Kafka's meter does:
// each run gets the requests made across it, and together they are every
// request the broker saw.
func TestRaceCountsRequestsOnARunningBroker(t *testing.T) {
	ctx, moduleDir := raceSetup(t)
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var produces atomic.Int64
	cluster.Kfake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		produces.Add(1) // unhandled: kfake keeps the function and answers the request
		return nil, nil, false
	})
	clients := contendersNamed(t, "gokafka", Baseline)
	w, err := WorkloadByName("nokey")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := Race(ctx, Options{
		Clients: clients, Workloads: []Workload{w}, Rounds: 2, Records: 2000, LatencyRecords: 1,
		Brokers: cluster.Addrs(), BrokerName: "brokers",
		ProduceRequests: func(context.Context) (int64, error) { return produces.Load(), nil },
		ModuleDir:       moduleDir, WorkDir: t.TempDir(), Log: &log,
	})
	if err != nil {
		t.Fatalf("race: %v\n%s", err, log.String())
	}
	if !res.BrokerCountsRequests {
		t.Error("the results do not say the broker counted the requests")
	}
	var sum int64
	for _, r := range res.Runs {
		if r.Err != "" {
			t.Fatalf("round %d %s: %s", r.Round, r.Client, r.Err)
		}
		if r.Requests <= 0 {
			t.Errorf("round %d %s: %d requests, want the broker's count across the run", r.Round, r.Client, r.Requests)
		}
		sum += r.Requests
	}
	if len(res.Runs) != 4 || sum != produces.Load() {
		t.Errorf("%d runs with %d requests in all; the broker saw %d in 4 runs", len(res.Runs), sum, produces.Load())
	}

	// The report says who counted them.
	md := render(t, res, t.TempDir())
	if want := "Produce requests are counted by the broker:"; !strings.Contains(md, want) {
		t.Errorf("RESULTS.md does not say %q:\n%s", want, md)
	}
}

// raceSetup bounds a race test to five minutes and finds the bench module,
// where the race builds its contenders.
func raceSetup(t *testing.T) (context.Context, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	moduleDir, err := ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, moduleDir
}

// render writes res into out as the race does (results file, RESULTS.md,
// charts) and returns RESULTS.md.
func render(t *testing.T, res *Results, out string) string {
	t.Helper()
	if err := WriteResults(filepath.Join(out, "results"), res); err != nil {
		t.Fatal(err)
	}
	if err := Render(filepath.Join(out, "results"), out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

func contendersNamed(t *testing.T, names ...string) []Contender {
	t.Helper()
	var clients []Contender
	for _, name := range names {
		c, err := ContenderByName(name)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	return clients
}

// adminOnEmbedded starts an embedded broker and the race's admin client on
// it, both closed with the test, and a minute's ctx for the test's calls.
func adminOnEmbedded(t *testing.T) (*embedded.Cluster, *admin, context.Context) {
	t.Helper()
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	adm, err := newAdmin(cluster.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.close)
	return cluster, adm, ctx
}

// TestCheckCountRejectsMismatch shows the watermark check can fail: a
// topic holding three records passes only for three.
func TestCheckCountRejectsMismatch(t *testing.T) {
	cluster, adm, ctx := adminOnEmbedded(t)
	const topic = "counted"
	if err := adm.createTopic(ctx, topic, partitions); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.Addrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := adm.checkCount(ctx, topic, 3); err != nil || got != 3 {
		t.Fatalf("checkCount(3) = %d, %v; want 3, nil", got, err)
	}
	for _, want := range []int64{2, 4} {
		if _, err := adm.checkCount(ctx, topic, want); err == nil {
			t.Errorf("checkCount(%d) passed on a topic of 3 records", want)
		}
	}
	if _, err := adm.checkCount(ctx, "missing", 0); err == nil {
		t.Error("checkCount passed on a topic that does not exist")
	}
}

// TestCheckValuesRejectsALossCancelledByADuplicate: a topic that lost one
// record and holds another twice passes the count of its records but not
// the count of its values; the topic as sent passes both.
func TestCheckValuesRejectsALossCancelledByADuplicate(t *testing.T) {
	cluster, adm, ctx := adminOnEmbedded(t)
	values, sent := [][]byte{[]byte("zero"), []byte("one"), []byte("two")}, []int{1, 1, 1}
	for _, c := range []struct {
		topic   string
		written []int // indexes into values
		pass    bool
	}{{"as-sent", []int{2, 0, 1}, true}, {"one-lost-one-twice", []int{0, 1, 1}, false}} {
		if err := adm.createTopic(ctx, c.topic, partitions); err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.Addrs()...), kgo.DefaultProduceTopic(c.topic))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range c.written {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: values[i]}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		cl.Close()
		if _, err := adm.checkCount(ctx, c.topic, 3); err != nil {
			t.Fatalf("%s: %v", c.topic, err)
		}
		err = checkValues(ctx, cluster.Addrs(), c.topic, values, sent)
		if c.pass != (err == nil) {
			t.Errorf("%s: checkValues = %v, want it to pass: %v", c.topic, err, c.pass)
		}
	}
}

// TestSentValuesOfACountedRunAddBothRuns: a counted run sends twice to its
// topic, a quarter of the records and then all, each run with its warm-up;
// the Java producer's payloads are picked at random and not checked.
func TestSentValuesOfACountedRunAddBothRuns(t *testing.T) {
	s := driver.Settings{Records: 4000, ValueSize: 100, Senders: 7}
	total := func(sent []int) (n int) {
		for _, c := range sent {
			n += c
		}
		return n
	}
	if got, want := total(sentValues(Options{}, Contender{}, s)), 4001; got != want {
		t.Errorf("a timed run: %d values sent, want %d", got, want)
	}
	if got, want := total(sentValues(Options{Instructions: true}, Contender{}, s)), 4001+1001; got != want {
		t.Errorf("a counted run: %d values sent, want %d", got, want)
	}
	if sent := sentValues(Options{}, Contender{Java: true}, s); sent != nil {
		t.Errorf("the Java producer: %d values expected, want none checked", total(sent))
	}
}

// TestParseJava reads ProducerPerformance's summary line.
func TestParseJava(t *testing.T) {
	out := "500 records sent, 100.0 records/sec (0.01 MB/sec), 3.0 ms avg latency, 9.0 ms max latency.\n" +
		"1000000 records sent, 250000.0 records/sec (23.84 MB/sec), 12.34 ms avg latency, 300.00 ms max latency, 10 ms 50th, 20 ms 95th, 30 ms 99th, 40 ms 99.9th.\n" +
		"producer-metrics:request-total:{client-id=perf-producer-client}                  : 1234.000\n"
	r, err := parseJava(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Produced != 1000000 || r.Elapsed != 4*time.Second || r.P50 != 10*time.Millisecond || r.P99 != 30*time.Millisecond {
		t.Errorf("parsed %+v", r)
	}
	if n := javaRequestCount(out); n != 1234 {
		t.Errorf("request count %d, want 1234", n)
	}
	if _, err := parseJava("Exception in thread main"); err == nil {
		t.Error("parsed output without a summary line")
	}
}
