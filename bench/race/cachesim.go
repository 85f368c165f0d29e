package race

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// This file is the -cache-sim option of the -instructions mode. Counted
// instructions cannot show time spent waiting for memory; callgrind's
// cache simulation shows where it goes. With thousands of synchronous
// senders taking turns, what a client touches between one goroutine's
// turn and its next (every goroutine's stack, channel and record) can
// outgrow the last-level cache: then each turn's memory misses, and the
// same instructions take longer. Run with the cache of the machine at
// hand, the misses per record tell a client that fits from one that does
// not; run with several sizes, they tell how much memory a client's turns
// touch.
//
// The simulation is of one thread (callgrind runs one at a time) and of
// this process alone: the broker, the kernel's socket buffers and other
// processes take their share of a real cache too.

// cacheWays is the simulated last-level cache's associativity. callgrind
// needs a power-of-two number of sets, so with 64-byte lines the size
// must be a power of two.
const (
	cacheWays = 16
	cacheLine = 64
)

// cacheSimArgs are callgrind's arguments to simulate a last-level cache of
// size bytes; the first-level caches are the machine's, as callgrind
// finds them.
func cacheSimArgs(size int64) []string {
	return []string{"--cache-sim=yes", fmt.Sprintf("--LL=%d,%d,%d", size, cacheWays, cacheLine)}
}

// Bounds of a simulated cache size: at 64 KiB a 16-way cache has 64 sets;
// 1 GiB is far beyond any last-level cache.
const (
	minCacheSize = 64 << 10
	maxCacheSize = 1 << 30
)

// checkCacheSize says why size cannot be simulated, if it cannot.
func checkCacheSize(size int64) error {
	if size < minCacheSize || size > maxCacheSize || bits.OnesCount64(uint64(size)) != 1 {
		return fmt.Errorf("a simulated cache's size must be a power of two from %s to %s, not %d bytes",
			FormatCacheSize(minCacheSize), FormatCacheSize(maxCacheSize), size)
	}
	return nil
}

// ParseCacheSize reads a simulated cache's size: bytes, or a number of
// KiB, MiB or GiB ("512KiB", "16MiB"). It must be a power of two from
// 64 KiB to 1 GiB.
func ParseCacheSize(s string) (int64, error) {
	number, shift := strings.TrimSpace(s), 0
	for _, unit := range []struct {
		suffix string
		shift  int
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}} {
		if n, ok := strings.CutSuffix(number, unit.suffix); ok {
			number, shift = strings.TrimSpace(n), unit.shift
			break
		}
	}
	n, err := strconv.ParseInt(number, 10, 64)
	if err != nil || n <= 0 || n > maxCacheSize>>shift {
		return 0, fmt.Errorf("cache size %q: want bytes or a number of KiB, MiB or GiB, like 16MiB", s)
	}
	size := n << shift
	if err := checkCacheSize(size); err != nil {
		return 0, fmt.Errorf("cache size %q: %w", s, err)
	}
	return size, nil
}

// FormatCacheSize writes a size in the largest binary unit that divides
// it: "16 MiB", "512 KiB".
func FormatCacheSize(size int64) string {
	for _, unit := range []struct {
		name  string
		shift int
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if size >= 1<<unit.shift && size%(1<<unit.shift) == 0 {
			return fmt.Sprintf("%d %s", size>>unit.shift, unit.name)
		}
	}
	return fmt.Sprintf("%d bytes", size)
}

// writeCacheMethod says how a race with a simulated cache counted.
func writeCacheMethod(md *strings.Builder, r *Results) {
	fmt.Fprintf(md, "Each Go client ran under `valgrind --tool=callgrind --cache-sim=yes --LL=%d,%d,%d`, with `GOMAXPROCS=1` (callgrind runs one thread at a time) and the runtime's asynchronous preemption off, as in a race that counts instructions alone: ",
		r.CacheSize, cacheWays, cacheLine)
	fmt.Fprintf(md, "besides the instructions, it counted the data reads and writes that missed a simulated last-level cache of %s (%d-way, %d-byte lines; the first-level caches are this machine's), and a record's cost is the difference between the two runs over the difference in records. ",
		FormatCacheSize(r.CacheSize), cacheWays, cacheLine)
	md.WriteString("A read that misses holds up the instructions that need it until memory answers; a write that misses mostly waits in the core's store buffer. ")
	md.WriteString("The simulation is of the client process alone: the broker, the kernel's socket buffers and other processes share a real cache too.\n\n")
}

// writeCacheMisses reports the simulated cache's misses per record.
func writeCacheMisses(md *strings.Builder, r *Results) {
	fmt.Fprintf(md, "Misses per record in the simulated %s cache, reads + writes (medians of rounds):\n\n", FormatCacheSize(r.CacheSize))
	writeGrid(md, r, r.Workloads, func(workload, client string) string {
		reads, runs, _ := medianOf(r, workload, client, func(run Run) float64 { return run.CacheReadMisses })
		writes, _, _ := medianOf(r, workload, client, func(run Run) float64 { return run.CacheWriteMisses })
		if runs == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f + %.1f", noMinusZero(reads), noMinusZero(writes))
	})
}

// noMinusZero is v, or 0 when v prints as zero to a tenth. A count of
// misses per record is the difference between two runs' counts over the
// difference in records, and with no misses to speak of it can come out a
// hair below zero, which printed as "-0.0".
func noMinusZero(v float64) float64 {
	if math.Abs(v) < 0.05 {
		return 0
	}
	return v
}
