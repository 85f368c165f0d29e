package race

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer/bench/driver"
)

// TestReadBackLeavesTheHarnessPeakRSSAlone: every client the harness
// starts inherits the harness's peak RSS as its own (readback.go), so
// reading back a topic of 32 MiB of values must not raise that peak; the
// read-back, run in a process of its own, still tells a topic as sent from
// one that lost a value and holds another twice.
func TestReadBackLeavesTheHarnessPeakRSSAlone(t *testing.T) {
	resetPeakRSS(t)
	ctx, moduleDir := raceSetup(t)
	dir := t.TempDir()
	brokerBinary, err := Contender{Name: "racebroker", Package: "./cmd/racebroker"}.build(ctx, moduleDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	readBackBinary, err := Contender{Name: "racereadback", Package: "./cmd/racereadback"}.build(ctx, moduleDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	broker, err := startEmbedded(ctx, brokerBinary)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = stopEmbedded(broker) }()

	// One record of each value: the warm-up's and RingSize-1 more.
	s := driver.Settings{Records: driver.RingSize - 1, ValueSize: 2048}
	req := readBackRequest{Brokers: broker.Addrs, Topic: "read-back", ValueSize: s.ValueSize, Sent: driver.ValueCounts(s)}
	produceEachValueOnce(ctx, t, req)
	// What producing took is the test's, not the read-back's.
	runtime.GC()
	debug.FreeOSMemory()
	before := resetPeakRSS(t)

	if err := readBack(ctx, readBackBinary, req); err != nil {
		t.Fatalf("the topic as sent: %v", err)
	}
	const allowed = 8 << 20
	if grown := peakRSS(t) - before; grown > allowed {
		t.Errorf("reading 32 MiB of values back raised the harness's peak RSS by %d MiB, want at most %d", grown>>20, allowed>>20)
	}

	lostAndTwice := req
	lostAndTwice.Sent = append([]int(nil), req.Sent...)
	lostAndTwice.Sent[0], lostAndTwice.Sent[1] = 2, 0
	err = readBack(ctx, readBackBinary, lostAndTwice)
	if err == nil || !strings.Contains(err.Error(), "value 0 held 1 times, sent 2") {
		t.Errorf("a topic read as one value lost and another twice: %v, want value 0 named", err)
	}
}

// produceEachValueOnce writes each of the driver's values of
// req.ValueSize to a fresh topic req.Topic.
func produceEachValueOnce(ctx context.Context, t *testing.T, req readBackRequest) {
	t.Helper()
	adm, err := newAdmin(req.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.close()
	if err := adm.createTopic(ctx, req.Topic, partitions); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(req.Brokers...), kgo.DefaultProduceTopic(req.Topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range driver.Values(req.ValueSize) {
		cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("producing: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// resetPeakRSS resets the test process's peak RSS (VmHWM) to its current
// RSS, which it returns in bytes; it skips the test where Linux's
// /proc/self/clear_refs cannot.
func resetPeakRSS(t *testing.T) int64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	return procStatusBytes(t, "VmHWM:")
}

// peakRSS is the test process's peak RSS (VmHWM) in bytes.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	return procStatusBytes(t, "VmHWM:")
}

// procStatusBytes reads a line of /proc/self/status counted in kB.
func procStatusBytes(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status %s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/self/status has no %s", field)
	return 0
}
