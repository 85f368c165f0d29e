package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/record"
)

// javaReadLevels are the codecs and levels every shape is written with.
// LZ4's default (Java's 9) and zstd's default are our own compressors
// (zstd's where klauspost's fastest encoder cannot shrink the batch by a
// sixty-fourth, and the shapes marked ours must come out in other bytes
// than that encoder's); LZ4's 1 and 6 are pierrec's HC modes; zstd's -5 and 1 are
// klauspost's fastest encoder, 6 its better one and 12 its best.
var javaReadLevels = []struct {
	codec  compression.Codec
	levels []int
}{
	{compression.None, []int{compression.DefaultLevel}},
	{compression.Gzip, []int{compression.DefaultLevel, 1, 9}},
	{compression.Snappy, []int{compression.DefaultLevel}},
	{compression.LZ4, []int{compression.DefaultLevel, 1, 6}},
	{compression.Zstd, []int{compression.DefaultLevel, -5, 1, 6, 12}},
}

// javaReadBatch is one batch of the file and what it was written from.
type javaReadBatch struct {
	codec   compression.Codec
	level   int
	shape   *javaReadShape
	base    int64
	batch   []byte
	ourZstd bool // zstd's default level, and not klauspost's fastest encoder's bytes
}

func (b *javaReadBatch) String() string {
	return fmt.Sprintf("%v level %d, %s (batch at offset %d)", b.codec, b.level, b.shape.name, b.base)
}

// TestJavaConsumerReadsOurBatches has the Java consumer's own code read
// what record.Builder writes, with every codec at several levels over many
// shapes of records, and compares every record's offset, timestamp, key,
// value and headers with what was written, byte for byte. The Go decoders
// the compressors' fuzz targets check against are not the ones Java
// consumers use (lz4-java, zstd-jni, snappy-java), and neither LZ4 nor
// zstd frames carry a checksum as we write them: a frame that both read
// without complaint, but as different bytes, would pass the broker's
// validation too and reach a Java consumer wrong. The batches go into one
// file, back to back with offsets as in a log, which ReadBatches.java reads
// with kafka-clients (MemoryRecords, each batch's CRC, its records) as the
// consumer's fetcher does. It needs Java and the jars broker.sh fetches;
// without them it skips, except in CI.
func TestJavaConsumerReadsOurBatches(t *testing.T) {
	if raceEnabled {
		// One goroutine compresses and compares, where the race detector
		// has nothing to find and makes the test take 14 s instead of 2.
		t.Skip("without -race only: make test runs the suite without it too")
	}
	java, classpath := javaReadTools(t)
	shapes := javaReadShapes()
	var batches []*javaReadBatch
	var file []byte
	var base int64
	for _, cl := range javaReadLevels {
		for _, level := range cl.levels {
			for i := range shapes {
				b := writeJavaReadBatch(t, cl.codec, level, &shapes[i], base)
				batches = append(batches, b)
				file = append(file, b.batch...)
				base += int64(len(shapes[i].records)) + 1 // a gap, as compaction leaves
			}
		}
	}
	var ours []string
	for _, b := range batches {
		if b.ourZstd {
			ours = append(ours, b.shape.name)
		} else if b.codec == compression.Zstd && b.level == compression.DefaultLevel && b.shape.ours {
			// Else this test would no longer check our compressor on it.
			t.Errorf("%v: zstd's default level wrote klauspost's fastest encoder's frame, not ours: either that encoder now shrinks it by a sixty-fourth (change its data), or ours is not used", b)
		}
	}
	t.Logf("%d batches, %d bytes; zstd's default level wrote other bytes than klauspost's fastest encoder, ours, for %q", len(batches), len(file), ours)

	path := filepath.Join(t.TempDir(), "batches")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, java, "-XX:+UseSerialGC", "-cp", classpath,
		filepath.Join("kafka", "ReadBatches.java"), path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("ReadBatches.java: %v\n%s", err, lastLines(stderr.String(), 40))
	}
	t.Logf("Java read them in %v", time.Since(started).Round(time.Millisecond))
	compareJavaRead(t, batches, stdout.Bytes(), stderr.String())
}

