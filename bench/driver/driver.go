package driver

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one Kafka client under test.
type Client interface {
	// Callback turns done into what Produce takes for it: a callback of
	// the client's own type that calls done, or done itself for a client
	// that carries it as the message's opaque data. The driver calls it
	// once per producing goroutine, or once per record where each record's
	// done differs, as an application makes its completion handler once:
	// wrapping done again on every Produce would charge the client an
	// allocation per record that its API does not ask for.
	Callback(done func(error)) any
	// Produce sends one record asynchronously and calls the done that cb
	// came from exactly once, when the record is acknowledged or has
	// failed. done may run on any goroutine.
	Produce(key, value []byte, cb any)
	// Flush returns once every record produced so far has completed.
	Flush(ctx context.Context) error
	Close() error
}

// Opener starts a client for the settings and returns it with the client's
// own configuration, as "name=value" lines for the report.
type Opener func(Settings) (Client, []string, error)

// runTimeout bounds a whole run: a client that stalls fails the run rather
// than the race.
const runTimeout = 10 * time.Minute

// Main is a contender's main: it reads -settings, runs the workload through
// the client that open starts and prints the Result on stdout. It exits 1
// on any failure, with the reason on stderr. module is the client's Go
// module, whose version the Result reports.
func Main(name, module string, open Opener) {
	if err := run(os.Args[1:], os.Stdout, name, moduleVersion(module), open); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer, name, version string, open Opener) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	text := fs.String("settings", "", "the run's settings, as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file when the run ends (in use and allocated since start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		return err
	}
	s, err := DecodeSettings(*text)
	if err != nil {
		return err
	}
	client, config, err := open(s)
	if err != nil {
		return fmt.Errorf("starting the client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res, out, err := drive(ctx, client, s)
	// The heap profile is taken before Close, while the client still holds
	// what it keeps between records.
	err = errors.Join(err, stop())
	if cerr := client.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the client: %w", cerr))
	}
	if err != nil {
		return err
	}
	// Only after Close has every callback the client will ever run come:
	// one it held until then, or ran a second time, shows only now.
	if err := out.exactlyOnce(); err != nil {
		return err
	}
	res.Produced = out.produced()
	res.Client, res.Version, res.Config = name, version, config
	// Without VmHWM (outside Linux) the harness falls back on the rusage.
	res.PeakRSS, _ = PeakRSS()
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s%s\n", ResultPrefix, line)
	return err
}

// Drive warms the client up with one record, then runs the workload the
// settings describe and reports it. Failed records are counted, not
// fatal: the harness rejects a run with failures. A callback that ran more
// than once so far fails it; Main checks again once the client is closed.
func Drive(ctx context.Context, c Client, s Settings) (Result, error) {
	res, out, err := drive(ctx, c, s)
	if err != nil {
		return Result{}, err
	}
	if err := out.exactlyOnce(); err != nil {
		return Result{}, err
	}
	res.Produced = out.produced()
	return res, nil
}

// drive is Drive without the final count of the callbacks, which only the
// caller that closes c can make.
func drive(ctx context.Context, c Client, s Settings) (Result, *outcome, error) {
	values := newRing(RingSize, s.ValueSize, valueSeed)
	keys := newRing(RingSize, s.KeySize, keySeed)
	out := newOutcome(s.Records)
	if err := warm(ctx, c, keys.cursor(warmUpOffset).take(), values.cursor(warmUpOffset).take(), out); err != nil {
		return Result{}, nil, err
	}
	start := time.Now()
	var latencies []time.Duration
	var senderStack int64
	switch {
	case s.Senders > 0:
		senderStack = sendSynchronously(c, s, keys, values, out)
	case s.Rate > 0:
		latencies = producePaced(c, s, keys.cursor(0), values.cursor(0), out)
	default:
		produceAll(c, s.Records, keys.cursor(0), values.cursor(0), out)
	}
	if err := c.Flush(ctx); err != nil {
		return Result{}, nil, fmt.Errorf("flush: %w", err)
	}
	if err := out.wait(ctx); err != nil {
		return Result{}, nil, err
	}
	res := Result{
		Produced: out.produced(),
		Failed:   out.failed.Load(),
		Elapsed:  time.Since(start),

		SenderStack: senderStack,
	}
	if e := out.first.Load(); e != nil {
		res.FirstError = (*e).Error()
	}
	if len(latencies) > 0 {
		res.LatencyFrom = LatencyFromDueTime
		slices.Sort(latencies)
		res.P50 = percentile(latencies, 0.50)
		res.P99 = percentile(latencies, 0.99)
	}
	return res, out, nil
}

