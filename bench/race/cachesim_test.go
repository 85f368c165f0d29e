package race

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseCacheSize takes bytes or binary units, and only the powers of
// two that callgrind can simulate as a 16-way cache of 64-byte lines.
func TestParseCacheSize(t *testing.T) {
	for in, want := range map[string]int64{
		"16MiB":  16 << 20,
		"16 MiB": 16 << 20,
		"512KiB": 512 << 10,
		"64KiB":  64 << 10,
		"1GiB":   1 << 30,
		"65536":  65536,
	} {
		got, err := ParseCacheSize(in)
		if err != nil || got != want {
			t.Errorf("ParseCacheSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-16MiB", "24MiB", "32KiB", "2GiB", "16MB", "1.5MiB", "MiB", "9223372036854775807GiB"} {
		if got, err := ParseCacheSize(in); err == nil {
			t.Errorf("ParseCacheSize(%q) = %d, want an error", in, got)
		}
	}
	for size, want := range map[int64]string{16 << 20: "16 MiB", 512 << 10: "512 KiB", 1 << 30: "1 GiB", 1536: "1536 bytes"} {
		if got := FormatCacheSize(size); got != want {
			t.Errorf("FormatCacheSize(%d) = %q, want %q", size, got, want)
		}
	}
}

// TestRaceRefusesABadCache: a simulated cache needs the instruction count,
// and a size callgrind can simulate; both are refused before any run.
func TestRaceRefusesABadCache(t *testing.T) {
	w, err := WorkloadByName("senders")
	if err != nil {
		t.Fatal(err)
	}
	base := Options{Clients: contendersNamed(t, Floor), Workloads: []Workload{w}, Rounds: 1, Records: 100, LatencyRecords: 10,
		ModuleDir: t.TempDir(), WorkDir: t.TempDir()}
	for name, change := range map[string]func(*Options){
		"without instructions": func(o *Options) { o.CacheSize = 16 << 20 },
		"not a power of two":   func(o *Options) { o.Instructions, o.CacheSize = true, 24<<20 },
	} {
		o := base
		change(&o)
		if res, err := Race(context.Background(), o); err == nil || res != nil {
			t.Errorf("%s: %v, %v: want an error and no results", name, res, err)
		}
	}
}

// TestReportCacheMisses renders a race that simulated a cache beside one
// that only counted: each keeps its results file and its section, the
// counted one first, and the cache's section has the misses by client and
// an account of its method of its own.
func TestReportCacheMisses(t *testing.T) {
	out := t.TempDir()
	counted := func(cache int64) *Results {
		r := &Results{Broker: "embedded", Instructions: true, CacheSize: cache, Started: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC),
			Rounds: 3, Records: 400000, Latency: 2000, Clients: []string{ours, Baseline, Floor}, Workloads: []string{"senders", "senders5k"}}
		for round := 1; round <= 3; round++ {
			for i, client := range r.Clients {
				for j, w := range r.Workloads {
					run := Run{Round: round, Workload: w, Client: client, Records: 400000, Instructions: float64(2000 + 1000*i)}
					if cache != 0 {
						// Rounds 1, 2, 3 have 1, 2, 3 times the base: the
						// medians are the second round's.
						run.CacheReadMisses = float64(round) * float64(1+i+10*j)
						run.CacheWriteMisses = float64(round) * float64(2+i+10*j)
					}
					r.Runs = append(r.Runs, run)
				}
			}
		}
		return r
	}
	if err := WriteResults(filepath.Join(out, "results"), counted(16<<20)); err != nil {
		t.Fatal(err)
	}
	md := render(t, counted(0), out)
	for _, name := range []string{"embedded-instructions.json", "embedded-cache-16MiB.json"} {
		if _, err := os.Stat(filepath.Join(out, "results", name)); err != nil {
			t.Errorf("results/%s: %v", name, err)
		}
	}
	plain := strings.Index(md, "## Instructions per record on the embedded broker")
	cache := strings.Index(md, "## Instructions and cache misses per record on the embedded broker, 16 MiB cache")
	if plain < 0 || cache < plain {
		t.Fatalf("want the counted race, then the simulated cache's; at %d, %d:\n%s", plain, cache, md)
	}
	for _, want := range []string{
		"`valgrind --tool=callgrind --cache-sim=yes --LL=16777216,16,64`",
		"| workload | gokafka | franz-go | floor |",
		"| 1,000 synchronous senders | 2.0 + 4.0 | 4.0 + 6.0 | 6.0 + 8.0 |",
		"| 5,000 synchronous senders | 22.0 + 24.0 | 24.0 + 26.0 | 26.0 + 28.0 |",
	} {
		if !strings.Contains(md[cache:], want) {
			t.Errorf("the cache's section lacks %q:\n%s", want, md[cache:])
		}
	}
	if !strings.Contains(md[cache:], "; 3 rounds; 400000 records") || roundsOf(&Results{Rounds: 1}) != "1 round" {
		t.Errorf("rounds miscounted: %q, and one round as %q", md[cache:cache+200], roundsOf(&Results{Rounds: 1}))
	}
	if strings.Contains(md[cache:], "is built to cost least") {
		t.Errorf("the cache's section repeats the counted race's account of its method:\n%s", md[cache:])
	}
	if strings.Contains(md[plain:cache], "Misses per record") {
		t.Errorf("the counted race's section reports cache misses:\n%s", md[plain:cache])
	}
}

// TestRaceSimulatesCache counts the floor's cache misses through the whole
// harness, with a cache smaller than what a thousand senders touch, so
// that every round misses. Like TestRaceCountsInstructions it skips where
// valgrind is not installed, but not in CI.
func TestRaceSimulatesCache(t *testing.T) {
	res, log := countSenders(t, 8000, 64<<10, Floor)
	if res.CacheSize != 64<<10 || len(res.Runs) != 1 {
		t.Fatalf("cache %d, %d runs, want 64 KiB and 1:\n%s", res.CacheSize, len(res.Runs), log)
	}
	r := res.Runs[0]
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	// A thousand goroutines, each with its own stack and channel, take
	// turns: in 64 KiB, what a turn touches is gone by the goroutine's
	// next, some lines of it at least, and a record cannot miss more
	// lines than it has instructions.
	t.Logf("floor: %.0f instructions, %.1f + %.1f misses a record", r.Instructions, r.CacheReadMisses, r.CacheWriteMisses)
	if r.CacheReadMisses < 1 || r.CacheWriteMisses < 1 || r.CacheReadMisses+r.CacheWriteMisses > r.Instructions {
		t.Errorf("floor: %.1f + %.1f misses for %.0f instructions a record", r.CacheReadMisses, r.CacheWriteMisses, r.Instructions)
	}
	if !strings.Contains(log, "cache misses/record") {
		t.Errorf("the log does not show the misses:\n%s", log)
	}
}

// A count of misses per record a hair below zero, as the difference of two
// runs can be, prints as 0.0 in the report, not -0.0.
func TestCacheMissesNeverPrintMinusZero(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{-0.04, "0.0"}, {math.Copysign(0, -1), "0.0"}, {0.04, "0.0"}, {0.06, "0.1"}, {-0.06, "-0.1"}, {19.14, "19.1"}} {
		if got := fmt.Sprintf("%.1f", noMinusZero(c.v)); got != c.want {
			t.Errorf("%v prints as %q, want %q", c.v, got, c.want)
		}
	}
}
