package race

import (
	"os/exec"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPeakOfPrefersTheProcesssOwn(t *testing.T) {
	if got := peakOf(7<<20, 16<<20); got != 7<<20 {
		t.Errorf("peakOf(7 MiB reported, 16 MiB maxrss) = %d MiB, want the reported 7", got>>20)
	}
	if got := peakOf(0, 16<<20); got != 16<<20 {
		t.Errorf("peakOf(none reported, 16 MiB maxrss) = %d MiB, want the maxrss", got>>20)
	}
}

// TestSampledPeakIsTheChildsOwn: a child's rusage maxrss starts at the
// harness's peak (driver.PeakRSS says why); the peak sampled while it runs
// is its own. The test raises its own peak by 200 MiB and frees it, then
// runs a child that holds a few MiB for a moment.
func TestSampledPeakIsTheChildsOwn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	big := make([]byte, 200<<20)
	for i := range big {
		big[i] = 1
	}
	runtime.KeepAlive(big)
	big = nil
	runtime.GC()
	debug.FreeOSMemory()

	// The child's lifetime, not a wait for something: sampled from its
	// start, a child that exits at once reads as well.
	_, _, maxRSS, err := runProcess(exec.Command(sleep, "0.2"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, sampled, err := runSampling(exec.Command(sleep, "0.2"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sleep's peak RSS: %d KiB sampled, %d KiB by its maxrss", sampled>>10, maxRSS>>10)
	if sampled <= 0 || sampled > 50<<20 {
		t.Errorf("sampled peak RSS %d KiB, want the child's own few MiB", sampled>>10)
	}
}
