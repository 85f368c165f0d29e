package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/record"

	producer "github.com/gokafka/producer"
)

// fixedTopicID is a topic id as kafka-topics.sh --describe prints it.
const fixedTopicID = "AAECAwQFBgcICQoLDA0ODw"

var fixedDump = []string{"dump", "--key", "k", "--value", "v", "--header", "trace=abc",
	"--timestamp", "2024-01-02T03:04:05Z", "--topic-id", fixedTopicID}

func TestDumpIsDeterministicAndComplete(t *testing.T) {
	a := runKprod(t, "", fixedDump...)
	b := runKprod(t, "", fixedDump...)
	if a.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", a.code, a.stderr)
	}
	if a.stdout != b.stdout {
		t.Fatalf("two dumps of the same input differ:\n%s\n---\n%s", a.stdout, b.stdout)
	}
	for _, want := range []string{
		"RequestHeader.RequestApiKey", "(Produce)", "RequestHeader.ClientId", `"kprod"`,
		"TopicData[0].TopicId", "00 01 02 03", "= " + fixedTopicID, "PartitionData[0].Records.length",
		"batch[0].crc", "verifies", "batch[0].attributes", "compression=none",
		"2024-01-02T03:04:05.000Z",
		"records[0].length", "records[0].timestampDelta", "records[0].offsetDelta",
		"records[0].keyLength", "records[0].key", `"k"`, "records[0].value", `"v"`,
		"records[0].headersCount", "headers[0].headerKey", `"trace"`, "headers[0].headerValue", `"abc"`,
	} {
		if !strings.Contains(a.stdout, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("dump:\n%s", a.stdout)
	}
}

func TestDumpStdinEachCodec(t *testing.T) {
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			r := runKprod(t, "a:1\nb:2\nno key\n", "dump", "--key-separator", ":", "--compression", codec,
				"--timestamp", "1700000000000")
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			for _, want := range []string{"verifies", "compression=" + codec, "records[2].value", `"no key"`, "= null"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("dump lacks %q:\n%s", want, r.stdout)
				}
			}
			if codec != "none" && !strings.Contains(r.stdout, "decompressed records") {
				t.Errorf("compressed records not walked:\n%s", r.stdout)
			}
		})
	}
}

// An empty --null-marker given is kcat's -Z: an empty key or value is
// null. It was taken for no marker, silently.
func TestAnEmptyNullMarkerGivenMakesEmptyPartsNull(t *testing.T) {
	r := runKprod(t, ":\n", "dump", "-K", ":", "--null-marker", "", "--timestamp", "0")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	for _, field := range []string{"records[0].keyLength", "records[0].valueLength"} {
		if !regexp.MustCompile(regexp.QuoteMeta(field) + `\s+01\s+-1 = null`).MatchString(r.stdout) {
			t.Errorf("%s is not null:\n%s", field, r.stdout)
		}
	}
}

func TestDumpEachVersion(t *testing.T) {
	v := protocol.Supported(protocol.Produce)
	for version := v.Min; version <= v.Max; version++ {
		r := runKprod(t, "", "dump", "--value", "x", "--version", fmt.Sprint(version), "--timestamp", "0")
		if r.code != exitOK {
			t.Fatalf("v%d: exit %d\nstderr:\n%s", version, r.code, r.stderr)
		}
		header := "RequestHeader v1"
		if version >= 9 {
			header = "RequestHeader v2"
		}
		topic := "TopicData[0].Name"
		if version >= 13 {
			topic = "TopicData[0].TopicId" // KIP-516
		}
		for _, want := range []string{header, topic} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("v%d: dump lacks %q", version, want)
			}
		}
	}
}

// --raw writes the bytes the listing explains; decoding them with the
// protocol and record packages gives back the records.
func TestDumpRawDecodes(t *testing.T) {
	r := runKprod(t, "k1=v1\nk2=v2\n", "dump", "--raw", "--key-separator", "=", "--compression", "zstd", "--partition", "4",
		"--topic-id", fixedTopicID)
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	frame := []byte(r.stdout)
	api, version, _, clientID, body, err := protocol.ReadRequestHeader(frame[4:])
	if err != nil || api != protocol.Produce || version != protocol.Supported(protocol.Produce).Max || *clientID != "kprod" {
		t.Fatalf("header: %v %v %v %v", api, version, clientID, err)
	}
	var req protocol.ProduceRequest
	if err := req.ReadFrom(body, version); err != nil {
		t.Fatal(err)
	}
	p := req.Topics[0].Partitions[0]
	wantID := [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if req.Topics[0].TopicID != wantID || p.Index != 4 {
		t.Fatalf("topic id %x partition %d", req.Topics[0].TopicID, p.Index)
	}
	recs := decodeRecords(t, p.Records)
	if len(recs) != 2 || string(recs[0].Key) != "k1" || string(recs[1].Value) != "v2" {
		t.Fatalf("records %+v", recs)
	}
}

// A field of one byte is said in the singular, as the rest of kprod's
// output says one of anything: a one-letter client id, topic, key, value
// or header read "1 bytes" in the dump, and a one-byte binary value "(1
// bytes of binary data)". v8 has the int16 lengths of strings.
func TestTheDumpSaysOneByteInTheSingular(t *testing.T) {
	r := runKprod(t, "", "dump", "--version", "8", "--client-id", "c", "--topic", "t",
		"--key", "\x01", "--value", "v", "--header", "h=\x02", "--timestamp", "0")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"ClientId.length", "Name.length", "keyLength", "valueLength", "headerKeyLength", "headerValueLength",
	} {
		if !regexp.MustCompile(`\.` + want + ` .* 1 byte( \[zigzag varint\])?\n`).MatchString(r.stdout) {
			t.Errorf("dump has no line %s ... 1 byte", want)
		}
	}
	if n := strings.Count(r.stdout, "(1 byte of binary data)"); n != 2 {
		t.Errorf("%d fields say (1 byte of binary data), want 2: the key and the header's value", n)
	}
	if t.Failed() {
		t.Logf("dump:\n%s", r.stdout)
	}
}

