package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gokafka/producer/compression"
)

// The Java names at the edges of what they take. Each setting was checked
// with a value well inside its range, so that a bound moved by one (a
// count of 0 read as Config's "the default", a millisecond refused where
// the error itself suggests it) passed every test.

// A size or count of 0 is refused, not left to Config, which would read it
// as "the default": max.request.size=0 ran with 1 MiB requests.
func TestAZeroSizeOrCountSettingIsRefused(t *testing.T) {
	for _, name := range []string{"buffer.memory", "max.request.size", "max.in.flight.requests.per.connection"} {
		_, _, err := resolve(t, "-X", name+"=0")
		if want := "-X " + name + ": 0 is less than 1"; err == nil || err.Error() != want {
			t.Errorf("%s=0: %v, want %q", name, err, want)
		}
	}
}

// The largest int32 is the largest count an int holds on every platform:
// it is taken, one more is not.
func TestACountSettingTakesUpToTheLargestInt32(t *testing.T) {
	cfg, _, err := resolve(t, "-X", "max.request.size=2147483647")
	if err != nil || cfg.MaxRequestSize != 2147483647 {
		t.Errorf("max.request.size=2147483647: %d, %v; want it taken", cfg.MaxRequestSize, err)
	}
	_, _, err = resolve(t, "-X", "max.request.size=2147483648")
	if want := "-X max.request.size: 2147483648 is too large"; err == nil || err.Error() != want {
		t.Errorf("max.request.size=2147483648: %v, want %q", err, want)
	}
}

// A *.ms setting whose least is 1 takes 1 (max.block.ms=0's error offers
// it) and refuses 0.
func TestAMillisecondSettingTakesItsLeast(t *testing.T) {
	for _, name := range []string{"request.timeout.ms", "max.block.ms", "retry.backoff.ms"} {
		if _, _, err := resolve(t, "-X", name+"=1"); err != nil {
			t.Errorf("%s=1: %v, want it taken", name, err)
		}
	}
	_, _, err := resolve(t, "-X", "request.timeout.ms=0")
	if want := "-X request.timeout.ms: 0 is less than 1"; err == nil || err.Error() != want {
		t.Errorf("request.timeout.ms=0: %v, want %q", err, want)
	}
}

// Java's gzip default, -1, is taken as the default level; no other
// negative level is a gzip level.
func TestGzipLevelMinusOneIsTheDefault(t *testing.T) {
	cfg, _, err := resolve(t, "-X", "compression.type=gzip", "-X", "compression.gzip.level=-1")
	if err != nil || cfg.CompressionLevel != compression.DefaultLevel {
		t.Errorf("compression.gzip.level=-1: level %d, %v; want the default, %d", cfg.CompressionLevel, err, compression.DefaultLevel)
	}
	_, _, err = resolve(t, "-X", "compression.type=gzip", "-X", "compression.gzip.level=-2")
	if err == nil || !strings.HasPrefix(err.Error(), "-X compression.gzip.level: ") {
		t.Errorf("compression.gzip.level=-2: %v, want it refused", err)
	}
}

// -X takes the name as kafka-console-producer's --producer-property does,
// blanks around it dropped.
func TestASettingsNameIsTrimmed(t *testing.T) {
	cfg, src, err := resolve(t, "-X", " linger.ms =7")
	if err != nil || cfg.Linger != 7*time.Millisecond || src["Linger"] != "-X linger.ms" {
		t.Errorf(`-X " linger.ms =7": Linger %v from %q (%v), want 7ms from -X linger.ms`, cfg.Linger, src["Linger"], err)
	}
}
