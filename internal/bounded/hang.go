package bounded

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// hangLead is how long before the test binary's -test.timeout Main reports
// a hang: long enough to print every stack before the timeout's panic
// would.
const hangLead = 20 * time.Second

// Main runs m, as a TestMain does, and reports a hang in the lines a log
// shows last: shortly before the binary's -test.timeout, every goroutine's
// stack and then the tests still running, each with its goroutine's stack,
// and the binary exits. The timeout's own panic says as much, but names the
// tests first, above thousands of lines of stacks, and a CI log that keeps
// only the lines before the package's FAIL loses their names. A binary that
// runs benchmarks or fuzzes is not watched (see binaryTimeout).
func Main(m *testing.M) int {
	flag.Parse()
	started := time.Now()
	if timeout := binaryTimeout(flag.CommandLine); timeout > 2*hangLead {
		watchdog := time.AfterFunc(timeout-hangLead, func() {
			stacks := Stacks()
			fmt.Fprintf(os.Stderr, "%s\n\n%s", stacks, hangReport(stacks, time.Since(started).Round(time.Second), timeout))
			os.Exit(1)
		})
		defer watchdog.Stop()
	}
	return m.Run()
}

// binaryTimeout is the -test.timeout of the test binary whose flags are
// fs, 0 for none, and 0 for a binary that runs benchmarks or fuzzes (as
// the fuzzing coordinator or a worker): package testing stops its own
// timeout before either, which run as long as they take, and a watch
// until the end of the binary would end a benchmark run or a fuzzing
// budget that outlasts the timeout, as a hang.
func binaryTimeout(fs *flag.FlagSet) time.Duration {
	for _, name := range []string{"test.bench", "test.fuzz"} {
		if f := fs.Lookup(name); f != nil && f.Value.String() != "" {
			return 0
		}
	}
	if f := fs.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return 0
	}
	f := fs.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	d, _ := f.Value.(flag.Getter).Get().(time.Duration)
	return d
}

// hangReport names the tests still running in stacks, each by the frame
// nearest its testing.tRunner outside package testing (the test, or the
// cleanup it is in), followed by its goroutine's stack.
func hangReport(stacks string, ran, timeout time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bounded: the tests still run after %v, near the binary's -test.timeout of %v; these are running:\n", ran, timeout)
	for _, g := range strings.Split(stacks, "\n\n") {
		if name := runningTest(g); name != "" {
			fmt.Fprintf(&b, "\n--- %s\n%s\n", name, g)
		}
	}
	return b.String()
}

// runningTest is the function that goroutine stack g runs under
// testing.tRunner, or "" if g runs no test: the frame nearest tRunner
// outside package testing.
func runningTest(g string) string {
	lines := strings.Split(g, "\n")
	name := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "goroutine ") {
			continue // a file:line, or the header
		}
		fn := l
		if i := strings.LastIndexByte(fn, '('); i > 0 {
			fn = fn[:i]
		}
		if fn == "testing.tRunner" {
			return name
		}
		if !strings.HasPrefix(fn, "testing.") {
			name = fn
		}
	}
	return ""
}
