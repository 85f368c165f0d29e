package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/cmd/kprod/internal/payload"
	"github.com/gokafka/producer/record"
)

const testRecords = 20000

func TestPerfEachCodec(t *testing.T) {
	brokers := sharedBroker(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			r := runKprod(t, "", "perf", "--brokers", brokers, "--create-topic", "--topic", uniqueTopic("perf-"+codec),
				"--num-records", "20000", "--compression", codec, "--key-size", "8", "--json")
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			s := parseSummary(t, r)
			if s.RecordsSent != testRecords || s.RecordsAcked != testRecords || s.RecordsFailed != 0 {
				t.Errorf("sent %d acked %d failed %d, want %d acked", s.RecordsSent, s.RecordsAcked, s.RecordsFailed, testRecords)
			}
			if s.Compression != codec {
				t.Errorf("compression %q, want %q", s.Compression, codec)
			}
			if s.Batches < 1 || s.RecordsPerBatch <= 0 {
				t.Errorf("batches %d, records/batch %v", s.Batches, s.RecordsPerBatch)
			}
			if s.Bytes != testRecords*(100+8) {
				t.Errorf("bytes %d, want %d", s.Bytes, testRecords*(100+8))
			}
			// Values are random letters: entropy coders compress them,
			// whatever their speed. lz4 and snappy, which only find
			// repeats, may not.
			if (codec == "gzip" || codec == "zstd") && s.CompressionRatio <= 1 {
				t.Errorf("compression ratio %v with %s", s.CompressionRatio, codec)
			}
			if s.LatencyMs.Max < s.LatencyMs.P50 || s.LatencyMs.P50 <= 0 {
				t.Errorf("latency %+v", s.LatencyMs)
			}
		})
	}
}

// kprod alone is kprod perf with its defaults, on an embedded broker of its
// own; only the record count is lowered.
func TestDefaultCommandUsesEmbeddedBroker(t *testing.T) {
	r := runKprod(t, "", "--num-records", "20000", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "embedded broker at ") {
		t.Errorf("stderr does not give the embedded broker's address:\n%s", r.stderr)
	}
	s := parseSummary(t, r)
	if !s.Embedded || s.Mode != "perf" || s.Topic != "kprod-perf" || s.RecordsAcked != testRecords {
		t.Errorf("summary %+v", s)
	}
}

