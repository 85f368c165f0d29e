package bounded

import (
	"flag"
	"strings"
	"testing"
	"time"
)

// The report names the running test by its own function, found in this
// binary's own stacks: the frames above it (a wait) and below it (package
// testing's) are not its name.
func TestTheHangReportNamesTheRunningTest(t *testing.T) {
	report := hangReport(Stacks(), 9*time.Minute, 10*time.Minute)
	if !strings.HasPrefix(report, "bounded: the tests still run after 9m0s, near the binary's -test.timeout of 10m0s") {
		t.Fatalf("the report does not open with the times:\n%s", report)
	}
	const name = "\n--- github.com/gokafka/producer/internal/bounded.TestTheHangReportNamesTheRunningTest\ngoroutine "
	if !strings.Contains(report, name) {
		t.Fatalf("the report does not name this test:\n%s", report)
	}
}

// A test in its cleanup is named by the cleanup's function, the frame
// nearest tRunner outside package testing; a goroutine that runs no test
// is left out.
func TestTheHangReportNamesACleanupAndLeavesOutOtherGoroutines(t *testing.T) {
	const inCleanup = `goroutine 7 [chan receive]:
example.com/p.(*waiter).wait(...)
	/p/wait.go:10
example.com/p.newThing.func1()
	/p/thing_test.go:20 +0x1
testing.(*common).Cleanup.func1()
	/go/src/testing/testing.go:1200 +0x1
testing.(*common).runCleanup(0x1, 0x0)
	/go/src/testing/testing.go:1300 +0x1
testing.tRunner.func2()
	/go/src/testing/testing.go:1700 +0x1
testing.tRunner(0x1, 0x2)
	/go/src/testing/testing.go:1750 +0x1
created by testing.(*T).Run in goroutine 1
	/go/src/testing/testing.go:1800 +0x1`
	const other = `goroutine 9 [IO wait]:
example.com/p/conn.(*Conn).readLoop(0x1)
	/p/conn/reader.go:42 +0x1
created by example.com/p/conn.newConn in goroutine 7
	/p/conn/conn.go:106 +0x1`
	report := hangReport(inCleanup+"\n\n"+other, time.Minute, 2*time.Minute)
	if !strings.Contains(report, "\n--- example.com/p.newThing.func1\ngoroutine 7 ") {
		t.Fatalf("the report does not name the cleanup:\n%s", report)
	}
	if strings.Contains(report, "goroutine 9") {
		t.Fatalf("the report shows a goroutine that runs no test:\n%s", report)
	}
}

// A binary that runs benchmarks or fuzzes is not watched: package testing
// stops its own -test.timeout before either, which run as long as they
// take (make benchstat gives the root package's benchmarks the default
// ten minutes; a fuzzing budget may outlast FUZZ_TIMEOUT). Watched, they
// were ended as a hang 20 s before the timeout.
func TestABinaryThatRunsBenchmarksOrFuzzesIsNotWatched(t *testing.T) {
	binary := func(args ...string) *flag.FlagSet {
		fs := flag.NewFlagSet("test binary", flag.ContinueOnError)
		fs.Duration("test.timeout", 0, "")
		fs.String("test.bench", "", "")
		fs.String("test.fuzz", "", "")
		fs.Bool("test.fuzzworker", false, "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	if got := binaryTimeout(binary("-test.timeout=10m")); got != 10*time.Minute {
		t.Fatalf("tests alone are watched until the timeout; got %v", got)
	}
	for _, args := range [][]string{
		{"-test.timeout=10m", "-test.bench=."},
		{"-test.timeout=5m", "-test.fuzz=^FuzzApply$"},
		{"-test.timeout=5m", "-test.fuzz=^FuzzApply$", "-test.fuzzworker"},
	} {
		if got := binaryTimeout(binary(args...)); got != 0 {
			t.Errorf("%v: watched until %v, want not at all", args, got)
		}
	}
}
