package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	producer "github.com/gokafka/producer"
)

// fuzzFlags are the flags of the text format as the fuzz targets take
// them: written as a user writes them (escapes and all), the fixed key
// and headers (--key, --header, one pair a line) and the switches.
type fuzzFlags struct {
	keySep, delimiter, headersDelim, headersSep, headersKeySep string
	nullMarker, fixedKey, fixedHeaders                         string
	switches                                                   byte
}

const (
	fuzzParseHeaders    = 1 << iota // --parse-headers
	fuzzNullMarkerGiven             // --null-marker, even empty
	fuzzFixedKeyGiven               // --key
)

// fuzzFlagsOf is the fuzzFlags of a table case.
func fuzzFlagsOf(o textOptions, fixedKey []byte) fuzzFlags {
	o = withDefaults(o)
	ff := fuzzFlags{
		keySep: o.keySeparator, delimiter: o.delimiter,
		headersDelim: o.headersDelimiter, headersSep: o.headersSeparator,
		headersKeySep: o.headersKeySeparator, nullMarker: o.nullMarker,
		fixedKey: string(fixedKey), fixedHeaders: strings.Join(o.headers, "\n"),
	}
	if o.parseHeaders {
		ff.switches |= fuzzParseHeaders
	}
	if o.nullMarkerGiven {
		ff.switches |= fuzzNullMarkerGiven
	}
	if fixedKey != nil {
		ff.switches |= fuzzFixedKeyGiven
	}
	return ff
}

// format is the lineFormat of ff, as kprod produce builds it, or nil for
// flags it refuses.
func (ff fuzzFlags) format() *lineFormat {
	o := textOptions{
		keySeparator: ff.keySep, delimiter: ff.delimiter,
		parseHeaders:     ff.switches&fuzzParseHeaders != 0,
		headersDelimiter: ff.headersDelim, headersSeparator: ff.headersSep,
		headersKeySeparator: ff.headersKeySep,
		nullMarker:          ff.nullMarker,
		nullMarkerGiven:     ff.switches&fuzzNullMarkerGiven != 0,
	}
	if ff.fixedHeaders != "" {
		o.headers = strings.Split(ff.fixedHeaders, "\n")
	}
	f, err := o.format()
	if err != nil {
		return nil
	}
	// kprod produce refuses --key with --key-separator.
	if ff.switches&fuzzFixedKeyGiven != 0 && f.keySep == nil {
		f.fixedKey = []byte(ff.fixedKey)
	}
	return f
}

// recordText is what parse made of a record, null told from empty, every
// byte shown.
func recordText(r *producer.Record) string {
	quote := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return fmt.Sprintf("%q", b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "key %s value %s", quote(r.Key), quote(r.Value))
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " header %q=%s", h.Key, quote(h.Value))
	}
	return b.String()
}

// writeRecord writes r as f reads it, delimiter excluded: its own headers
// (after f's fixed ones), then its key and value. A null is written as
// nothing there (a header without its key separator, a key without its
// separator), which is what it is read from without a null marker.
func writeRecord(f *lineFormat, r *producer.Record) []byte {
	var b []byte
	if f.parseHeaders {
		for i, h := range r.Headers[len(f.headers):] {
			if i > 0 {
				b = append(b, f.headerSep...)
			}
			b = append(b, h.Key...)
			if h.Value != nil {
				b = append(append(b, f.headerKeySep...), h.Value...)
			}
		}
		b = append(b, f.headersDelim...)
	}
	if f.keySep != nil && r.Key != nil {
		b = append(append(b, r.Key...), f.keySep...)
	}
	return append(b, r.Value...)
}

// maxParseError bounds a parse error's length: it may quote a flag (the
// headers delimiter, the null marker), but not the record, however long
// (a byte quoted as \xHH takes four).
func maxParseError(f *lineFormat) int {
	return 200 + 4*(len(f.headersDelim)+len(f.nullMarker))
}

