package race

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// harnessFiles are the files the harness runs beside the clients.
type harnessFiles struct {
	// broker is the embedded broker's binary (cmd/racebroker), empty on
	// a running broker.
	broker string
	// readBack is the binary that reads a run's topic back
	// (cmd/racereadback, readback.go).
	readBack string
	// payloads is the Java producer's payload file.
	payloads string
}

// harness is what every run of a race shares: the race's Options, the
// files the harness runs beside the clients, and each Go client's binary
// by name.
type harness struct {
	o        Options
	files    harnessFiles
	binaries map[string]string
}

// oneRun starts the broker if the race owns it, makes the run's topic,
// runs the client, and checks the topic's count and, for a Go client, its
// values.
func (h harness) oneRun(ctx context.Context, round int, w Workload, c Contender) (run Run) {
	o, files := h.o, h.files
	run = newRun(o, round, w, c)
	fail := func(err error) Run {
		if run.Err == "" {
			run.Err = err.Error()
		}
		return run
	}

	brokers := o.Brokers
	if files.broker != "" {
		broker, err := startEmbedded(ctx, files.broker)
		if err != nil {
			return fail(err)
		}
		brokers = broker.Addrs
		defer func() {
			if n, err := stopEmbedded(broker); err == nil {
				run.Requests = n
			} else if run.Err == "" {
				run.Err = err.Error()
			}
		}()
	}
	adm, err := newAdmin(brokers)
	if err != nil {
		return fail(err)
	}
	defer adm.close()
	if err := adm.createTopic(ctx, run.Topic, partitions); err != nil {
		return fail(err)
	}
	if files.broker == "" {
		defer func() {
			if err := adm.deleteTopic(context.WithoutCancel(ctx), run.Topic); err != nil && run.Err == "" {
				run.Err = err.Error()
			}
		}()
	}

	requestsBefore := int64(-1)
	if files.broker == "" && o.ProduceRequests != nil {
		if requestsBefore, err = o.ProduceRequests(ctx); err != nil {
			return fail(fmt.Errorf("counting the broker's Produce requests before the run: %w", err))
		}
	}

	s := w.settings(brokers, run.Topic, run.Records)
	m, want, err := h.runClient(ctx, c, s, &run)
	if err != nil {
		return fail(err)
	}
	run.takeMeasured(m)
	switch {
	case requestsBefore >= 0:
		after, err := o.ProduceRequests(ctx)
		if err != nil {
			return fail(fmt.Errorf("counting the broker's Produce requests after the run: %w", err))
		}
		run.Requests = after - requestsBefore
	case files.broker == "":
		run.Requests = m.requests
	}
	if m.result.Failed > 0 {
		return fail(fmt.Errorf("%d records failed, the first with: %s", m.result.Failed, m.result.FirstError))
	}
	if err := checkDelivered(ctx, c, adm, want, &run); err != nil {
		return fail(err)
	}
	if err := h.checkReadBack(ctx, c, s); err != nil {
		return fail(err)
	}
	return run
}

// newRun is round's run of c on w, its topic named, before it starts.
func newRun(o Options, round int, w Workload, c Contender) Run {
	run := Run{Round: round, Workload: w.Name, Client: c.Name, Requests: -1,
		Topic: fmt.Sprintf("race-%s-%s-%d-%d", w.Name, c.plainName(), round, time.Now().UnixNano())}
	run.Records = o.Records
	if w.Rate > 0 {
		run.Records = o.LatencyRecords
	}
	return run
}

// runClient runs c's process on s, within the race's RunTimeout, and
// returns what it measured and how many records the topic must then hold.
// A run that counts instructions notes a record's cost in run.
func (h harness) runClient(ctx context.Context, c Contender, s driver.Settings, run *Run) (m measured, want int, err error) {
	o, binary := h.o, h.binaries[c.Name]
	runCtx, cancel := context.WithTimeout(ctx, o.RunTimeout)
	defer cancel()
	want = run.Records + warmups(c)
	switch {
	case c.Java:
		m, err = runJava(runCtx, o.Java, o.JavaClasspath, h.files.payloads, s)
	case o.Instructions:
		var per perRecord
		m, per, err = countGo(runCtx, o.WorkDir, binary, s, o.CacheSize)
		run.Instructions, run.CacheReadMisses, run.CacheWriteMisses = per.instructions, per.readMisses, per.writeMisses
		// The shorter run sent its records to the same topic.
		want += countedRecords(run.Records) + warmups(c)
	default:
		m, err = runGo(runCtx, binary, s)
	}
	return m, want, err
}