// --topic-id takes an id as Kafka prints it, and nothing else.
func TestDumpRejectsBadTopicID(t *testing.T) {
	for _, bad := range []string{"not-an-id", "AAECAwQFBgcICQoLDA0O", "00010203-0405-0607-0809-0a0b0c0d0e0f"} {
		r := runKprod(t, "", "dump", "--value", "x", "--topic-id", bad)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--topic-id") {
			t.Errorf("--topic-id %s: exit %d, stderr %q; want a usage error naming the flag", bad, r.code, r.stderr)
		}
	}
}

// A --topic or --topic-id that the --version does not carry is a usage
// error naming it: the request names its topic by name up to v12, by id
// from v13, and the other flag was dropped without a word, exit 0.
func TestDumpRefusesATopicFlagItsVersionDoesNotCarry(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "mytopic"}, "--topic: Produce v13 names the topic by id (--topic-id)"},
		{[]string{"--version", "12", "--topic-id", "AQIDBAUGBwgJCgsMDQ4PEA"}, "--topic-id: Produce v12 names the topic by name (--topic)"},
	} {
		r := runKprod(t, "", append([]string{"dump", "--value", "v", "--timestamp", "0"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	for _, args := range [][]string{{"--version", "12", "--topic", "mytopic"}, {"--topic-id", "AQIDBAUGBwgJCgsMDQ4PEA"}} {
		if r := runKprod(t, "", append([]string{"dump", "--value", "v", "--timestamp", "0"}, args...)...); r.code != exitOK {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// buildFrame makes a request as dump does, in-process.
func buildFrame(t *testing.T, version int16, codec compression.Codec, recs []producer.Record) []byte {
	t.Helper()
	batch, err := encodeBatch(recs, codec, 0, time.UnixMilli(1700000000000))
	if err != nil {
		t.Fatal(err)
	}
	pr := &protocol.ProduceRequest{Acks: -1, TimeoutMs: 1000, Topics: []protocol.ProduceRequestTopic{{
		Name: "topic", Partitions: []protocol.ProduceRequestPartition{{Index: 1, Records: batch}},
	}}}
	id := "id"
	frame := protocol.AppendRequestHeader([]byte{0, 0, 0, 0}, protocol.Produce, version, 7, &id)
	frame = pr.AppendTo(frame, version)
	n := len(frame) - 4
	frame[0], frame[1], frame[2], frame[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return frame
}

var sampleRecords = []producer.Record{
	{Key: []byte("key"), Value: []byte("value"), Headers: []producer.Header{{Key: "h", Value: []byte("1")}, {Key: "null"}}},
	{Value: bytes.Repeat([]byte("long value "), 40)},
	{Key: []byte{}, Value: nil},
}

// Every byte of the request belongs to exactly one annotated field, in
// order: the annotations of the request's own space concatenate back to the
// frame.
func TestWalkCoversEveryByte(t *testing.T) {
	v := protocol.Supported(protocol.Produce)
	for version := v.Min; version <= v.Max; version++ {
		for _, codec := range []compression.Codec{compression.None, compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd} {
			frame := buildFrame(t, version, codec, sampleRecords)
			as, err := walkRequest(frame)
			if err != nil {
				t.Fatalf("v%d %v: %v", version, codec, err)
			}
			var joined []byte
			next := 0
			for _, a := range as {
				if a.space != "" {
					continue
				}
				if a.off != next {
					t.Fatalf("v%d %v: %s at offset %d, want %d", version, codec, a.path, a.off, next)
				}
				joined = append(joined, a.raw...)
				next += len(a.raw)
			}
			if !bytes.Equal(joined, frame) {
				t.Fatalf("v%d %v: annotations do not add up to the frame", version, codec)
			}
		}
	}
}

func TestWalkReportsCRCMismatch(t *testing.T) {
	frame := buildFrame(t, 11, compression.None, sampleRecords)
	frame[bytes.Index(frame, []byte("long value"))] ^= 0x20 // a value byte, covered by the CRC
	as, err := walkRequest(frame)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if strings.HasSuffix(a.path, ".crc") {
			if !strings.Contains(a.value, "MISMATCH") {
				t.Errorf("crc: %s", a.value)
			}
			return
		}
	}
	t.Fatal("no crc field")
}

func TestWalkRejectsTruncation(t *testing.T) {
	frame := buildFrame(t, 9, compression.None, sampleRecords)
	if _, err := walkRequest(frame[:len(frame)-3]); err == nil {
		t.Fatal("a truncated request walked without error")
	}
}

// A frame cut short with its size field made to agree, so that the size
// check passes, is walked to an error wherever the cut: one inside a batch
// left the Records length past the frame's end, and the batch's CRC was
// read from there, a panic (or bytes past the frame, within its capacity).
func TestWalkRejectsAFrameCutShortWithItsSizeToMatch(t *testing.T) {
	frame := buildFrame(t, 11, compression.None, sampleRecords)
	for n := 4; n < len(frame); n++ {
		cut := append(make([]byte, 0, n), frame[:n]...) // no capacity past n
		binary.BigEndian.PutUint32(cut, uint32(n-4))
		if _, err := walkRequest(cut); err == nil {
			t.Errorf("cut to %d of its %d bytes: walked without error", n, len(frame))
		}
	}
}

// A batchLength of math.MaxInt32 is refused where an int has 32 bits too,
// where the batch's end, its offset plus the length, wrapped negative.
func TestWalkRejectsTheLargestBatchLength(t *testing.T) {
	frame := buildFrame(t, 11, compression.None, sampleRecords)
	batch, err := encodeBatch(sampleRecords, compression.None, 0, time.UnixMilli(1700000000000))
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(frame, batch)                         // buildFrame's batch, the same records
	binary.BigEndian.PutUint32(frame[at+8:], math.MaxInt32) // after baseOffset
	if _, err := walkRequest(frame); err == nil || !strings.Contains(err.Error(), "batchLength") {
		t.Fatalf("error %v, want one about the batchLength", err)
	}
}

// The CRC the walker checks is the one the record package writes.
func TestWalkCRCMatchesRecordPackage(t *testing.T) {
	batch, err := encodeBatch(sampleRecords, compression.None, 0, time.UnixMilli(0))
	if err != nil {
		t.Fatal(err)
	}
	want := crc32.Checksum(batch[21:], castagnoli)
	got := uint32(batch[17])<<24 | uint32(batch[18])<<16 | uint32(batch[19])<<8 | uint32(batch[20])
	if got != want {
		t.Fatalf("crc %08x, want %08x", got, want)
	}
}

func decodeRecords(t *testing.T, b []byte) []record.Record {
	t.Helper()
	batch, _, err := record.DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return batch.Records
}

// A varint of an int32 field, or an unsigned varint, past an int32's range
// is refused where it is read: five bytes hold 35 bits, and the walk's int
// of such a length wrapped where an int has 32 bits, a record of 2^32+3
// bytes read as one of 3. The largest in range is read as it is.
func TestWalkRefusesAVarintPastAnInt32(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(c *cursor) int64
		b    []byte
		want int64 // 0 with an error
	}{
		{"varint 2^32+3", func(c *cursor) int64 { return c.varint("length", 5, nil) }, binary.AppendVarint(nil, 1<<32+3), 0},
		{"varint -2^31-1", func(c *cursor) int64 { return c.varint("length", 5, nil) }, binary.AppendVarint(nil, math.MinInt32-1), 0},
		{"varint MaxInt32", func(c *cursor) int64 { return c.varint("length", 5, nil) }, binary.AppendVarint(nil, math.MaxInt32), math.MaxInt32},
		{"varlong 2^32+3", func(c *cursor) int64 { return c.varint("timestampDelta", 10, nil) }, binary.AppendVarint(nil, 1<<32+3), 1<<32 + 3},
		{"uvarint 2^31", func(c *cursor) int64 { return int64(c.uvarint("length", nil)) }, binary.AppendUvarint(nil, 1<<31), 0},
		{"uvarint MaxInt32", func(c *cursor) int64 { return int64(c.uvarint("length", nil)) }, binary.AppendUvarint(nil, math.MaxInt32), math.MaxInt32},
	} {
		var out []annotation
		c := newCursor(tc.b, 100, "", &out)
		got := tc.read(c)
		if tc.want != 0 {
			if c.err != nil || got != tc.want {
				t.Errorf("%s: %d, %v; want %d", tc.name, got, c.err, tc.want)
			}
			continue
		}
		if c.err == nil || !strings.Contains(c.err.Error(), "at offset 100: ") || !strings.Contains(c.err.Error(), "past an int32's range") {
			t.Errorf("%s: %d, error %v; want one past an int32's range at offset 100", tc.name, got, c.err)
		}
	}
}
