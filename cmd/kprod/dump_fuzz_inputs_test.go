package main

import (
	"bytes"
	"fmt"
	"strings"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol"
)

// fuzzValueGiven is a switch of FuzzDump's, after fuzzFlags's: --value.
// With it or --key (fuzzFixedKeyGiven), the record is the only one, and
// stdin is left unread.
const fuzzValueGiven = fuzzFixedKeyGiven << 1

// dumpCodecs are the codecs FuzzDump picks from by index.
var dumpCodecs = []compression.Codec{compression.None, compression.Gzip,
	compression.Snappy, compression.LZ4, compression.Zstd}

// dumpInput is one run of kprod dump as FuzzDump takes it: stdin (or
// --value) and its flags, and how to damage the frame dump made before
// walking it again.
type dumpInput struct {
	in             []byte
	repeat         uint16
	codec, version byte // indexes into dumpCodecs and the Produce versions
	timestamp      int64
	ff             fuzzFlags
	cut, flipAt    uint32
	flip           byte
}

// args are the flags of kprod dump for d: those a user would give for ff,
// the codec, version and timestamp, and --raw when raw.
func (d *dumpInput) args(raw bool) []string {
	supported := protocol.Supported(protocol.Produce)
	version := supported.Min + int16(d.version)%(supported.Max-supported.Min+1)
	args := []string{"--compression=" + dumpCodecs[int(d.codec)%len(dumpCodecs)].String(),
		fmt.Sprintf("--version=%d", version), fmt.Sprintf("--timestamp=%d", d.timestamp)}
	if raw {
		args = append(args, "--raw")
	}
	ff := d.ff
	if ff.fixedHeaders != "" {
		for _, h := range strings.Split(ff.fixedHeaders, "\n") {
			args = append(args, "--header="+h)
		}
	}
	if d.keyValue() {
		if ff.switches&fuzzFixedKeyGiven != 0 {
			args = append(args, "--key="+ff.fixedKey)
		}
		if ff.switches&fuzzValueGiven != 0 {
			args = append(args, "--value="+string(d.in))
		}
		return args
	}
	args = append(args, "--delimiter="+ff.delimiter, "--key-separator="+ff.keySep)
	if ff.switches&fuzzParseHeaders != 0 {
		args = append(args, "--parse-headers", "--headers-delimiter="+ff.headersDelim,
			"--headers-separator="+ff.headersSep, "--headers-key-separator="+ff.headersKeySep)
	}
	if ff.nullMarker != "" || ff.switches&fuzzNullMarkerGiven != 0 {
		args = append(args, "--null-marker="+ff.nullMarker)
	}
	return args
}

// keyValue tells whether --key or --value make the only record.
func (d *dumpInput) keyValue() bool {
	return d.ff.switches&(fuzzFixedKeyGiven|fuzzValueGiven) != 0
}

// maxDumpRecords bounds the records repeat makes: each costs dump some
// annotations, and tens of thousands slowed the fuzzer to seconds a run.
const maxDumpRecords = 1000

// stdin is what dump reads: in, repeated to pass readRecords's 64 KiB
// buffer when repeat says so, to no more than maxDumpRecords records.
func (d *dumpInput) stdin(delim []byte) []byte {
	if d.repeat == 0 || len(d.in) == 0 {
		return d.in
	}
	times := 1 + int(d.repeat)%(80<<10/len(d.in))
	if per := bytes.Count(d.in, delim); per > 0 {
		times = min(times, max(1, maxDumpRecords/per))
	}
	return bytes.Repeat(d.in, times)
}

// dumpWant is what dump must make of a dumpInput.
type dumpWant struct {
	stdin   []byte
	format  *lineFormat // nil: flags dump refuses (a usage error)
	records []producer.Record
	err     error // the error of the first record that does not parse
}