// takeMeasured copies what the client's process measured and reported
// into r.
func (r *Run) takeMeasured(m measured) {
	r.CPU, r.MaxRSS, r.Elapsed = m.cpu, m.peakRSS, m.result.Elapsed
	r.P50, r.P99, r.SenderStack = m.result.P50, m.result.P99, m.result.SenderStack
	r.LatencyFrom = m.result.LatencyFrom
	r.Produced, r.Version, r.Config = m.result.Produced, m.result.Version, m.result.Config
}

// checkDelivered checks that the run delivered want records: the floor
// by its own word, any other client by its topic's count and its own
// word. It notes the count in run.
func checkDelivered(ctx context.Context, c Contender, adm *admin, want int, run *Run) error {
	if c.Floor {
		// It sent nothing: there is no topic to count.
		if run.Produced != want {
			return fmt.Errorf("the floor reports %d records completed, want %d", run.Produced, want)
		}
		return nil
	}
	// The topic is held to what the harness asked for, not to what the
	// client says it sent.
	counted, err := adm.checkCount(ctx, run.Topic, int64(want))
	run.Counted = counted
	if err != nil {
		return err
	}
	if run.Produced != want {
		return fmt.Errorf("the client reports %d records sent, want %d", run.Produced, want)
	}
	return nil
}

// checkReadBack reads back the topic a Go client wrote, on s's brokers,
// and checks its values against those the client sent. The floor, which
// sent nothing, and the Java producer, whose payloads are random, are not
// read back.
func (h harness) checkReadBack(ctx context.Context, c Contender, s driver.Settings) error {
	if c.Floor {
		return nil
	}
	sent := sentValues(h.o, c, s)
	if sent == nil {
		return nil
	}
	return readBack(ctx, h.files.readBack, readBackRequest{Brokers: s.Brokers, Topic: s.Topic, ValueSize: s.ValueSize, Sent: sent})
}

// sentValues is how many times the run's client sent each value of the
// driver's ring (driver.ValueCounts), both runs of a counted run included;
// nil for the Java producer, which picks each record's payload at random.
func sentValues(o Options, c Contender, s driver.Settings) []int {
	if c.Java {
		return nil
	}
	sent := driver.ValueCounts(s)
	if o.Instructions {
		short := s
		short.Records = countedRecords(s.Records)
		for i, n := range driver.ValueCounts(short) {
			sent[i] += n
		}
	}
	return sent
}

// warmups is how many records a contender sends before its clock starts:
// the Go driver one, ProducerPerformance none.
func warmups(c Contender) int {
	if c.Java {
		return 0
	}
	return 1
}

// logRun prints one run's line. cached says the race simulated a cache:
// the line then shows its misses, even none.
func logRun(w io.Writer, r Run, cached bool) {
	if r.Err != "" {
		fmt.Fprintf(w, "round %d %-8s %-19s FAILED: %s\n", r.Round, r.Workload, r.Client, firstLine(r.Err))
		return
	}
	if r.Instructions != 0 {
		fmt.Fprintf(w, "round %d %-8s %-19s %6.0f instructions/record", r.Round, r.Workload, r.Client, r.Instructions)
		if cached {
			fmt.Fprintf(w, " %5.1f + %4.1f cache misses/record", noMinusZero(r.CacheReadMisses), noMinusZero(r.CacheWriteMisses))
		}
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "round %d %-8s %-19s %6.2f µs/record CPU %9.0f records/s %5d MiB RSS p50 %v p99 %v requests %d\n",
		r.Round, r.Workload, r.Client, r.cpuPerRecord(), r.recordsPerSec(), r.MaxRSS>>20, r.P50, r.P99, r.Requests)
}

func (r Run) cpuPerRecord() float64 {
	return float64(r.CPU.Microseconds()) / float64(r.Records)
}

// p99 is the run's p99 latency in nanoseconds, 0 where it has none.
func (r Run) p99() float64 { return float64(r.P99) }

func (r Run) recordsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
