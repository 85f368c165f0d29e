package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// A key pool of exactly the bytes kprod makes up front is made; one key
// more is refused.
func TestAKeyPoolOfTheLimitItselfIsMade(t *testing.T) {
	// Each key takes its bytes and its slice's header.
	const perKey = 1024
	keySize := perKey - int(unsafe.Sizeof([]byte(nil)))
	pool := maxKeyPoolBytes / perKey
	if _, err := parsePerf(t, "--key-size", strconv.Itoa(keySize), "--key-pool", strconv.Itoa(pool)); err != nil {
		t.Errorf("a pool of %d MiB: %v", maxKeyPoolBytes>>20, err)
	}
	if _, err := parsePerf(t, "--key-size", strconv.Itoa(keySize), "--key-pool", strconv.Itoa(pool+1)); err == nil {
		t.Errorf("a pool one key past %d MiB was taken", maxKeyPoolBytes>>20)
	}
}

// The values of a --payload file are the file's, whatever --record-size's
// default: a limit too small for 100-byte values was refused for a value
// the run never makes.
func TestAPayloadFilesValuesAreNotHeldToTheRecordSize(t *testing.T) {
	file := filepath.Join(t.TempDir(), "payloads")
	if err := os.WriteFile(file, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parsePerf(t, "--payload", file, "--max-request-size", "100", "--batch-size", "100"); err != nil {
		t.Errorf("2-byte payloads in requests of at most 100 bytes: %v", err)
	}
}

// A key pool or a number of goroutines too large to make is refused before
// anything is made: --key-pool 1000000000 --key-size 16 made its 40 GB of
// keys, and --concurrency 100000000 its meter shards, until the runtime ran
// out of memory (exit status 2, as a usage error, with a goroutine dump).
// Only validate runs here, so nothing is allocated either way.
func TestKeyPoolsAndGoroutinesTooLargeToMakeAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--key-size", "16", "--key-pool", "1000000000", "--num-records", "10"},
			"--key-pool: 1000000000 keys of --key-size 16 take 38146 MiB, more than the 1024 MiB kprod makes up front (--key-pool 0 makes a fresh key for each record)"},
		{[]string{"--key-size", "1", "--key-pool", "100000000"}, "--key-pool: 100000000 keys of --key-size 1 take 2384 MiB"},
		{[]string{"--key-size", "16", "--key-pool", "9223372036854775807"}, "--key-pool: 9223372036854775807 keys of --key-size 16 take over 8 EiB, more than"},
		{[]string{"--concurrency", "100000000"}, "--concurrency: 100000000 is more than 10000"},
	} {
		_, err := parsePerf(t, tc.args...)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a usage error starting %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	// Without keys, a pool means nothing and is refused for that, whatever
	// its size.
	if _, err := parsePerf(t, "--key-pool", "1000000000"); err == nil || err.Error() != "--key-pool: needs --key-size" {
		t.Errorf("--key-pool 1000000000 without --key-size: %v, want it to need --key-size", err)
	}
	if _, err := parsePerf(t, "--key-size", "16", "--key-pool", "1000000"); err != nil {
		t.Errorf("a pool of a million 16-byte keys: %v", err)
	}
}

// Goroutines beyond the records would produce none: there are no more than
// --num-records, which paces the same records at the same times.
func TestConcurrencyIsCappedAtTheNumberOfRecords(t *testing.T) {
	o, err := parsePerf(t, "--concurrency", "50", "--num-records", "10", "--throughput", "2e-9")
	if err != nil || o.concurrency != 10 {
		t.Fatalf("--concurrency 50 --num-records 10: %d goroutines, %v; want 10", o.concurrency, err)
	}
}