// writeJavaReadBatch writes shape's records as a batch with codec at level,
// at base offset base.
func writeJavaReadBatch(t *testing.T, codec compression.Codec, level int, shape *javaReadShape, base int64) *javaReadBatch {
	t.Helper()
	b := &javaReadBatch{codec: codec, level: level, shape: shape, base: base}
	raw := record.BatchHeaderSize
	for i, d := range shape.records {
		raw += record.RecordSize(int32(i), d.TimestampMs-shape.records[0].TimestampMs, d.Key, d.Value, d.Headers)
	}
	closeWith := func(codec compression.Codec, level int) []byte {
		var builder record.Builder
		// Room for any compressed form, however much it grows: Close
		// would store what does not fit uncompressed, and the
		// compressor's output would go unread.
		builder.Reset(make([]byte, 0, 2*raw+1<<10))
		for _, d := range shape.records {
			builder.Append(d.TimestampMs, d.Key, d.Value, d.Headers)
		}
		batch, err := builder.Close(record.CloseOptions{Codec: codec, Level: level,
			ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence})
		if err != nil {
			t.Fatalf("%v: Close: %v", b, err)
		}
		return batch
	}
	b.batch = closeWith(codec, level)
	if got := record.CodecOf(b.batch); got != codec {
		t.Fatalf("%v: the batch is written with %v", b, got)
	}
	// The batch's base offset is outside its CRC, which the broker's
	// assignment of offsets relies on too.
	binary.BigEndian.PutUint64(b.batch, uint64(base))
	if codec == compression.Zstd && level == compression.DefaultLevel {
		// compressZstdDefault tries klauspost's fastest encoder (zstd's
		// level 1) first and keeps its frame if it shrinks the records by
		// a sixty-fourth; else it writes ours. The frame's bytes tell which
		// wrote it, where reapplying that rule here would not notice ours
		// being skipped, nor ours writing klauspost's bytes (a stored
		// block is the same from both).
		records := closeWith(compression.None, compression.DefaultLevel)[record.BatchHeaderSize:]
		fastest, err := compression.Compress(nil, compression.Zstd, 1, records)
		if err != nil {
			t.Fatal(err)
		}
		b.ourZstd = !bytes.Equal(b.batch[record.BatchHeaderSize:], fastest)
	}
	return b
}

