package driver

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestParseVmHWM(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   int64
		err    string
	}{
		{status: "Name:\tfloor\nVmPeak:\t 1234 kB\nVmHWM:\t    7168 kB\nVmRSS:\t 6000 kB\n", want: 7 << 20},
		{status: "VmHWM: 12 kB", want: 12 << 10},
		// A process exited and not yet waited for: its memory map is gone.
		{status: "Name:\tjava\nState:\tZ (zombie)\n", err: "no VmHWM line"},
		{status: "VmHWM:\t12 MB\n", err: "not in kB"},
		{status: "VmHWM:\tlots kB\n", err: "invalid syntax"},
	} {
		got, err := ParseVmHWM([]byte(tc.status))
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseVmHWM(%q) = %d, %v; want %d", tc.status, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseVmHWM(%q) = %d, %v; want an error saying %q", tc.status, got, err, tc.err)
		}
	}
}

// TestMainReportsItsOwnPeakRSS: the result carries the process's own peak
// RSS, which the harness prefers to the rusage maxrss, a peak that on
// Linux starts at the harness's own.
func TestMainReportsItsOwnPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	s := settings()
	text, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	open := func(Settings) (Client, []string, error) { return &fakeClient{}, nil, nil }
	var stdout strings.Builder
	if err := run([]string{"-settings", text}, &stdout, "fake", "v0", open); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(stdout.String(), ResultPrefix))), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout.String())
	}
	own, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if res.PeakRSS <= 0 || res.PeakRSS > own {
		t.Errorf("the result's peak RSS is %d bytes, the process's is %d", res.PeakRSS, own)
	}
}
