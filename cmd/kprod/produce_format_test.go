package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokafka/producer/integration/readback"
)

// readBack reads the n records of topic with franz-go, a client we did not
// write, in partition and offset order.
func readBack(t *testing.T, brokers, topic string, n int) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consumeTimeout)
	defer cancel()
	recs, err := readback.ReadAll(ctx, strings.Split(brokers, ","), topic, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("read %d records of %s, want %d", len(recs), topic, n)
	}
	return recs
}

// describe is a record as the tests compare it: null and empty differ.
func describe(r readback.Record) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+show(h.Value))
	}
	return "key " + show(r.Key) + " value " + show(r.Value) + " headers [" + strings.Join(hs, " ") + "]"
}

// mustProduce runs kprod produce and requires every record acknowledged.
func mustProduce(t *testing.T, stdin string, args ...string) {
	t.Helper()
	r := runKprod(t, stdin, append([]string{"produce"}, args...)...)
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
}

// The console producer's per-record headers (KIP-798) and null marker
// (KIP-810), kcat's -H on every record, and Java settings by -X, read back
// by another client.
func TestProduceHeadersNullsAndSettings(t *testing.T) {
	produceHeadersNullsAndSettings(t, sharedBroker(t))
}

func TestRealBrokerProduceHeadersNullsAndSettings(t *testing.T) {
	produceHeadersNullsAndSettings(t, realBrokers(t))
}

func produceHeadersNullsAndSettings(t *testing.T, brokers string) {
	topic := uniqueTopic("headers")
	input := "trace:abc,empty:\tk1:v1\n" +
		"\tk2:NULL\n" +
		"h:NULL,bare\tNULL:v3\n"
	mustProduce(t, input, "-b", brokers, "--create-topic", "-t", topic, "--partitions", "1",
		"-K", ":", "--parse-headers", "--null-marker", "NULL", "-H", "source=kprod",
		"-X", "compression.type=gzip", "-X", "linger.ms=0")
	want := []string{
		"key 'k1' value 'v1' headers [source='kprod' trace='abc' empty='']",
		"key 'k2' value <null> headers [source='kprod']",
		"key <null> value 'v3' headers [source='kprod' h=<null> bare=<null>]",
	}
	for i, r := range readBack(t, brokers, topic, len(want)) {
		if got := describe(r); got != want[i] {
			t.Errorf("record %d: %s\nwant %s", i, got, want[i])
		}
		if r.Compression != 1 {
			t.Errorf("record %d in a batch of codec %d, want gzip (1) from -X compression.type", i, r.Compression)
		}
	}
}

