package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	problems := compareJavaRead(batches, stdout.Bytes())
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 && stderr.Len() > 0 {
		t.Logf("ReadBatches.java's stderr:\n%s", lastLines(stderr.String(), 60))
	}
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
// jars skips the test. In CI it fetches the jars if they are missing (the
// CI's broker start has fetched them already), and fails, rather than
// skips, if it cannot or if Java is missing.
func javaReadTools(t *testing.T) (java, classpath string) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	java = javaCommand()
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
	// broker.sh bounds each of a fetch's two Maven runs by
	// KAFKA_FETCH_TIMEOUT (5 minutes by default); the limit lies above
	// both, so that a fetch that hangs fails with broker.sh's own message.
	// KAFKA_VERSION picks the release of the brokers a suite runs against,
	// a 3.x say, not the reader's: ReadBatches.java needs 4.3's classes,
	// and so the jars of broker.sh's default release, which an empty
	// KAFKA_VERSION gives.
	out, err := runBrokerScriptWith([]string{"KAFKA_VERSION="}, filepath.Join("kafka", "broker.sh"), 11*time.Minute, args...)
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 3 && !ci {
		t.Skipf("Kafka's jars are not fetched (kafka/broker.sh classpath fetches them): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return java, strings.TrimSpace(string(out))
}

// javaCommand is the java that broker.sh runs Kafka with, found as it
// finds it: JAVA, unless unset or "java", else JAVA_HOME's bin/java if that
// is executable, else java on the PATH. Otherwise the consumer's classes
// could be run on another Java than the broker's.
func javaCommand() string {
	java := os.Getenv("JAVA")
	if java == "" {
		java = "java"
	}
	if home := os.Getenv("JAVA_HOME"); home != "" && java == "java" {
		// bash's -x, as far as the mode says.
		bin := filepath.Join(home, "bin", "java")
		if st, err := os.Stat(bin); err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0 {
			java = bin
		}
	}
	return java
}

// TestJavaCommandIsBrokerShs has the test run the java broker.sh runs
// Kafka with: JAVA, else JAVA_HOME's if it is executable, else java.
func TestJavaCommandIsBrokerShs(t *testing.T) {
	home := t.TempDir()
	bin := filepath.Join(home, "bin", "java")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JAVA_HOME", home)
	t.Setenv("JAVA", "")
	if got := javaCommand(); got != "java" {
		t.Errorf("with JAVA_HOME's java not executable: %q, want java", got)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := javaCommand(); got != bin {
		t.Errorf("with JAVA_HOME's java executable: %q, want %q", got, bin)
	}
	t.Setenv("JAVA", "/opt/jdk/bin/java")
	if got := javaCommand(); got != "/opt/jdk/bin/java" {
		t.Errorf("with JAVA set: %q, want JAVA's", got)
	}
	// broker.sh reads JAVA=java as unset.
	t.Setenv("JAVA", "java")
	if got := javaCommand(); got != bin {
		t.Errorf("with JAVA=java: %q, want JAVA_HOME's %q", got, bin)
	}
}
