//go:build !race

package producer

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/fakebroker"
)

// A record's way into its batch runs on the goroutine that calls Produce,
// and with thousands of goroutines each sending, every line of stack it
// reaches is a cache miss per record (see Produce). It stays within the
// smallest stack Go gives a new goroutine: goroutines that call Produce,
// with a batch open to take their records, keep that stack. Before
// be746f2 the way took 1,224 bytes of frames from Produce down, and each
// such goroutine's stack doubled. (The race detector's instrumentation
// makes every frame larger; the test runs without it.)
func TestProduceFitsAGoroutinesFirstStack(t *testing.T) {
	if os.Getenv(stackMeasurer) == "" {
		measureInAProcessOfItsOwn(t)
		return
	}
	if size := startingStackSize(t); size != minStackSize {
		t.Skipf("the runtime starts goroutines with %d-byte stacks, not %d: nothing to measure", size, minStackSize)
	}
	c := startCluster(t, fakebroker.Options{Nodes: 1, Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Linger, cfg.BatchSize = time.Minute, 1<<20 // one batch takes every record
	})
	if _, err := p.PartitionsFor(ctx(t), "t"); err != nil {
		t.Fatal(err)
	}
	// The first record starts the batch, on a path of its own.
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("opens the batch")}, o.cb(0))

	// Parked goroutines first: their stacks, freed, are what the next
	// goroutines start with, so that the second count is of growth alone.
	// A goroutine whose stack grows takes a new one of twice the size.
	const goroutines = 1000
	pctx, rec := ctx(t), &Record{Topic: "t", Value: []byte("v")}
	stackPerGoroutine(goroutines, func() {})
	grown := stackPerGoroutine(goroutines, func() { p.Produce(pctx, rec, nil) })
	// Grown stacks take about a first stack's size each, their first ones
	// going to the goroutines after them; a few may grow for reasons of
	// their own.
	if grown >= minStackSize/2 {
		t.Fatalf("goroutines that called Produce took %d bytes of stack each beyond their first: "+
			"the way from Produce into the batch no longer fits a goroutine's first stack of %d bytes", grown, minStackSize)
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	o.wait(t, "the first record")
}

// stackMeasurer, set in its environment, marks the process that measures.
// In the test binary's own, the goroutines of the tests before, exiting or
// parked, take and give back stack memory while it is counted, and a
// collection meanwhile may raise the stack new goroutines start with (the
// average it finds, GODEBUG adaptivestackstart), so that goroutines that
// never grew count as grown: the measurement runs in a process of its own.
const stackMeasurer = "GOKAFKA_STACK_MEASURER"

// measureInAProcessOfItsOwn runs the calling test again, alone, in a new
// process of the test binary, and reports what it reported.
func measureInAProcessOfItsOwn(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), stackMeasurer+"=1")
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("the measuring process: %v\n%s", err, out)
	case bytes.Contains(out, []byte("--- SKIP")):
		t.Skipf("the measuring process skipped:\n%s", out)
	}
}

// minStackSize is the stack a goroutine starts with unless the runtime has
// seen goroutines use more (GODEBUG adaptivestackstart).
const minStackSize = 2048

func startingStackSize(t *testing.T) uint64 {
	s := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Skip("this runtime does not report its goroutines' starting stack size")
	}
	return s[0].Value.Uint64()
}

// stackPerGoroutine starts n goroutines that each call f and then wait,
// and returns the stack memory taken while they wait, per goroutine, once
// they have all exited.
func stackPerGoroutine(n int, f func()) uint64 {
	var before, during runtime.MemStats
	runtime.ReadMemStats(&before)
	var done, exited sync.WaitGroup
	release := make(chan struct{})
	done.Add(n)
	exited.Add(n)
	for range n {
		go func() {
			defer exited.Done()
			f()
			done.Done()
			<-release
		}()
	}
	done.Wait()
	runtime.ReadMemStats(&during)
	close(release)
	exited.Wait()
	return (during.StackInuse - before.StackInuse) / uint64(n)
}
