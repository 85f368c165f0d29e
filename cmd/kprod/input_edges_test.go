package main

import (
	"strings"
	"testing"

	producer "github.com/gokafka/producer"
)

// The record format at its edges.

// A \xHH escape may end the flag's value: -D '\x1e', the ASCII record
// separator, is a delimiter of its own.
func TestAHexEscapeAtTheEndIsRead(t *testing.T) {
	for in, want := range map[string]string{`\x1e`: "\x1e", `a\x41`: "aA", `\x00\xff`: "\x00\xff"} {
		got, err := unescape(in)
		if err != nil || string(got) != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Only a newline delimiter makes lines whose CRLF end drops the '\r': with
// any other delimiter, even one ending in a newline, a '\r' before it is
// the record's.
func TestACarriageReturnIsDroppedBeforeANewlineDelimiterOnly(t *testing.T) {
	for _, tc := range []struct {
		delimiter, want string
	}{
		{`\n`, "'v'"},
		{`;\n`, "'v\r'"},
		{`\r\n`, "'v\r'"},
		{`;`, "'v\r'"},
	} {
		f := format(t, textOptions{delimiter: tc.delimiter})
		var r producer.Record
		if err := f.parse([]byte("v\r"), &r); err != nil || show(r.Value) != tc.want {
			t.Errorf("-D %s: value %q (%v), want %q", tc.delimiter, show(r.Value), err, tc.want)
		}
	}
}

// An error quotes a text of 32 bytes whole; from 33, its first 32 and its
// length.
func TestAnExcerptQuotesUpTo32BytesWhole(t *testing.T) {
	whole := strings.Repeat("x", 32)
	if got := excerpt([]byte(whole)); got != `"`+whole+`"` {
		t.Errorf("excerpt of 32 bytes: %s, want it whole", got)
	}
	if got, want := excerpt([]byte(whole+"y")), `"`+whole+`"... (33 bytes)`; got != want {
		t.Errorf("excerpt of 33 bytes: %s, want %s", got, want)
	}
}