// kcat's -D delimiter with an escape, -k: one key for every record, and
// settings from a Java properties file.
func TestProduceDelimiterFixedKeyAndConfigFile(t *testing.T) {
	brokers, topic := sharedBroker(t), uniqueTopic("delimiter")
	props := filepath.Join(t.TempDir(), "producer.properties")
	if err := os.WriteFile(props, []byte("# as for kafka-console-producer --producer.config\ncompression.type = lz4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, "first\x00second\nline\x00", "-b", brokers, "--create-topic", "-t", topic, "--partitions", "1",
		"-D", `\0`, "-k", "fixed", "--producer-config", props)
	want := []string{"key 'fixed' value 'first' headers []", "key 'fixed' value 'second\nline' headers []"}
	for i, r := range readBack(t, brokers, topic, len(want)) {
		if got := describe(r); got != want[i] {
			t.Errorf("record %d: %s\nwant %s", i, got, want[i])
		}
		if r.Compression != 3 {
			t.Errorf("record %d in a batch of codec %d, want lz4 (3) from the properties file", i, r.Compression)
		}
	}
}

// Each FILE argument is one record, whole, as kcat -P takes files; "-" is
// stdin.
func TestProduceFilesWhole(t *testing.T) {
	brokers, topic := sharedBroker(t), uniqueTopic("files")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.bin")
	if err := os.WriteFile(a, []byte("line 1\nline 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte{0, 1, 2, '\n', 255}, 0o644); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, "from\nstdin", "-b", brokers, "--create-topic", "-t", topic, "--partitions", "1", "-p", "0",
		"-H", "kind=file", a, "-", b)
	want := []string{"line 1\nline 2\n", "from\nstdin", "\x00\x01\x02\n\xff"}
	for i, r := range readBack(t, brokers, topic, len(want)) {
		if string(r.Value) != want[i] || r.Key != nil || len(r.Headers) != 1 {
			t.Errorf("record %d: %s, want value %q", i, describe(r), want[i])
		}
	}
}

// One file, and one record failed, are said in the singular, as the rest
// of kprod's output says one of anything: "producing 1 file(s), one record
// each" and "1 record(s) failed with RECORD_TOO_LARGE".
func TestOneFileAndOneFailedRecordAreSaidInTheSingular(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, []byte(strings.Repeat("x", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	topic := uniqueTopic("one-file")
	r := runKprod(t, "", "produce", "-b", sharedBroker(t), "-t", topic, "--create-topic", "--max-request-size", "100", file)
	for _, want := range []string{
		"producing 1 file, one record each to topic " + topic,
		"1 record failed with RECORD_TOO_LARGE, e.g.: ",
	} {
		if r.code != exitFailed || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, want)
		}
	}
}

// A malformed record stops produce with an error naming it, on stderr and
// in the JSON summary; what came before is produced, and the run fails.
func TestProduceMalformedRecord(t *testing.T) {
	brokers, topic := sharedBroker(t), uniqueTopic("malformed")
	r := runKprod(t, "h:1\tv1\nno headers here\nh:3\tv3\n", "produce", "-b", brokers, "--create-topic", "-t", topic,
		"--partitions", "1", "--parse-headers", "--json")
	if r.code != exitFailed || !strings.Contains(r.stderr, "record 2 of stdin: no headers delimiter") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit %d naming record 2", r.code, r.stderr, exitFailed)
	}
	s := parseSummary(t, r)
	if s.RecordsAcked != 1 {
		t.Errorf("acked %d, want the 1 record before the malformed one", s.RecordsAcked)
	}
	// The JSON summary says why the run stopped, as stderr does: it said
	// nothing of it.
	if !strings.Contains(s.Error, "record 2 of stdin: no headers delimiter") {
		t.Errorf("summary's error %q does not name record 2", s.Error)
	}
}

// A header key that is not UTF-8 fails its record alone, as any record the
// producer refuses (INVALID_RECORD), and the run goes on: it is not a
// malformed line of stdin, and the records after it are produced. The
// example of the failure names the byte, not the key: a key of a megabyte
// was quoted whole on stderr.
func TestAHeaderKeyThatIsNotUTF8FailsItsRecordOnly(t *testing.T) {
	brokers, topic := sharedBroker(t), uniqueTopic("header-key")
	long := strings.Repeat("k", 1<<20) + "\xff"
	r := runKprod(t, long+":1\tv1\nok:2\tv2\nk\xff:3\tv3\n", "produce", "-b", brokers, "--create-topic", "-t", topic,
		"--partitions", "1", "--parse-headers", "--json")
	want := "2 records failed with INVALID_RECORD, e.g.: "
	if r.code != exitFailed || !strings.Contains(r.stderr, want) || len(r.stderr) > 4096 {
		t.Fatalf("exit %d, stderr (%d bytes):\n%.2000s\nwant exit %d, %q and no key quoted whole",
			r.code, len(r.stderr), r.stderr, exitFailed, want)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("Headers[0].Key has the byte 0xff at %d, not UTF-8", 1<<20)) {
		t.Errorf("stderr:\n%s\nwant the example to name the byte", r.stderr)
	}
	s := parseSummary(t, r)
	if s.RecordsSent != 3 || s.RecordsAcked != 1 || s.Errors["INVALID_RECORD"] != 2 {
		t.Errorf("sent %d, acked %d, errors %v; want 3 sent, the 1 record in UTF-8 acked, 2 INVALID_RECORD",
			s.RecordsSent, s.RecordsAcked, s.Errors)
	}
}