// Warm produces one record and waits for it, so that connections and
// metadata exist before the clock starts: a race measures steady state,
// not bootstrap.
func Warm(ctx context.Context, c Client, key, value []byte) error {
	return warm(ctx, c, key, value, newOutcome(0))
}

// warm is Warm, counting a second run of the record's callback in out.
func warm(ctx context.Context, c Client, key, value []byte, out *outcome) error {
	errc := make(chan error, 1)
	var completed atomic.Bool
	c.Produce(key, value, c.Callback(func(err error) {
		if completed.Swap(true) {
			out.repeated.Add(1)
			return
		}
		errc <- err
	}))
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("warm-up record: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("warm-up record: %w", ctx.Err())
	}
}

// outcome counts completions from whatever goroutines the client calls
// done on. Where a workload can tell which record a callback is for (the
// paced one's callback per record, a sender's one record in flight), a
// second callback of a record is counted in repeated, not completed; the
// throughput workload's one shared callback cannot tell, and counts every
// callback in completed, which then must come to exactly want once the
// client is closed (exactlyOnce). There, a record completed twice and one
// never completed cancel out: telling them apart would take a callback
// made per record, an allocation per record that the client's CPU would
// be charged with. Where a workload can tell, that costs a flag per record
// (made before the paced workload's first record) or per sender, and one
// atomic operation per record.
type outcome struct {
	completed atomic.Int64
	repeated  atomic.Int64
	failed    atomic.Int64
	first     atomic.Pointer[error]
	want      int64
	// all is closed by the completion that reaches want: the counter's Add
	// returns want to exactly one caller, so it closes once.
	all chan struct{}
}

func newOutcome(want int) *outcome {
	return &outcome{want: int64(want), all: make(chan struct{})}
}

func (o *outcome) done(err error) {
	if err != nil {
		o.failed.Add(1)
		// A copy of err declared here, not err itself, is what escapes:
		// taking err's address would move every call's err to the heap,
		// an allocation per record charged to every client alike.
		first := err
		o.first.CompareAndSwap(nil, &first)
	}
	if o.completed.Add(1) == o.want {
		close(o.all)
	}
}

func (o *outcome) wait(ctx context.Context) error {
	select {
	case <-o.all:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of %d records completed: %w", o.completed.Load(), o.want, ctx.Err())
	}
}

// exactlyOnce fails unless every record's callback ran exactly once so
// far. Once the client is closed, no callback is still to come.
func (o *outcome) exactlyOnce() error {
	completed, repeated := o.completed.Load(), o.repeated.Load()
	switch {
	case repeated > 0:
		return fmt.Errorf("%d callbacks ran again for a record already completed", repeated)
	case completed > o.want:
		return fmt.Errorf("%d callbacks for %d records: some record's callback ran more than once", completed, o.want)
	case completed < o.want:
		return fmt.Errorf("%d of %d records completed", completed, o.want)
	}
	return nil
}

// produced is how many records have completed, the warm-up (which drive
// requires to succeed) included: what the topic's high watermarks must add
// up to.
func (o *outcome) produced() int {
	return int(o.completed.Load()) + 1
}

// produceAll is the throughput workload: one goroutine produces every
// record as fast as the client takes them, one shared callback counts acks.
func produceAll(c Client, records int, keys, values *ring, out *outcome) {
	done := c.Callback(out.done)
	for range records {
		c.Produce(keys.take(), values.take(), done)
	}
}

