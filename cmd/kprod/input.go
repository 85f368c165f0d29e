package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	producer "github.com/gokafka/producer"
)

// Records from text, shared by produce and dump, in the conventions of
// kcat -P and kafka-console-producer: records separated by --delimiter
// (a newline by default), the key before the first --key-separator,
// per-record headers first with --parse-headers (KIP-798), --null-marker
// for a null key, value or header value (KIP-810), and the same --header
// pairs on every record.

// textOptions are the flags of that format.
type textOptions struct {
	keySeparator        string
	headers             []string
	delimiter           string
	parseHeaders        bool
	headersDelimiter    string
	headersSeparator    string
	headersKeySeparator string
	nullMarker          string
	// nullMarkerGiven: --null-marker was given, even empty, which makes
	// an empty key, value or header value null, as kcat -Z does.
	nullMarkerGiven bool
}

const escapesHelp = `escapes: \n \t \r \0 \xHH \\`

func (o *textOptions) register(fs *pflag.FlagSet) {
	fs.VarP(escapedVar(&o.keySeparator, ""), "key-separator", "K", "split each record at the first separator into key and value (none: no key; "+escapesHelp+")")
	fs.StringArrayVarP(&o.headers, "header", "H", nil, "header `key=value` on every record (repeatable; no =: a null value)")
	fs.VarP(escapedVar(&o.delimiter, `\n`), "delimiter", "D", "what separates records on stdin ("+escapesHelp+")")
	fs.BoolVar(&o.parseHeaders, "parse-headers", false, "each record starts with its own headers: k1:v1,k2:v2, then --headers-delimiter, then key and value")
	fs.Var(escapedVar(&o.headersDelimiter, `\t`), "headers-delimiter", "with --parse-headers: what ends the headers")
	fs.Var(escapedVar(&o.headersSeparator, ","), "headers-separator", "with --parse-headers: what separates two headers")
	fs.Var(escapedVar(&o.headersKeySeparator, ":"), "headers-key-separator", "with --parse-headers: what separates a header's key from its value (none: a null value)")
	fs.Var(givenString{&o.nullMarker, &o.nullMarkerGiven}, "null-marker", "a key, value or header value of stdin equal to this `string`, taken as written (no escapes), is null; a null value is a tombstone ('': an empty one, as kcat -Z)")
}

// stdinFormatFlags are the flags that say how records are read from
// stdin, as opposed to --header, which every record gets.
var stdinFormatFlags = []string{"key-separator", "delimiter", "parse-headers",
	"headers-delimiter", "headers-separator", "headers-key-separator", "null-marker"}

// parseHeadersFlags shape the headers --parse-headers reads, and nothing
// without it.
var parseHeadersFlags = []string{"headers-delimiter", "headers-separator", "headers-key-separator"}

// checkCombination refuses a flag that the others make meaningless, which
// was accepted and ignored.
func (o *textOptions) checkCombination(changed func(string) bool) error {
	if o.parseHeaders {
		return nil
	}
	for _, f := range parseHeadersFlags {
		if changed(f) {
			return usagef("--%s: needs --parse-headers", f)
		}
	}
	return nil
}

// escaped is a string flag written with escapes (\t, \n), shown in --help
// as written: pflag would quote a plain string's default as "\\t".
type escaped struct{ s *string }

// escapedVar sets *s to def and returns the flag.Value that sets it.
func escapedVar(s *string, def string) escaped {
	*s = def
	return escaped{s}
}

func (e escaped) String() string {
	if e.s == nil {
		return ""
	}
	return *e.s
}
func (e escaped) Set(v string) error { *e.s = v; return nil }
func (e escaped) Type() string       { return "sep" }

// givenString is a string flag that remembers being given, so that an
// empty value given is told from none.
type givenString struct {
	s     *string
	given *bool
}

func (g givenString) String() string {
	if g.s == nil {
		return ""
	}
	return *g.s
}
func (g givenString) Set(v string) error { *g.s, *g.given = v, true; return nil }
func (g givenString) Type() string       { return "string" }

