package integration

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// sameBytes asserts that got is want, telling nil (null on the wire) from
// empty, which assert.Equal does not, and reports whether it is.
func sameBytes(t *testing.T, want, got []byte, what string) bool {
	t.Helper()
	switch {
	case want == nil:
		return assert.Nil(t, got, "%s must be null", what)
	case got == nil:
		return assert.Fail(t, "null instead of bytes", "%s is null, want %d bytes %q", what, len(want), shortBytes(want))
	default:
		return assert.True(t, bytes.Equal(want, got), "%s is %d bytes %q, want %d bytes %q",
			what, len(got), shortBytes(got), len(want), shortBytes(want))
	}
}

// sameRecordBytes reports whether two values are equal, nil apart from
// empty: sameBytes without the test to tell.
func sameRecordBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// shortBytes is b's first 64 bytes, enough to tell values apart in a
// failure message.
func shortBytes(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