// FuzzParseRecord checks lineFormat.parse, the text of one record read as
// flags a user may give (escapes, separators that overlap or repeat, null
// markers, empty ones) say:
//   - without a null marker, writing what parse made back in the format
//     gives the text again, byte for byte, but for a CRLF line end's '\r':
//     every byte is the key, the value, a header or a separator, none
//     lost, none moved from one to another;
//   - a null marker changes no split: a record reads as it does without
//     one, with the key, value and header values read equal to it made
//     null (not --key's and --header's), unless a header key is the
//     marker, which is an error;
//   - only --parse-headers can make a record unreadable, and the error
//     does not grow with the record;
//   - parse leaves --header's pairs alone, and a record's headers are not
//     changed by the next record's parse (kprod reuses one Record).
func FuzzParseRecord(f *testing.F) {
	for _, tc := range parseRecordCases {
		ff := fuzzFlagsOf(tc.opts, tc.fixedKey)
		f.Add([]byte(tc.text), ff.keySep, ff.delimiter, ff.headersDelim, ff.headersSep,
			ff.headersKeySep, ff.nullMarker, ff.fixedKey, ff.fixedHeaders, ff.switches)
	}
	for text := range parseErrorCases {
		ff := fuzzFlagsOf(parseErrorOptions, nil)
		f.Add([]byte(text), ff.keySep, ff.delimiter, ff.headersDelim, ff.headersSep,
			ff.headersKeySep, ff.nullMarker, ff.fixedKey, ff.fixedHeaders, ff.switches)
	}
	f.Fuzz(func(t *testing.T, text []byte, keySep, delimiter, headersDelim, headersSep,
		headersKeySep, nullMarker, fixedKey, fixedHeaders string, switches byte) {
		ff := fuzzFlags{keySep, delimiter, headersDelim, headersSep, headersKeySep,
			nullMarker, fixedKey, fixedHeaders, switches}
		lf := ff.format()
		if lf == nil {
			return // a usage error
		}
		// readRecords never hands over a nil record, even an empty one,
		// which would read as a null value.
		text = append([]byte{}, text...)
		fixedBefore := recordText(&producer.Record{Headers: lf.headers})

		plain := *lf
		plain.nullMarker = nil
		var pr producer.Record
		plainErr := plain.parse(text, &pr)
		if plainErr == nil {
			want := text
			if lf.lines {
				want = bytes.TrimSuffix(want, []byte("\r"))
			}
			if got := writeRecord(&plain, &pr); !bytes.Equal(got, want) {
				t.Fatalf("text %q reads as %s, which is written %q", text, recordText(&pr), got)
			}
		}

		var r producer.Record
		err := lf.parse(text, &r)
		if err != nil {
			if !lf.parseHeaders {
				t.Fatalf("text %q: error %v without --parse-headers", text, err)
			}
			if len(err.Error()) > maxParseError(lf) {
				t.Fatalf("text of %d bytes: an error of %d bytes: %.300s...", len(text), len(err.Error()), err)
			}
		}
		switch {
		case plainErr != nil:
			if err == nil {
				t.Fatalf("text %q: read as %s with null marker %q, refused without one: %v",
					text, recordText(&r), lf.nullMarker, plainErr)
			}
		case lf.nullMarker != nil && headerKeyIs(pr.Headers[len(lf.headers):], lf.nullMarker):
			if err == nil || !strings.Contains(err.Error(), "null marker") {
				t.Fatalf("text %q: a header key is the null marker %q, but error %v", text, lf.nullMarker, err)
			}
		default:
			want := nulled(lf, pr)
			if err != nil || recordText(&r) != recordText(&want) {
				t.Fatalf("text %q with null marker %q: %s, %v; want %s",
					text, lf.nullMarker, recordText(&r), err, recordText(&want))
			}
		}

		if err == nil {
			before := recordText(&r)
			var next producer.Record
			_ = lf.parse(bytes.Repeat(text, 2), &next)
			if after := recordText(&r); after != before {
				t.Fatalf("text %q: the record %s became %s with the next one's parse", text, before, after)
			}
		}
		if after := recordText(&producer.Record{Headers: lf.headers}); after != fixedBefore {
			t.Fatalf("text %q: --header's pairs %s became %s", text, fixedBefore, after)
		}
	})
}

// headerKeyIs tells whether one of hs has the key k.
func headerKeyIs(hs []producer.Header, k []byte) bool {
	for _, h := range hs {
		if h.Key == string(k) {
			return true
		}
	}
	return false
}

// nulled is r as a null marker makes it, read from the text: its key
// (when the text has keys), its value and its own header values equal to
// the marker made null. --key and --header are given as they are.
func nulled(lf *lineFormat, r producer.Record) producer.Record {
	null := func(b []byte) []byte {
		if lf.nullMarker != nil && bytes.Equal(b, lf.nullMarker) {
			return nil
		}
		return b
	}
	if lf.keySep != nil {
		r.Key = null(r.Key)
	}
	r.Value = null(r.Value)
	hs := make([]producer.Header, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = h
		if i >= len(lf.headers) {
			hs[i].Value = null(h.Value)
		}
	}
	r.Headers = hs
	return r
}