// lineFormat is the parsed form of textOptions.
type lineFormat struct {
	delimiter []byte
	// lines: the delimiter is a newline, and a record's trailing '\r' is
	// part of a CRLF line end, dropped with it, as the console producer's
	// BufferedReader.readLine drops it; kprod produce of a file with
	// Windows line ends sent a '\r' at the end of every value.
	lines        bool
	keySep       []byte // nil: the key is fixedKey
	fixedKey     []byte // nil: no key
	headers      []producer.Header
	parseHeaders bool
	headersDelim []byte
	headerSep    []byte
	headerKeySep []byte
	nullMarker   []byte // nil: none
}

// format checks the flags and returns the format they describe.
func (o *textOptions) format() (*lineFormat, error) {
	f := &lineFormat{parseHeaders: o.parseHeaders}
	var err error
	if f.headers, err = parseHeaders(o.headers); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		flag, value string
		dst         *[]byte
		empty       bool // may be empty
	}{
		{"delimiter", o.delimiter, &f.delimiter, false},
		{"key-separator", o.keySeparator, &f.keySep, true},
		{"headers-delimiter", o.headersDelimiter, &f.headersDelim, false},
		{"headers-separator", o.headersSeparator, &f.headerSep, false},
		{"headers-key-separator", o.headersKeySeparator, &f.headerKeySep, true},
	} {
		b, err := unescape(s.value)
		if err != nil {
			return nil, usagef("--%s: %v", s.flag, err)
		}
		if len(b) == 0 && !s.empty {
			return nil, usagef("--%s: empty", s.flag)
		}
		if len(b) > 0 {
			*s.dst = b
		}
	}
	// The null marker is taken as written, escapes and all, as the
	// console producer takes null.marker: its common spelling is \N. An
	// empty one given is kcat's -Z: an empty key or value is null. It was
	// taken for none, and the empty values were sent as such.
	if o.nullMarker != "" || o.nullMarkerGiven {
		f.nullMarker = append([]byte{}, o.nullMarker...) // not nil, even empty
	}
	f.lines = bytes.Equal(f.delimiter, []byte("\n"))
	return f, nil
}