// javaReadTools returns the java command and the classpath of Kafka's jars,
// as broker.sh finds them. Outside CI a machine without Java or without the
// jars skips the test; in CI, which fetches them to run Kafka, it fails.
func javaReadTools(t *testing.T) (java, classpath string) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	java = os.Getenv("JAVA")
	if java == "" {
		java = "java"
		if home := os.Getenv("JAVA_HOME"); home != "" {
			java = filepath.Join(home, "bin", "java")
		}
	}
	if _, err := exec.LookPath(java); err != nil {
		if ci {
			t.Fatalf("java: %v, and CI=true: the Java consumer must read our batches there", err)
		}
		t.Skipf("java: %v; the Java consumer's reading of our batches needs Java 17+ (JAVA or JAVA_HOME)", err)
	}
	args := []string{"classpath"}
	if !ci {
		// Outside CI, a test run does not download Kafka.
		args = append(args, "--cached")
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), filepath.Join("kafka", "broker.sh"), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 3 && !ci {
		t.Skipf("Kafka's jars are not fetched (kafka/broker.sh classpath fetches them): %s", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("kafka/broker.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return java, strings.TrimSpace(string(out))
}

// javaReadRecord is one record as ReadBatches.java prints it.
type javaReadRecord struct {
	offset, timestamp int64
	key, value        []byte
	headers           []record.Header
}

// compareJavaRead checks what ReadBatches.java printed (out) against the
// batches written, batch by batch and record by record.
func compareJavaRead(t *testing.T, batches []*javaReadBatch, out []byte, stderr string) {
	t.Helper()
	lines := bufio.NewScanner(bytes.NewReader(out))
	lines.Buffer(nil, 64<<20)
	next := func() []string {
		if !lines.Scan() {
			return nil
		}
		return strings.Split(lines.Text(), "\t")
	}
	line := next()
	for _, b := range batches {
		if line == nil || line[0] != "B" && line[0] != "E" || len(line) < 3 {
			t.Fatalf("%v: ReadBatches.java printed %q where the batch should start", b, line)
		}
		if line[1] != strconv.FormatInt(b.base, 10) {
			t.Fatalf("%v: ReadBatches.java read a batch at offset %s", b, line[1])
		}
		if line[0] == "E" {
			t.Errorf("%v: the Java consumer failed before the batch's records: %s", b, line[2])
			line = next()
			continue
		}
		if line[2] != b.codec.String() {
			t.Errorf("%v: the Java consumer reads its codec as %s", b, line[2])
		}
		mismatches := 0
		for i, d := range b.shape.records {
			line = next()
			if line == nil || line[0] != "R" {
				if line != nil && line[0] == "E" {
					t.Errorf("%v: the Java consumer failed at record %d: %s", b, i, line[2])
					line = next()
				} else {
					t.Errorf("%v: the Java consumer read %d records, want %d", b, i, len(b.shape.records))
				}
				break
			}
			got, err := parseJavaReadRecord(line)
			if err != nil {
				t.Fatalf("%v: record %d: %v", b, i, err)
			}
			if diff := javaReadDiff(b.base+int64(i), &d, got); diff != "" {
				t.Errorf("%v: record %d: %s", b, i, diff)
				if mismatches++; mismatches == 3 {
					t.Errorf("%v: not comparing its other records", b)
					for line != nil && line[0] == "R" {
						line = next()
					}
					break
				}
			}
		}
		if line != nil && line[0] == "R" {
			line = next()
		}
		if line != nil && line[0] == "R" {
			t.Errorf("%v: the Java consumer read more than its %d records", b, len(b.shape.records))
			for line != nil && line[0] == "R" {
				line = next()
			}
		}
	}
	if line != nil {
		t.Errorf("ReadBatches.java printed %q after the last batch", line)
	}
	if t.Failed() && stderr != "" {
		t.Logf("ReadBatches.java's stderr:\n%s", lastLines(stderr, 60))
	}
}

// parseJavaReadRecord reads an R line of ReadBatches.java.
func parseJavaReadRecord(f []string) (*javaReadRecord, error) {
	if len(f) < 6 {
		return nil, fmt.Errorf("a record line of %d fields: %q", len(f), f)
	}
	var r javaReadRecord
	var err error
	field := func(s string) []byte {
		if s == "-" || err != nil {
			return nil
		}
		var b []byte
		b, err = base64.StdEncoding.AppendDecode([]byte{}, []byte(s))
		return b
	}
	if r.offset, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return nil, err
	}
	if r.timestamp, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return nil, err
	}
	r.key, r.value = field(f[3]), field(f[4])
	n, err := strconv.Atoi(f[5])
	if err != nil || len(f) != 6+2*n {
		return nil, fmt.Errorf("a record line of %d fields for %q headers", len(f), f[5])
	}
	for i := range n {
		r.headers = append(r.headers, record.Header{Key: string(field(f[6+2*i])), Value: field(f[7+2*i])})
	}
	return &r, err
}

// javaReadDiff says how the record Java read differs from the one written
// at offset, or "" if it does not.
func javaReadDiff(offset int64, want *record.Data, got *javaReadRecord) string {
	switch {
	case got.offset != offset:
		return fmt.Sprintf("offset %d, want %d", got.offset, offset)
	case got.timestamp != want.TimestampMs:
		return fmt.Sprintf("timestamp %d, want %d", got.timestamp, want.TimestampMs)
	case !sameRecordBytes(want.Key, got.key):
		return "key " + bytesDiff(want.Key, got.key)
	case !sameRecordBytes(want.Value, got.value):
		return "value " + bytesDiff(want.Value, got.value)
	case len(got.headers) != len(want.Headers):
		return fmt.Sprintf("%d headers, want %d", len(got.headers), len(want.Headers))
	}
	for i, h := range want.Headers {
		if got.headers[i].Key != h.Key {
			return fmt.Sprintf("header %d's key %q, want %q", i, got.headers[i].Key, h.Key)
		}
		if !sameRecordBytes(h.Value, got.headers[i].Value) {
			return fmt.Sprintf("header %d's value %s", i, bytesDiff(h.Value, got.headers[i].Value))
		}
	}
	return ""
}

// bytesDiff describes how got differs from want: null, its length, and
// the first byte that differs with a few around it.
func bytesDiff(want, got []byte) string {
	switch {
	case want == nil:
		return fmt.Sprintf("is %d bytes, want null", len(got))
	case got == nil:
		return fmt.Sprintf("is null, want %d bytes", len(want))
	}
	at := 0
	for at < len(want) && at < len(got) && want[at] == got[at] {
		at++
	}
	around := func(b []byte) []byte { return b[max(0, at-8):min(len(b), at+8)] }
	return fmt.Sprintf("is %d bytes, want %d: first difference at byte %d, %x where %x is written",
		len(got), len(want), at, around(got), around(want))
}

// lastLines is s's last n lines.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
