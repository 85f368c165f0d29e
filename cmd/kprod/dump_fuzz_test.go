package main

import (
	"bytes"
	"errors"
	"io"
	"testing"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/record"
)

// FuzzDump runs kprod dump's command (in-process) on stdin, or --key
// and --value, read with the flags of the line format, through each
// codec and Produce version, and checks:
//   - a record that does not parse stops it with its error alone, naming
//     the record's number, and that error does not grow with the input;
//   - flags it refuses, and a stdin without records, are usage errors;
//   - otherwise --raw's bytes decode, with the protocol and record
//     packages, to a ProduceRequest of one batch in the codec asked for,
//     holding exactly the records parsed, in order: keys, values and
//     headers, null told from empty;
//   - the annotated walk covers every byte of the request once, in order
//     (and those of each batch's decompressed records follow one another),
//     and the listing dump prints is that walk's;
//   - the walk of the frame cut short (its size made to agree) or with a
//     byte flipped does not panic, and annotates what it read, in order.
func FuzzDump(f *testing.F) {
	for _, d := range dumpSeeds() {
		ff := d.ff
		f.Add(d.in, d.repeat, d.codec, d.version, d.timestamp, ff.keySep, ff.delimiter,
			ff.headersDelim, ff.headersSep, ff.headersKeySep, ff.nullMarker, ff.fixedKey,
			ff.fixedHeaders, ff.switches, d.cut, d.flipAt, d.flip)
	}
	f.Fuzz(func(t *testing.T, in []byte, repeat uint16, codec, version byte, timestamp int64,
		keySep, delimiter, headersDelim, headersSep, headersKeySep, nullMarker, fixedKey,
		fixedHeaders string, switches byte, cut, flipAt uint32, flip byte) {
		d := &dumpInput{in: in, repeat: repeat, codec: codec, version: version, timestamp: timestamp,
			ff: fuzzFlags{keySep, delimiter, headersDelim, headersSep, headersKeySep,
				nullMarker, fixedKey, fixedHeaders, switches},
			cut: cut, flipAt: flipAt, flip: flip}
		want := d.want()

		frame, err := runDumpCommand(d.args(true), want.stdin)
		var usage *usageError
		switch {
		case want.err != nil:
			checkDumpError(t, d, want, err)
			return
		case len(want.records) == 0:
			if !errors.As(err, &usage) {
				t.Fatalf("%q: error %.300v, want a usage error", d.args(true), err)
			}
			return
		case err != nil:
			t.Fatalf("%q: %.300v", d.args(true), err)
		}
		checkDumpDecodes(t, d, frame, want.records)
		as := checkWalkCovers(t, frame)

		listing, err := runDumpCommand(d.args(false), want.stdin)
		if err != nil {
			t.Fatalf("%q: %.300v", d.args(false), err)
		}
		var walked bytes.Buffer
		if err := writeAnnotations(&walked, as); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(listing, walked.Bytes()) {
			t.Fatalf("%q: the listing is not the walk of --raw's bytes:\n%.2000s\n---\n%.2000s",
				d.args(false), listing, walked.Bytes())
		}

		walkDamaged(t, d, frame)
	})
}

// runDumpCommand runs kprod dump's command as the root command runs it,
// with args and stdin, and returns what it wrote on stdout. The root
// command alone took seven times as long to build as the dump.
func runDumpCommand(args []string, stdin []byte) ([]byte, error) {
	var stdout bytes.Buffer
	cmd := newDumpCommand(&env{stdin: bytes.NewReader(stdin), stdout: &stdout, stderr: io.Discard})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return stdout.Bytes(), err
}

// checkDumpError checks that dump stopped at the record that does not
// parse, with its error alone (not a usage error), which is no longer for
// a longer input.
func checkDumpError(t *testing.T, d *dumpInput, want dumpWant, err error) {
	t.Helper()
	var usage *usageError
	if err == nil || errors.As(err, &usage) || err.Error() != want.err.Error() {
		t.Fatalf("%q, %d bytes of stdin: error %.300v; want %.300v", d.args(true), len(want.stdin), err, want.err)
	}
	if limit := 50 + maxParseError(want.format); len(err.Error()) > limit {
		t.Fatalf("%d bytes of stdin: an error of %d bytes, more than %d: %.300s...",
			len(want.stdin), len(err.Error()), limit, err)
	}
}

