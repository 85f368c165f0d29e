package race

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// Contender is one client of the race, as the harness starts it.
type Contender struct {
	Name string
	// Package is the Go contender's main package in the bench module,
	// and Tags its build tags; empty for the Java producer.
	Package string
	Tags    string
	// Needs says what building it takes beyond Go, for the report of a
	// contender that could not be built.
	Needs string
	// Java marks the Java producer's ProducerPerformance.
	Java bool
	// Floor marks the floor (floor.Floor): it sends nothing, so its
	// topic is not counted, and the chart leaves it out.
	Floor bool
	// Ref, for a contender named gokafka@REF, is the commit whose library
	// it is built against (library.go); empty for this tree's.
	Ref string
}

// Contenders is every client the race knows, in the report's order.
var Contenders = []Contender{
	{Name: "gokafka", Package: "./clients/gokafka"},
	// An experiment: gokafka behind a queue to one appender goroutine.
	{Name: "gokafka-handoff", Package: "./clients/gokafkahandoff"},
	{Name: "gokafka-handoff-yield", Package: "./clients/gokafkahandoff"},
	{Name: "franz-go", Package: "./clients/franzgo"},
	{Name: "sarama", Package: "./clients/sarama"},
	{Name: "kafka-go", Package: "./clients/kafkago"},
	{Name: "confluent-kafka-go", Package: "./clients/confluent", Tags: "confluent", Needs: "cgo and a C compiler"},
	{Name: "java", Java: true},
	{Name: Floor, Package: "./clients/floor", Floor: true},
}

// Floor is the floor's name: what the harness and the hand-off of
// completions to a goroutine cost a client that sends nothing.
const Floor = "floor"

// Baseline is the contender every ratio is against.
const Baseline = "franz-go"

// ContenderByName finds a contender: one of Contenders, or gokafka@REF
// (library.go).
func ContenderByName(name string) (Contender, error) {
	for _, c := range Contenders {
		if c.Name == name {
			return c, nil
		}
	}
	if c, ok := atRef(name); ok {
		return c, nil
	}
	return Contender{}, fmt.Errorf("unknown client %q (gokafka@REF names the gokafka client on the library at commit REF)", name)
}

// supports says whether c can run w at all: ProducerPerformance has
// neither keys nor concurrent synchronous senders.
func (c Contender) supports(w Workload) bool {
	return !c.Java || (w.KeySize == 0 && w.Senders == 0)
}

// plainName is c's name as a file or topic name may hold it: a name at a
// ref (gokafka@origin/main) has characters neither takes, which become '_'.
func (c Contender) plainName() string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, c.Name)
}

// build compiles a Go contender into dir and returns the binary's path.
func (c Contender) build(ctx context.Context, moduleDir, dir string) (string, error) {
	out := filepath.Join(dir, c.plainName())
	args := []string{"build", "-o", out}
	if c.Tags != "" {
		args = append(args, "-tags", c.Tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, c.Package)...)
	cmd.Dir = moduleDir
	if c.Ref != "" {
		work, err := c.workspaceAt(ctx, moduleDir, dir)
		if err != nil {
			return "", err
		}
		cmd.Env = append(os.Environ(), "GOWORK="+work)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		needs := ""
		if c.Needs != "" {
			needs = " (it needs " + c.Needs + ")"
		}
		return "", fmt.Errorf("building %s%s: %w\n%s", c.Name, needs, err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// measured is one client process's outcome.
type measured struct {
	result driver.Result
	cpu    time.Duration
	// peakRSS is the process's own peak RSS in bytes (peakOf).
	peakRSS int64
	// requests is the client's own count of requests, -1 if unknown.
	requests int64
}

// peakOf is a client process's peak RSS: its own, where it reported it
// (the Go driver's VmHWM, driver.PeakRSS) or the harness sampled it (the
// JVM's, sampledPeak), else the rusage maxrss, which on Linux starts at
// the harness's own peak (driver.PeakRSS says why).
func peakOf(own, maxRSS int64) int64 {
	if own > 0 {
		return own
	}
	return maxRSS
}

// runProcess runs cmd to its end and collects its rusage, its stdout and,
// on failure, the end of its stderr.
func runProcess(cmd *exec.Cmd) (stdout []byte, cpu time.Duration, rss int64, err error) {
	return runSampling(cmd, false)
}

// runSampling is runProcess that, with samplePeak, reads the process's
// peak RSS while it runs (sampledPeak) and returns it in place of the
// maxrss, where it could read it.
func runSampling(cmd *exec.Cmd, samplePeak bool) (stdout []byte, cpu time.Duration, rss int64, err error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Start()
	if runErr == nil {
		stopSampling := func() int64 { return 0 }
		if samplePeak {
			stopSampling = sampledPeak(cmd.Process.Pid)
		}
		runErr = cmd.Wait()
		rss = stopSampling()
	}
	if cmd.ProcessState != nil {
		var maxRSS int64
		cpu, maxRSS, err = usageOf(cmd.ProcessState)
		rss = peakOf(rss, maxRSS)
	}
	if runErr != nil {
		tail := errOut.Bytes()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return nil, 0, 0, fmt.Errorf("%w: %s", runErr, bytes.TrimSpace(tail))
	}
	return out.Bytes(), cpu, rss, err
}

// runGo runs a Go contender's binary for one run.
func runGo(ctx context.Context, binary string, s driver.Settings) (measured, error) {
	return runGoWith(ctx, binary, s, nil, "")
}

// runGoWith runs a Go contender's binary for one run with env added to
// the race's environment and, when wrapper is set, as the last argument
// of the wrapper command and its arguments (instructions.go's callgrind).
func runGoWith(ctx context.Context, binary string, s driver.Settings, env []string, wrapper string, args ...string) (measured, error) {
	text, err := s.Encode()
	if err != nil {
		return measured{}, err
	}
	cmd := exec.CommandContext(ctx, binary, "-settings", text)
	if wrapper != "" {
		cmd = exec.CommandContext(ctx, wrapper, append(args, binary, "-settings", text)...)
	}
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, cpu, rss, err := runProcess(cmd)
	if err != nil {
		return measured{}, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(line, driver.ResultPrefix); ok {
			var r driver.Result
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				return measured{}, fmt.Errorf("reading the result: %w", err)
			}
			return measured{result: r, cpu: cpu, peakRSS: peakOf(r.PeakRSS, rss), requests: -1}, nil
		}
	}
	return measured{}, fmt.Errorf("no %s line in the output", driver.ResultPrefix)
}

// writePayloads writes the Java producer's payload file into dir.
func writePayloads(dir string) (string, error) {
	path := filepath.Join(dir, "payloads.txt")
	return path, os.WriteFile(path, driver.PayloadLines(driver.RingSize, valueSize), 0o644)
}