func TestPerfHumanSummary(t *testing.T) {
	r := runKprod(t, "", "perf", "--brokers", sharedBroker(t), "--create-topic", "--topic", uniqueTopic("human"), "--num-records", "1000")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"1,000 sent, 1,000 acked, 0 failed", "records/s", "MB/s", "p99.9", "records/batch", "µs/record"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestPerfSyncConcurrentThrottled(t *testing.T) {
	r := runKprod(t, "", "perf", "--brokers", sharedBroker(t), "--create-topic", "--topic", uniqueTopic("sync"),
		"--num-records", "500", "--sync", "--concurrency", "4", "--linger", "0", "--throughput", "100000", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.RecordsAcked != 500 {
		t.Errorf("acked %d, want 500", s.RecordsAcked)
	}
}

// Records larger than --max-request-size fail at once, client-side: exit
// status 1, and the summary counts them by error name. A value that fits
// the request with the batch header but for the record's framing passes
// kprod's check, and the producer refuses it.
func TestFailedRecordsExitOne(t *testing.T) {
	r := runKprod(t, "", "perf", "--brokers", sharedBroker(t), "--create-topic", "--topic", uniqueTopic("toolarge"),
		"--num-records", "3", "--max-request-size", "1000", "--record-size", fmt.Sprint(1000-record.BatchHeaderSize), "--json")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitFailed, r.stderr)
	}
	s := parseSummary(t, r)
	if s.RecordsSent != 3 || s.RecordsFailed != 3 || s.Errors["RECORD_TOO_LARGE"] != 3 {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(r.stderr, "RECORD_TOO_LARGE") {
		t.Errorf("stderr does not explain the failure:\n%s", r.stderr)
	}
}

// A key and value that fit a request, with their batch's header and their
// framing, are produced, however close to the limit.
func TestRecordsThatFitTheMaxRequestSize(t *testing.T) {
	r := runKprod(t, "", "perf", "--brokers", sharedBroker(t), "--create-topic", "--topic", uniqueTopic("fits"),
		"--num-records", "3", "--max-request-size", "1000", "--key-size", "30", "--record-size", "900", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.RecordsAcked != 3 {
		t.Errorf("acked %d, want 3", s.RecordsAcked)
	}
}

// Records of one byte are said in the singular on the run's first line,
// as the rest of kprod's output says one of anything: --record-size 1
// printed "of 1 bytes" and "of 1 random bytes".
func TestTheFirstLineSaysOneByteInTheSingular(t *testing.T) {
	brokers := sharedBroker(t)
	for payload, want := range map[string]string{
		"letters": "producing 2 records of 1 byte to topic ",
		"random":  "producing 2 records of 1 random byte to topic ",
	} {
		r := runKprod(t, "", "perf", "-b", brokers, "--create-topic", "-t", uniqueTopic("one-byte"),
			"--num-records", "2", "--record-size", "1", "--payload", payload)
		if r.code != exitOK || !strings.Contains(r.stderr, want) {
			t.Errorf("--payload %s: exit %d, stderr:\n%s\nwant %q", payload, r.code, r.stderr, want)
		}
	}
}

// One record, one payload and transactions of one record are said in the
// singular on the run's first line, as on the transactions' line
// (TestTheTransactionsLineSaysOneRecordInTheSingular): it read "1 records
// of 100 bytes" and "in transactions of 1 records".
func TestTheFirstLineSaysOneRecordInTheSingular(t *testing.T) {
	brokers := sharedBroker(t)
	file := filepath.Join(t.TempDir(), "payloads.txt")
	if err := os.WriteFile(file, []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "producing 1 record of 100 bytes to topic "},
		{[]string{"--payload", "random"}, "producing 1 record of 100 random bytes to topic "},
		{[]string{"--payload", file}, "producing 1 record taken from the 1 payload of " + file + " to topic "},
		{[]string{"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "1"},
			"producing 1 record of 100 bytes in transactions of 1 record (transactional id kprod-test-txn-id-"},
	} {
		args := append([]string{"perf", "-b", brokers, "--create-topic", "-t", uniqueTopic("one-record"), "--num-records", "1"}, tc.args...)
		if r := runKprod(t, "", args...); r.code != exitOK || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// The bar is drawn at once, and under acks=0, where no broker acknowledges
// a record, it counts records written, as the summary does.
func TestProgressAlways(t *testing.T) {
	for _, tc := range []struct{ acks, bar, notBar string }{
		{"all", "acked [", "written ["},
		{"0", "written [", "acked ["},
	} {
		r := runKprod(t, "", "perf", "--brokers", sharedBroker(t), "--create-topic", "--topic", uniqueTopic("progress"),
			"--num-records", "1000", "--acks", tc.acks, "--progress", "always", "--json")
		if r.code != exitOK {
			t.Fatalf("acks=%s: exit %d\nstderr:\n%s", tc.acks, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.bar) || strings.Contains(r.stderr, tc.notBar) {
			t.Errorf("acks=%s: no bar %q, or a bar %q, on stderr:\n%s", tc.acks, tc.bar, tc.notBar, r.stderr)
		}
		parseSummary(t, r) // stdout holds the summary alone
	}
}

// --payload FILE, or --payload-file FILE: every value is one of the file's
// payloads, chosen at random, as kafka-producer-perf-test chooses them.
func TestPerfPayloadFile(t *testing.T) {
	brokers := sharedBroker(t)
	file := filepath.Join(t.TempDir(), "payloads.txt")
	payloads := map[string]bool{"alpha": true, "beta, with a comma": true, `{"json": true}`: true}
	if err := os.WriteFile(file, []byte("alpha\nbeta, with a comma\n{\"json\": true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--payload", "--payload-file"} {
		t.Run(flag, func(t *testing.T) {
			const n = 300
			topic := uniqueTopic("payloads")
			r := runKprod(t, "", "perf", "-b", brokers, "--create-topic", "-t", topic, "--partitions", "1",
				flag, file, "--num-records", fmt.Sprint(n), "--json")
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			seen := map[string]int{}
			var bytes int64
			for _, rec := range readBack(t, brokers, topic, n) {
				if !payloads[string(rec.Value)] {
					t.Fatalf("value %q is not a payload of the file", rec.Value)
				}
				seen[string(rec.Value)]++
				bytes += int64(len(rec.Value))
			}
			if len(seen) != len(payloads) {
				t.Errorf("values %v: not every payload was used in %d records", seen, n)
			}
			if s := parseSummary(t, r); s.Bytes != bytes {
				t.Errorf("summary counts %d bytes, the records hold %d", s.Bytes, bytes)
			}
		})
	}
}

// --payload random values are random bytes, which zstd cannot compress;
// --payload letters (the default) are upper-case letters, which it can.
// Keys are fresh for each record with --key-pool 0, and drawn from the
// pool otherwise.
func TestPerfPayloadAndKeys(t *testing.T) {
	brokers := sharedBroker(t)
	const n = 2000
	for _, tc := range []struct {
		payload string
		keyPool int
	}{{"random", 0}, {"letters", 10}} {
		t.Run(tc.payload, func(t *testing.T) {
			topic := uniqueTopic("payload-" + tc.payload)
			r := runKprod(t, "", "perf", "-b", brokers, "--create-topic", "-t", topic, "--partitions", "1",
				"--payload", tc.payload, "--key-size", "16", "--key-pool", fmt.Sprint(tc.keyPool),
				"--compression", "zstd", "--num-records", fmt.Sprint(n), "--json")
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			keys, allLetters := map[string]bool{}, true
			for _, rec := range readBack(t, brokers, topic, n) {
				if len(rec.Key) != 16 || len(rec.Value) != 100 {
					t.Fatalf("key of %d bytes, value of %d", len(rec.Key), len(rec.Value))
				}
				keys[string(rec.Key)] = true
				for _, c := range append(rec.Key, rec.Value...) {
					allLetters = allLetters && 'A' <= c && c <= 'Z'
				}
			}
			s := parseSummary(t, r)
			switch tc.payload {
			case "random":
				// Only the records' framing (lengths, offset and time
				// deltas: about 8 bytes of 124) compresses.
				if allLetters || s.CompressionRatio > 1.1 {
					t.Errorf("random payload: letters only %t, compression ratio %v", allLetters, s.CompressionRatio)
				}
				if len(keys) != n {
					t.Errorf("fresh keys: %d distinct in %d records", len(keys), n)
				}
			case "letters":
				if !allLetters || s.CompressionRatio < 1.3 {
					t.Errorf("letters payload: letters only %t, compression ratio %v", allLetters, s.CompressionRatio)
				}
				if len(keys) != tc.keyPool {
					t.Errorf("a pool of %d keys: %d distinct in %d records", tc.keyPool, len(keys), n)
				}
			}
		})
	}
}

// A run of a few records leaves out the rates and per-record costs, which
// would mostly measure the run's fixed costs (a 2-record run reported
// "1642.500 µs/record"); a large one shows them.
func TestPerRecordFiguresOnlyWhenMeaningful(t *testing.T) {
	brokers := sharedBroker(t)
	for _, tc := range []struct {
		records string
		shown   bool
	}{{"2", false}, {"5000", true}} {
		r := runKprod(t, "", "perf", "-b", brokers, "--create-topic", "-t", uniqueTopic("figures"), "--num-records", tc.records)
		if r.code != exitOK {
			t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
		}
		for _, figure := range []string{"records/s", "MB/s", "µs/record", "allocs/record"} {
			if strings.Contains(r.stdout, figure) != tc.shown {
				t.Errorf("%s records: %q shown %t, want %t:\n%s", tc.records, figure, !tc.shown, tc.shown, r.stdout)
			}
		}
	}
}

// The goroutines share the records out: each produces its own run of
// them, and together they produce each of --num-records once. Were two to
// start from the same record, their values would repeat, and a codec would
// find repeats real data does not have (inflating the compression ratio
// the summary prints).
func TestRunGeneratorsProduceEachRecordOnce(t *testing.T) {
	const n, size = 10, 16
	g := payload.New(payload.Config{Size: size})
	o := &perfOptions{numRecords: n, concurrency: 3}
	o.topic = "t"
	sink := &valueSink{}
	runGenerators(context.Background(), context.Background(), sink, newMeter(o.concurrency), o, g)
	src := g.Source(0)
	want := make([]string, n)
	for i := range want {
		want[i] = string(src.Value(int64(i)))
	}
	slices.Sort(want)
	slices.Sort(sink.values)
	if !slices.Equal(sink.values, want) {
		t.Errorf("values produced:\n%q\nwant those of records 0 to %d, once each:\n%q", sink.values, n-1, want)
	}
}

// valueSink acknowledges every record at once, and keeps its value; any
// number of goroutines may use it.
type valueSink struct {
	mu     sync.Mutex
	values []string
}

func (s *valueSink) Produce(_ context.Context, r *producer.Record, cb producer.Callback) {
	s.mu.Lock()
	s.values = append(s.values, string(r.Value))
	s.mu.Unlock()
	cb(producer.RecordMetadata{}, nil)
}

func (s *valueSink) Send(ctx context.Context, r *producer.Record) (producer.RecordMetadata, error) {
	s.Produce(ctx, r, func(producer.RecordMetadata, error) {})
	return producer.RecordMetadata{}, nil
}

// ackingSink acknowledges every record at once, as a broker would.
type ackingSink struct{}

func (ackingSink) Produce(_ context.Context, _ *producer.Record, cb producer.Callback) {
	cb(producer.RecordMetadata{}, nil)
}

func (ackingSink) Send(context.Context, *producer.Record) (producer.RecordMetadata, error) {
	return producer.RecordMetadata{}, nil
}

// parsePerf parses args as perf's flags and validates them.
func parsePerf(t *testing.T, args ...string) (*perfOptions, error) {
	t.Helper()
	o := newPerfOptions()
	cmd := &cobra.Command{}
	o.register(cmd)
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, o.validate(cmd)
}
