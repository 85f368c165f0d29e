package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	producer "github.com/gokafka/producer"
)

func TestReadRecords(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	for _, tc := range []struct {
		in, delim string
		want      []string
	}{
		{"", "\n", nil},
		{"a", "\n", []string{"a"}},
		{"a\n", "\n", []string{"a"}},
		{"a\n\nb\n", "\n", []string{"a", "", "b"}},
		{"a\r\n", "\n", []string{"a\r"}},
		{long + "\nshort", "\n", []string{long, "short"}},
		{"a\x00b\x00", "\x00", []string{"a", "b"}},
		{"one--two-three--", "--", []string{"one", "two-three"}},
		{"a-b", "--", []string{"a-b"}},
		{long + "-" + long + "--z", "--", []string{long + "-" + long, "z"}},
		{"line one\nline two\n", "\n\n", []string{"line one\nline two\n"}},
	} {
		var got []string
		if err := readRecords(strings.NewReader(tc.in), []byte(tc.delim), func(r []byte) bool {
			got = append(got, string(r))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("readRecords(%.20q, %q) = %d records %.40q, want %d", tc.in, tc.delim, len(got), got, len(tc.want))
		}
	}
}

// A read error in the middle of a record ends the reading with the error:
// the bytes before it are not a record, and are not produced.
func TestReadRecordsStopsAtAReadError(t *testing.T) {
	eio := errors.New("input/output error")
	r := io.MultiReader(strings.NewReader("one\ntwo\nthr"), iotest.ErrReader(eio))
	var got []string
	err := readRecords(r, []byte("\n"), func(b []byte) bool { got = append(got, string(b)); return true })
	if !errors.Is(err, eio) {
		t.Fatalf("readRecords returned %v, want the read error", err)
	}
	if strings.Join(got, "|") != "one|two" {
		t.Fatalf("records %q, want the two whole ones before the error", got)
	}
}

// readShapes are the ways a fuzz target's reader hands over its input:
// whole, a byte at a time, half of what is asked, EOF with the last data.
var readShapes = []func(io.Reader) io.Reader{
	func(r io.Reader) io.Reader { return r },
	iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader,
}

// FuzzReadRecords checks that readRecords splits its input as bytes.Split
// does at the delimiter, whatever the delimiter (its last byte in the middle
// of a record, or parts of it repeated), the records' lengths (repeat makes
// them pass the 64 KiB buffer, where a record is read in pieces) and how the
// reads come (how: whole, a byte at a time, half, EOF with the last data).
// A trailing delimiter adds no empty record. An input that ends in a read
// error (how's bit 2) yields the records whose delimiter came before it,
// then the error: kprod would otherwise produce a truncated record.
func FuzzReadRecords(f *testing.F) {
	f.Add([]byte("\n"), []byte("a\nb\n"), uint16(0), byte(0))
	f.Add([]byte("\r\n"), []byte("a\r\nb\rc\n\r\n"), uint16(0), byte(1))
	f.Add([]byte("aa"), []byte("aaa"), uint16(0), byte(2))
	f.Add([]byte("aba"), []byte("ababa-ab"), uint16(0), byte(3|4))
	f.Add([]byte("xy"), []byte("0123456789x"), uint16(7000), byte(0))
	eio := errors.New("input/output error")
	f.Fuzz(func(t *testing.T, delim, body []byte, repeat uint16, how byte) {
		if len(delim) == 0 || len(delim) > 8 {
			return // kprod's delimiters are a few bytes
		}
		in := body
		if repeat > 0 && len(body) > 0 {
			in = bytes.Repeat(body, 1+int(repeat)%(200<<10/len(body)))
		}
		r := readShapes[how%4](bytes.NewReader(in))
		want := bytes.Split(in, delim)
		failed := how&4 != 0
		if failed {
			r = io.MultiReader(r, iotest.ErrReader(eio))
			want = want[:len(want)-1] // cut short by the error
		} else if len(want[len(want)-1]) == 0 {
			want = want[:len(want)-1]
		}
		var got [][]byte
		err := readRecords(r, delim, func(rec []byte) bool {
			got = append(got, bytes.Clone(rec))
			return true
		})
		if failed && !errors.Is(err, eio) || !failed && err != nil {
			t.Fatalf("delimiter %q, %d bytes, read error %v: readRecords returned %v", delim, len(in), failed, err)
		}
		if len(got) != len(want) {
			t.Fatalf("delimiter %q, %d bytes: %d records, want %d", delim, len(in), len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("delimiter %q, %d bytes: record %d is %.40q (%d bytes), want %.40q (%d bytes)",
					delim, len(in), i, got[i], len(got[i]), want[i], len(want[i]))
			}
		}
	})
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`\n`: "\n", `a\tb`: "a\tb", `\0`: "\x00", `\x1f\\`: "\x1f\\", `::`: "::", ``: ``} {
		got, err := unescape(in)
		if err != nil || string(got) != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\`, `\q`, `\x4`, `\xzz`} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) accepted", bad)
		}
	}
}

// withDefaults gives o the defaults of the flags it leaves empty, as the
// tests' tables leave them.
func withDefaults(o textOptions) textOptions {
	if o.delimiter == "" {
		o.delimiter = `\n`
	}
	if o.headersDelimiter == "" {
		o.headersDelimiter, o.headersSeparator, o.headersKeySeparator = `\t`, ",", ":"
	}
	return o
}

// format builds a lineFormat from flags as a user would write them.
func format(t *testing.T, o textOptions) *lineFormat {
	t.Helper()
	o = withDefaults(o)
	f, err := o.format()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// show is a key or value as the tests compare it: null and empty differ.
func show(b []byte) string {
	if b == nil {
		return "<null>"
	}
	return "'" + string(b) + "'"
}

func showHeaders(hs []producer.Header) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, h.Key+"="+show(h.Value))
	}
	return strings.Join(parts, " ")
}

// parseRecordCases are TestParseRecord's records, and FuzzParseRecord's
// and FuzzProduceStream's seeds.
var parseRecordCases = []struct {
	name               string
	opts               textOptions
	fixedKey           []byte
	text               string
	key, value, header string
}{
	{"no key", textOptions{}, nil, "k:v", "<null>", "'k:v'", ""},
	{"key before the first separator", textOptions{keySeparator: ":"}, nil, "k:v:w", "'k'", "'v:w'", ""},
	{"empty key", textOptions{keySeparator: ":"}, nil, ":v", "''", "'v'", ""},
	{"no separator, no key", textOptions{keySeparator: ":"}, nil, "v", "<null>", "'v'", ""},
	{"escaped separator", textOptions{keySeparator: `\t`}, nil, "k\tv", "'k'", "'v'", ""},
	{"fixed key", textOptions{}, []byte("fixed"), "k:v", "'fixed'", "'k:v'", ""},
	{"fixed headers", textOptions{headers: []string{"a=1", "b"}}, nil, "v", "<null>", "'v'", "a='1' b=<null>"},
	{"tombstone", textOptions{keySeparator: ":", nullMarker: "NULL"}, nil, "k:NULL", "'k'", "<null>", ""},
	{"null key", textOptions{keySeparator: ":", nullMarker: "NULL"}, nil, "NULL:v", "<null>", "'v'", ""},
	// Taken as written, as the console producer takes null.marker:
	// format() read it with kcat's escapes, refusing "unknown escape \N".
	{"null marker with a backslash", textOptions{keySeparator: ":", nullMarker: `\N`}, nil, `\N:\N`, "<null>", "<null>", ""},
	{"null marker with no escapes", textOptions{keySeparator: ":", nullMarker: `\t`}, nil, "\t:\\t", "'\t'", "<null>", ""},
	// Given empty, as kcat's -Z: an empty key, value or header value
	// is null. It was taken for no marker at all.
	{"empty null marker: empty value", textOptions{keySeparator: ":", nullMarkerGiven: true}, nil, "k:", "'k'", "<null>", ""},
	{"empty null marker: empty key", textOptions{keySeparator: ":", nullMarkerGiven: true}, nil, ":v", "<null>", "'v'", ""},
	{"empty null marker: empty header value", textOptions{parseHeaders: true, nullMarkerGiven: true}, nil, "h:,i:x	v", "<null>", "'v'", "h=<null> i='x'"},
	// --key is taken as given, as kcat takes -k: the marker stands in the
	// text only. An empty --key was a null key with an empty marker.
	{"empty null marker: an empty --key", textOptions{nullMarkerGiven: true}, []byte(""), "v", "''", "'v'", ""},
	{"null marker: --key is the marker", textOptions{nullMarker: "NULL"}, []byte("NULL"), "v", "'NULL'", "'v'", ""},
	{"empty null marker: no empty part", textOptions{keySeparator: ":", nullMarkerGiven: true}, nil, "k:v", "'k'", "'v'", ""},
	{"no null marker: empty parts stay empty", textOptions{keySeparator: ":"}, nil, ":", "''", "''", ""},
	{"per-record headers", textOptions{keySeparator: ":", parseHeaders: true}, nil, "h1:x,h2:y:z\tk:v", "'k'", "'v'", "h1='x' h2='y:z'"},
	{"per-record after fixed headers", textOptions{headers: []string{"a=1"}, parseHeaders: true}, nil, "h:x\tv", "<null>", "'v'", "a='1' h='x'"},
	{"no per-record headers", textOptions{parseHeaders: true}, nil, "\tv", "<null>", "'v'", ""},
	{"header without value", textOptions{parseHeaders: true}, nil, "h\tv", "<null>", "'v'", "h=<null>"},
	{"null header value", textOptions{parseHeaders: true, nullMarker: "-"}, nil, "h:-,i:\t-", "<null>", "<null>", "h=<null> i=''"},
	// A CRLF line end is dropped whole, as the console producer's
	// readLine drops it: the '\r' was left at the end of the value
	// (or of a key, a header, a null marker no longer matched).
	{"a CRLF line end", textOptions{keySeparator: ":", nullMarker: "NULL"}, nil, "k:NULL\r", "'k'", "<null>", ""},
	{"a CRLF line end after headers", textOptions{parseHeaders: true}, nil, "h:x\tv\r", "<null>", "'v'", "h='x'"},
	{"a CR inside a line", textOptions{}, nil, "a\rb", "<null>", "'a\rb'", ""},
	{"a CR before another delimiter", textOptions{delimiter: `\0`}, nil, "v\r", "<null>", "'v\r'", ""},
	{"own header delimiters", textOptions{parseHeaders: true, headersDelimiter: "|", headersSeparator: ";", headersKeySeparator: "="}, nil, "a=1;b=2|v", "<null>", "'v'", "a='1' b='2'"},
}

func TestParseRecord(t *testing.T) {
	for _, tc := range parseRecordCases {
		t.Run(tc.name, func(t *testing.T) {
			f := format(t, tc.opts)
			f.fixedKey = tc.fixedKey
			var r producer.Record
			if err := f.parse([]byte(tc.text), &r); err != nil {
				t.Fatal(err)
			}
			if show(r.Key) != tc.key || show(r.Value) != tc.value || showHeaders(r.Headers) != tc.header {
				t.Errorf("parse(%q) = key %s value %s headers %q; want key %s value %s headers %q",
					tc.text, show(r.Key), show(r.Value), showHeaders(r.Headers), tc.key, tc.value, tc.header)
			}
		})
	}
}

// parseErrorOptions and parseErrorCases (a record's text, what its error
// says) are TestParseRecordErrors's, and seeds of the fuzz targets.
var (
	parseErrorOptions = textOptions{parseHeaders: true, nullMarker: "N"}
	parseErrorCases   = map[string]string{
		"no tab here": "no headers delimiter",
		":x\tv":       "empty key",
		"N:x\tv":      "null marker",
	}
)

func TestParseRecordErrors(t *testing.T) {
	f := format(t, parseErrorOptions)
	for text, want := range parseErrorCases {
		var r producer.Record
		if err := f.parse([]byte(text), &r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parse(%q) error %v, want %q", text, err, want)
		}
	}
}

// The error about a header with an empty key quotes the header's start
// and says how long it is: it quoted the whole header, a megabyte of it
// on stderr (and in --json's error) around the few words that matter.
func TestAnErrorQuotesOnlyTheStartOfALongHeader(t *testing.T) {
	f := format(t, textOptions{parseHeaders: true})
	var r producer.Record
	err := f.parse([]byte(":"+strings.Repeat("x", 1<<20)+"\tv"), &r)
	want := `header ":xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"... (1,048,577 bytes) has an empty key`
	if err == nil || err.Error() != want {
		t.Errorf("error %.200v, want %s", err, want)
	}
}

func TestParseHeaders(t *testing.T) {
	hs, err := parseHeaders([]string{"a=1", "b=", "c", "d=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if got := showHeaders(hs); got != "a='1' b='' c=<null> d='x=y'" {
		t.Errorf("headers %s", got)
	}
	if _, err := parseHeaders([]string{"=v"}); err == nil {
		t.Error("a header without a key was accepted")
	}
}

// Payloads are split as kafka-producer-perf-test splits them: empty ones at
// the end are dropped, empty ones between kept.
func TestReadPayloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payloads")
	if err := os.WriteFile(path, []byte("one\n\ntwo\nthree\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := readPayloads(path, []byte("\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, string(p))
	}
	if strings.Join(got, "|") != "one||two|three" {
		t.Errorf("payloads %q", got)
	}
	if err := os.WriteFile(path, []byte("\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPayloads(path, []byte("\n")); err == nil {
		t.Error("a file without payloads was accepted")
	}
}