// sendSynchronously is the many-senders workload: each of s.Senders
// goroutines produces a record and waits for its ack before the next. It
// returns the peak of the goroutine stack memory the run added, per
// sender. With thousands of senders their stacks are much of what the
// cache must hold between a sender's turns, and a stack that outgrows the
// one a goroutine starts with doubles. The peak is sampled from this
// goroutine, every StackSampleEvery, so that the senders run as they would
// without it.
func sendSynchronously(c Client, s Settings, keys, values *ring, out *outcome) (stackPerSender int64) {
	var wg sync.WaitGroup
	before := stackInUse()
	for g := range s.Senders {
		offset, n := senderShare(s, g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, v := keys.cursor(offset), values.cursor(offset)
			// inFlight tells the callback of the sender's one record in
			// flight from a second callback of a record already acked,
			// which must not leave an ack behind for the next record.
			var inFlight atomic.Bool
			acked := make(chan error, 1)
			done := c.Callback(func(err error) {
				if !inFlight.CompareAndSwap(true, false) {
					out.repeated.Add(1)
					return
				}
				acked <- err
			})
			for range n {
				inFlight.Store(true)
				c.Produce(k.take(), v.take(), done)
				out.done(<-acked)
			}
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	sample := time.NewTicker(StackSampleEvery)
	defer sample.Stop()
	peak := stackInUse()
	for {
		select {
		case <-sample.C:
			peak = max(peak, stackInUse())
		case <-finished:
			return (peak - before) / int64(s.Senders)
		}
	}
}

// senderShare is where sender g of the senders workload starts in the
// rings, and how many records it sends: Records/Senders each, the last
// sender the rest.
func senderShare(s Settings, g int) (offset, records int) {
	per := s.Records / s.Senders
	if g == s.Senders-1 {
		return g * per, s.Records - per*(s.Senders-1)
	}
	return g * per, per
}

// StackSampleEvery is how often the senders workload reads the stack memory.
// Each read stops the world for a moment: a few dozen a run are nothing
// beside a run's million records.
const StackSampleEvery = 50 * time.Millisecond

// stackInUse is the memory of every goroutine stack, in bytes.
func stackInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}

// producePaced is the latency workload: records leave at s.Rate per
// second on an absolute schedule (a late record does not delay the next
// ones), each timed from when it was due to its ack. Timed from its
// Produce call instead, a record due while Produce blocked (a full buffer)
// or this goroutine was descheduled would be sent late, back to back with
// the others due meanwhile, and look as fast as any: coordinated omission,
// which hides a stall from the percentiles it should dominate.
func producePaced(c Client, s Settings, keys, values *ring, out *outcome) []time.Duration {
	latencies := make([]time.Duration, s.Records)
	completed := make([]atomic.Bool, s.Records)
	interval := time.Second / time.Duration(s.Rate)
	start := time.Now()
	for i := range s.Records {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		c.Produce(keys.take(), values.take(), c.Callback(func(err error) {
			if completed[i].Swap(true) {
				out.repeated.Add(1)
				return
			}
			latencies[i] = time.Since(due)
			out.done(err)
		}))
	}
	return latencies
}

// percentile is the q quantile of sorted durations by nearest rank: the
// smallest value with at least q of the values at or below it, so that p99
// of 60 latencies is the 60th (rounding 59.4 to the 59th would let a whole
// percent of the records lie above it).
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// moduleVersion is the version of module built into this binary: the
// workspace's own modules report "(devel)".
func moduleVersion(module string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if info.Main.Path == module {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == module {
			if d.Replace != nil && d.Replace.Version == "" {
				return "(devel)"
			}
			return d.Version
		}
	}
	return "unknown"
}

// ErrUnsupported is returned by an Opener for settings its client cannot
// honour (say, a codec it lacks).
var ErrUnsupported = errors.New("not supported by this client")
