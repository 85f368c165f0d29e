package clock

import (
	"testing"
	"time"
)

func TestRealUnixMilliIsTheWallClock(t *testing.T) {
	before := time.Now().UnixMilli()
	got := Real{}.UnixMilli()
	after := time.Now().UnixMilli()
	if got < before || got > after {
		t.Fatalf("Real.UnixMilli() = %d, want within [%d, %d], time.Now's readings around it", got, before, after)
	}
}

func TestFakeUnixMilliFollowsAdvance(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_123)
	f := NewFake(start)
	if got := f.UnixMilli(); got != start.UnixMilli() {
		t.Fatalf("UnixMilli() = %d, want %d", got, start.UnixMilli())
	}
	f.Advance(1500 * time.Millisecond)
	if got, want := f.UnixMilli(), start.UnixMilli()+1500; got != want {
		t.Fatalf("after Advance(1.5s): UnixMilli() = %d, want %d", got, want)
	}
}

func BenchmarkRealUnixMilli(b *testing.B) {
	for b.Loop() {
		_ = Real{}.UnixMilli()
	}
}

func BenchmarkTimeNowUnixMilli(b *testing.B) {
	for b.Loop() {
		_ = time.Now().UnixMilli()
	}
}