// want is what dump must make of d; no records and no error for flags it
// refuses or a stdin without records, both usage errors.
func (d *dumpInput) want() dumpWant {
	ff := d.ff
	ff.switches &^= fuzzFixedKeyGiven
	if d.keyValue() || ff.switches&fuzzParseHeaders == 0 {
		// The flags args leaves out keep their defaults.
		ff.headersDelim, ff.headersSep, ff.headersKeySep = `\t`, ",", ":"
	}
	if d.keyValue() {
		ff.delimiter, ff.keySep, ff.nullMarker, ff.switches = `\n`, "", "", 0
	}
	w := dumpWant{stdin: d.in, format: ff.format()}
	if w.format == nil {
		return w
	}
	if d.keyValue() {
		r := producer.Record{Value: []byte{}, Headers: w.format.headers}
		if d.ff.switches&fuzzFixedKeyGiven != 0 {
			r.Key = []byte(d.ff.fixedKey)
		}
		if d.ff.switches&fuzzValueGiven != 0 {
			r.Value = bytes.Clone(d.in)
		}
		w.records = []producer.Record{r}
		return w
	}
	w.stdin = d.stdin(w.format.delimiter)
	pieces := bytes.Split(w.stdin, w.format.delimiter)
	if len(pieces[len(pieces)-1]) == 0 {
		pieces = pieces[:len(pieces)-1] // a trailing delimiter ends the last
	}
	for i, p := range pieces {
		var r producer.Record
		if err := w.format.parse(p, &r); err != nil {
			w.err = fmt.Errorf("record %d of stdin: %w", i+1, err)
			return w
		}
		w.records = append(w.records, cloneRecord(r))
	}
	return w
}

// dumpSeeds are the dump tests' inputs, the line format's cases through
// the codecs and versions in turn, and a frame cut short and one damaged.
func dumpSeeds() []dumpInput {
	versions := protocol.Supported(protocol.Produce)
	last := byte(versions.Max - versions.Min)
	stdin := func(in string, o textOptions) dumpInput {
		return dumpInput{in: []byte(in), timestamp: 1700000000000, ff: fuzzFlagsOf(o, nil), version: last}
	}
	keyValue := func(key, value string, headers ...string) dumpInput {
		d := dumpInput{in: []byte(value), ff: fuzzFlagsOf(textOptions{headers: headers}, []byte(key)), version: last}
		d.ff.switches |= fuzzValueGiven
		return d
	}
	var seeds []dumpInput
	for i := range dumpCodecs {
		d := stdin("a:1\nb:2\nno key\n", textOptions{keySeparator: ":"})
		d.codec = byte(i)
		seeds = append(seeds, d)
	}
	zstd := stdin("k1=v1\nk2=v2\n", textOptions{keySeparator: "="})
	zstd.codec = 4
	v8 := keyValue("\x01", "v", "h=\x02")
	v8.version = byte(8 - versions.Min)
	cut := stdin("k:v\n", textOptions{keySeparator: ":"})
	cut.cut = 90
	flipped := stdin("k:v\n", textOptions{keySeparator: ":"})
	flipped.flipAt, flipped.flip = 60, 0x80
	// 80 records of a kilobyte, each its own, across readRecords's 64 KiB
	// buffer, which it reuses: a record kept pointing into it reads
	// another's bytes (repeat's input, the same over and over, hides it).
	var numbered strings.Builder
	for i := range 80 {
		fmt.Fprintf(&numbered, "%d:%s\n", i, strings.Repeat("v", 1000))
	}
	long := stdin(numbered.String(), textOptions{keySeparator: ":"})
	seeds = append(seeds, zstd, v8, cut, flipped, long,
		stdin(":\n", textOptions{keySeparator: ":", nullMarkerGiven: true}),
		keyValue("k", "v", "trace=abc"),
		stdin("h:1,null\tkey:value\n"+strings.Repeat("long value ", 40)+"\n\t:\n",
			textOptions{keySeparator: ":", parseHeaders: true}))
	for v := byte(0); v <= last; v++ {
		d := keyValue("", "x")
		d.ff.switches &^= fuzzFixedKeyGiven
		d.version = v
		seeds = append(seeds, d)
	}
	for i, tc := range parseRecordCases {
		if tc.fixedKey != nil {
			continue // --key makes the only record, not one per line
		}
		d := stdin("", tc.opts)
		delim, _ := unescape(d.ff.delimiter)
		d.in = []byte(tc.text + string(delim) + tc.text)
		d.codec, d.version = byte(i), byte(i)
		seeds = append(seeds, d)
	}
	for text := range parseErrorCases {
		seeds = append(seeds, stdin("h:1\tk\n"+text+"\nh:2\tv\n", parseErrorOptions))
	}
	return seeds
}