// checkDumpDecodes decodes frame with the protocol and record packages and
// checks that it holds the records want, as the flags of d say.
func checkDumpDecodes(t *testing.T, d *dumpInput, frame []byte, want []producer.Record) {
	t.Helper()
	if len(frame) < 4 || int(uint32(frame[0])<<24|uint32(frame[1])<<16|uint32(frame[2])<<8|uint32(frame[3])) != len(frame)-4 {
		t.Fatalf("%q: the size field does not count the %d bytes that follow it", d.args(true), len(frame)-4)
	}
	api, version, _, clientID, body, err := protocol.ReadRequestHeader(frame[4:])
	if err != nil || api != protocol.Produce || clientID == nil || *clientID != programName {
		t.Fatalf("%q: header: %v v%d client %v: %v", d.args(true), api, version, clientID, err)
	}
	var req protocol.ProduceRequest
	if err := req.ReadFrom(body, version); err != nil {
		t.Fatalf("%q: %v", d.args(true), err)
	}
	if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 {
		t.Fatalf("%q: %d topics, want one with one partition", d.args(true), len(req.Topics))
	}
	batch, rest, err := record.DecodeBatch(req.Topics[0].Partitions[0].Records)
	if err != nil || len(rest) != 0 {
		t.Fatalf("%q: the batch: %v, %d bytes after it", d.args(true), err, len(rest))
	}
	if codec := dumpCodecs[int(d.codec)%len(dumpCodecs)]; batch.Codec() != codec {
		t.Errorf("%q: the batch is %v, want %v", d.args(true), batch.Codec(), codec)
	}
	if batch.FirstTimestamp != d.timestamp || batch.MaxTimestamp != d.timestamp || batch.ProducerID != record.NoProducerID {
		t.Errorf("%q: timestamps %d..%d, producer id %d; want %d, none",
			d.args(true), batch.FirstTimestamp, batch.MaxTimestamp, batch.ProducerID, d.timestamp)
	}
	if len(batch.Records) != len(want) {
		t.Fatalf("%q: %d records, want %d", d.args(true), len(batch.Records), len(want))
	}
	for i, r := range batch.Records {
		got := producer.Record{Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			got.Headers = append(got.Headers, producer.Header(h))
		}
		if r.OffsetDelta != int32(i) || r.TimestampDelta != 0 || recordText(&got) != recordText(&want[i]) {
			t.Fatalf("%q: record %d (offset delta %d, timestamp delta %d) is %.300s, want %.300s",
				d.args(true), i, r.OffsetDelta, r.TimestampDelta, recordText(&got), recordText(&want[i]))
		}
	}
}

// checkWalkCovers walks frame and checks that its annotations cover every
// byte of it once, in order.
func checkWalkCovers(t *testing.T, frame []byte) []annotation {
	t.Helper()
	as, err := walkRequest(frame)
	if err != nil {
		t.Fatalf("the walk of dump's own frame: %v", err)
	}
	if next := checkAnnotationsInOrder(t, frame, as); next != len(frame) {
		t.Fatalf("the annotations cover %d of the frame's %d bytes", next, len(frame))
	}
	return as
}

// checkAnnotationsInOrder checks that the annotations of the request's
// space are frame's bytes, one after the other from the first, and that
// those of each other space follow one another from 0; it returns where
// the request's end.
func checkAnnotationsInOrder(t *testing.T, frame []byte, as []annotation) int {
	t.Helper()
	next := map[string]int{}
	for _, a := range as {
		if a.off != next[a.space] {
			t.Fatalf("%s %s at offset %d, want %d", a.space, a.path, a.off, next[a.space])
		}
		if a.space == "" && !bytes.Equal(a.raw, frame[a.off:a.off+len(a.raw)]) {
			t.Fatalf("%s at offset %d is not the frame's bytes there", a.path, a.off)
		}
		next[a.space] += len(a.raw)
	}
	return next[""]
}

// walkDamaged walks frame cut short (its size field made to agree) or with
// a byte flipped, as d says: an error is fine, a panic is not, and what
// was read is annotated in order.
func walkDamaged(t *testing.T, d *dumpInput, frame []byte) {
	t.Helper()
	if d.cut == 0 && d.flip == 0 {
		return
	}
	damaged := bytes.Clone(frame)
	if d.cut != 0 {
		// Without the capacity past the cut, as a frame that was never
		// longer: reading past its end then panics, as it would there.
		n := 4 + int(d.cut%uint32(len(frame)-3))
		damaged = damaged[:n:n]
		n -= 4
		damaged[0], damaged[1], damaged[2], damaged[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	}
	if d.flip != 0 {
		damaged[int(d.flipAt%uint32(len(damaged)))] ^= d.flip
	}
	as, err := walkRequest(damaged)
	next := checkAnnotationsInOrder(t, damaged, as)
	if err == nil && next != len(damaged) {
		t.Fatalf("a damaged frame walked without error, %d of its %d bytes annotated", next, len(damaged))
	}
	if err := writeAnnotations(io.Discard, as); err != nil {
		t.Fatal(err)
	}
}