// parseHeaders reads --header k=v pairs. A pair without '=' is a header with
// a null value; "k=" has an empty one.
func parseHeaders(pairs []string) ([]producer.Header, error) {
	var hs []producer.Header
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usagef("--header: %q has an empty key (want key=value)", kv)
		}
		h := producer.Header{Key: k}
		if ok {
			h.Value = []byte(v)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// parse makes r from one record's text. Key, value and header values alias
// text; Produce copies them.
func (f *lineFormat) parse(text []byte, r *producer.Record) error {
	if f.lines {
		text = bytes.TrimSuffix(text, []byte("\r"))
	}
	r.Headers = f.headers
	if f.parseHeaders {
		i := bytes.Index(text, f.headersDelim)
		if i < 0 {
			return fmt.Errorf("no headers delimiter %q", f.headersDelim)
		}
		hs, err := f.splitHeaders(text[:i])
		if err != nil {
			return err
		}
		r.Headers = append(f.headers[:len(f.headers):len(f.headers)], hs...)
		text = text[i+len(f.headersDelim):]
	}
	// --key is taken as given, as kcat takes -k and --header its values:
	// the null marker stands for null in the text only. An empty --key
	// with an empty --null-marker was a null key.
	r.Key, r.Value = f.fixedKey, text
	if f.keySep != nil {
		r.Key = nil
		if i := bytes.Index(text, f.keySep); i >= 0 {
			r.Key, r.Value = f.null(text[:i]), text[i+len(f.keySep):]
		}
	}
	r.Value = f.null(r.Value)
	return nil
}

// splitHeaders reads "k1:v1,k2:v2"; empty text is no header.
func (f *lineFormat) splitHeaders(text []byte) ([]producer.Header, error) {
	if len(text) == 0 {
		return nil, nil
	}
	var hs []producer.Header
	for h := range bytes.SplitSeq(text, f.headerSep) {
		k, v, ok := h, []byte(nil), false
		if f.headerKeySep != nil {
			k, v, ok = bytes.Cut(h, f.headerKeySep)
		}
		switch {
		case len(k) == 0:
			return nil, fmt.Errorf("header %s has an empty key", excerpt(h))
		case f.nullMarker != nil && bytes.Equal(k, f.nullMarker):
			return nil, fmt.Errorf("header key %q is the null marker: a header key cannot be null", k)
		}
		if !ok {
			v = nil
		}
		hs = append(hs, producer.Header{Key: string(k), Value: f.null(v)})
	}
	return hs, nil
}

// excerpt quotes b, or only its start when it is long: the error about a
// header of a megabyte quoted it whole, a screenful of bytes around the
// few words that say what is wrong.
//
// It points at input the user gave (a line of stdin), which they can
// read whole themselves: a start short enough to find it by is all the
// error needs, its length counted as kprod writes any count. A broker's
// text, which is the explanation itself and may come from anyone on the
// network, is shown with brokertext.Quote instead, whole up to a bound
// that Kafka's messages stay under.
func excerpt(b []byte) string {
	const shown = 32
	if len(b) <= shown {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q... (%s)", b[:shown], plural(int64(len(b)), "byte"))
}

// null is nil for the null marker, else b.
func (f *lineFormat) null(b []byte) []byte {
	if f.nullMarker != nil && bytes.Equal(b, f.nullMarker) {
		return nil
	}
	return b
}

// unescape reads the escapes kcat's -D and -K take: \n \t \r \0 \xHH \\.
func unescape(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 == len(s) {
			return nil, fmt.Errorf("%q ends with a lone backslash", s)
		}
		i++
		switch s[i] {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case '0':
			b = append(b, 0)
		case '\\':
			b = append(b, '\\')
		case 'x':
			if i+3 > len(s) {
				return nil, fmt.Errorf("%q: \\x wants two hex digits", s)
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%q: \\x wants two hex digits", s)
			}
			b = append(b, byte(n))
			i += 2
		default:
			return nil, fmt.Errorf("%q: unknown escape \\%c", s, s[i])
		}
	}
	return b, nil
}

// readRecords calls fn with each record of r, delimiter excluded, until r
// ends or fn returns false. The slice passed to fn is reused for the next
// record. A last record without a delimiter counts; an empty input has no
// records; records of any length are read whole. The bytes a read error
// cuts short are not a record: the error is returned instead.
func readRecords(r io.Reader, delim []byte, fn func(rec []byte) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	last := delim[len(delim)-1]
	var long []byte // a record read in several pieces
	for {
		chunk, err := br.ReadSlice(last)
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		rec := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			rec = long
		}
		if err == nil && !bytes.HasSuffix(rec, delim) {
			// The delimiter's last byte, not the whole delimiter.
			if len(long) == 0 {
				long = append(long, chunk...)
			}
			continue
		}
		if err == nil {
			rec = rec[:len(rec)-len(delim)]
		}
		// A last record without a delimiter ends at EOF; one that a read
		// error cut short is not a record, and is not produced.
		if (err == nil || errors.Is(err, io.EOF) && len(rec) > 0) && !fn(rec) {
			return nil
		}
		long = long[:0]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readPayloads reads the payloads of --payload-file, as
// kafka-producer-perf-test does: the file split at delim, without the empty
// payloads after the last one.
func readPayloads(path string, delim []byte) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	payloads := bytes.Split(data, delim)
	for len(payloads) > 0 && len(payloads[len(payloads)-1]) == 0 {
		payloads = payloads[:len(payloads)-1]
	}
	if len(payloads) == 0 {
		return nil, fmt.Errorf("%s holds no payload", path)
	}
	return payloads, nil
}
