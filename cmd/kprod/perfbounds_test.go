package main

import (
	"os"
	"path/filepath"
	"strconv"
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