// recordingSink keeps what it is handed, as text, before Produce returns:
// kprod reuses the Record and the bytes it points into.
type recordingSink struct {
	ackingSink
	records []string
}

func (s *recordingSink) Produce(ctx context.Context, r *producer.Record, cb producer.Callback) {
	s.records = append(s.records, recordText(r))
	s.ackingSink.Produce(ctx, r, cb)
}

// FuzzProduceStream checks kprod produce's reading of stdin whole
// (produceStream: readRecords, then parse, record by record) against the
// input split at the delimiter and each piece parsed on its own, however
// the reads come and however long the records (repeat makes them pass
// readRecords's 64 KiB buffer):
//   - the records produced are exactly the pieces before the first that
//     does not parse, in order, none lost, none twice, a last one without
//     its delimiter included;
//   - a piece that does not parse stops the run with its error, naming
//     its number (the line's, with the newline as delimiter), and nothing
//     after it is produced.
func FuzzProduceStream(f *testing.F) {
	add := func(ff fuzzFlags, in string) {
		f.Add([]byte(in), uint16(0), byte(0), ff.keySep, ff.delimiter, ff.headersDelim,
			ff.headersSep, ff.headersKeySep, ff.nullMarker, ff.fixedKey, ff.fixedHeaders, ff.switches)
	}
	for _, tc := range parseRecordCases {
		ff := fuzzFlagsOf(tc.opts, tc.fixedKey)
		delim, err := unescape(ff.delimiter)
		if err != nil {
			f.Fatal(err)
		}
		// Twice, the second time without its delimiter.
		add(ff, tc.text+string(delim)+tc.text)
	}
	for text := range parseErrorCases {
		add(fuzzFlagsOf(parseErrorOptions, nil), "h:1\tk\n"+text+"\nh:2\tv\n")
	}
	f.Fuzz(func(t *testing.T, body []byte, repeat uint16, how byte, keySep, delimiter, headersDelim,
		headersSep, headersKeySep, nullMarker, fixedKey, fixedHeaders string, switches byte) {
		ff := fuzzFlags{keySep, delimiter, headersDelim, headersSep, headersKeySep,
			nullMarker, fixedKey, fixedHeaders, switches}
		lf := ff.format()
		if lf == nil {
			return // a usage error
		}
		in := body
		if repeat > 0 && len(body) > 0 {
			in = bytes.Repeat(body, 1+int(repeat)%(200<<10/len(body)))
		}

		pieces := bytes.Split(in, lf.delimiter)
		if len(pieces[len(pieces)-1]) == 0 {
			pieces = pieces[:len(pieces)-1] // a trailing delimiter ends the last
		}
		var want []string
		var wantErr error
		for i, p := range pieces {
			var r producer.Record
			if err := lf.parse(p, &r); err != nil {
				wantErr = fmt.Errorf("record %d of stdin: %w", i+1, err)
				break
			}
			want = append(want, recordText(&r))
		}

		sink := &recordingSink{}
		err := produceStream(context.Background(), context.Background(), readShapes[how%4](bytes.NewReader(in)),
			sink, newMeter(1), newConsole(io.Discard), producer.Record{Topic: "t"}, lf)
		switch {
		case wantErr == nil && err != nil:
			t.Fatalf("%d bytes, delimiter %q: error %v, want none", len(in), lf.delimiter, err)
		case wantErr != nil && (err == nil || !strings.HasPrefix(err.Error(), wantErr.Error())):
			t.Fatalf("%d bytes, delimiter %q: error %v, want %v", len(in), lf.delimiter, err, wantErr)
		}
		if len(sink.records) != len(want) {
			t.Fatalf("%d bytes, delimiter %q: %d records produced, want %d (error %v)",
				len(in), lf.delimiter, len(sink.records), len(want), err)
		}
		for i := range want {
			if sink.records[i] != want[i] {
				t.Fatalf("%d bytes, delimiter %q: record %d is %.200s, want %.200s",
					len(in), lf.delimiter, i+1, sink.records[i], want[i])
			}
		}
	})
}
