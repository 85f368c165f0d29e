package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A usage error exits 2 with one line on stderr that names the culprit, and
// starts nothing: none of these runs has --brokers, so starting the
// embedded broker would show in stderr.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the one stderr line
	}{
		{[]string{"perf", "--acks", "7"}, "--acks"},
		{[]string{"perf", "--nope"}, "--nope"},
		{[]string{"--num-records", "x"}, "--num-records"},
		{[]string{"perf", "--num-records", "0"}, "--num-records"},
		{[]string{"perf", "--compression", "brotli"}, "--compression"},
		{[]string{"perf", "--compression", "gzip", "--compression-level", "99"}, "--compression-level"},
		{[]string{"perf", "--brokers", "nohostport"}, "--brokers"},
		{[]string{"perf", "--concurrency", "0"}, "--concurrency"},
		// A pace slower than time.Duration holds, for one goroutine or each of several.
		{[]string{"perf", "--throughput", "1e-11"}, "--throughput: 1e-11 records/s is too low to pace: each of 1 goroutine would wait"},
		{[]string{"perf", "--throughput", "1e-10", "--concurrency", "2"}, "--throughput: 1e-10 records/s is too low to pace: each of 2 goroutines would wait"},
		{[]string{"perf", "--throughput", "NaN"}, "--throughput: NaN is not a number of records/s"},
		// Only -1 of the negatives means unlimited: -0.5 is no pace.
		{[]string{"perf", "--throughput", "-0.5"}, "--throughput: -0.5 is negative (use 0 or -1 for unlimited)"},
		{[]string{"perf", "--max-request-size", "0"}, "--max-request-size: 0 is less than 1"},
		{[]string{"perf", "--partitions", "0"}, "--partitions"},
		// A name the library refuses, by its rule: it was created on the
		// embedded broker, then every record refused (exit 1).
		{[]string{"perf", "-t", "bad/topic"}, `--topic "bad/topic": topic name has '/'`},
		{[]string{"produce", "--embedded", "-t", ".."}, `--topic "..": topic name cannot be "." or ".."`},
		{[]string{"perf", "-t", ""}, `--topic "": empty topic name`},
		{[]string{"perf", "--progress", "sometimes"}, "--progress"},
		{[]string{"perf", "--partitions", "3", "--replication-factor", "0"}, "--replication-factor"},
		{[]string{"produce", "-b", "h:1", "--tls-ca", "/nonexistent/ca.pem"}, "--tls-ca"},
		{[]string{"produce", "-b", "h:1", "--tls-cert", "c.pem"}, "--tls-key: required"},
		{[]string{"perf", "--tls"}, "--tls: the embedded broker has no TLS"},
		{[]string{"produce", "--embedded", "--tls-server-name", "kafka"}, "--tls-server-name: the embedded broker has no TLS"},
		{[]string{"perf", "--sasl-mechanism", "PLAIN"}, "--sasl-mechanism: the embedded broker has no SASL"},
		{[]string{"perf", "--sasl-user", "u"}, "--sasl-user: needs --sasl-mechanism"},
		{[]string{"perf", "--idempotent", "--acks", "1"}, "--idempotent: needs --acks all"},
		{[]string{"perf", "-X", "enable.idempotence=true", "-X", "acks=1"}, "-X acks: acks=1 needs idempotence off, which -X enable.idempotence turns on"},
		{[]string{"perf", "--idempotent", "-X", "acks=0"}, "-X acks: acks=0 needs idempotence off, which --idempotent turns on"},
		{[]string{"produce", "--header", "=v"}, "--header"},
		// Transactions.
		{[]string{"perf", "--txn-size", "10"}, "--txn-size: needs --transactional-id"},
		{[]string{"perf", "--txn-abort-every", "2"}, "--txn-abort-every: needs --transactional-id"},
		{[]string{"perf", "--transactional-id", "x", "--txn-size", "0"}, "--txn-size: 0 is less than 1"},
		{[]string{"perf", "--transactional-id", "x", "--txn-abort-every", "-1"}, "--txn-abort-every: -1 is negative"},
		{[]string{"perf", "--transactional-id", "x", "--acks", "1"}, "--transactional-id: transactions need --acks all, not 1"},
		{[]string{"perf", "-X", "transactional.id=x", "--idempotent=false"}, "-X transactional.id: transactions need idempotence, which --idempotent turns off"},
		{[]string{"perf", "-X", "transactional.id=x", "-X", "transaction.timeout.ms=-5"}, "-X transaction.timeout.ms"},
		{[]string{"produce", "--partition", "-2"}, "--partition"},
		// The embedded broker's topic is made of 6 partitions: refused
		// before the broker starts.
		{[]string{"produce", "--embedded", "-p", "6"}, "--partition: 6 is not a partition of topic kprod-perf, which would have 6 partitions (0 to 5)"},
		// No false successes: stdin to a throw-away broker must be asked for.
		// A `kprod broker` not exported is the likely cause: the
		// variable is named.
		{[]string{"produce", "--topic", "t"}, "--brokers (-b) is required, or $KPROD_BROKERS as kprod broker prints it"},
		{[]string{"produce", "--embedded", "-b", "h:1"}, "--embedded: not with --brokers"},
		{[]string{"produce", "--embedded", "-X", "bootstrap.servers=h:1"}, "--embedded: not with -X bootstrap.servers"},
		// The flag the user set is the one blamed, not the one the library names.
		{[]string{"perf", "--buffer-memory", "100"}, "--buffer-memory: --batch-size 65536 exceeds --buffer-memory 100"},
		{[]string{"perf", "--request-timeout", "3m", "--delivery-timeout", "2m"}, "--delivery-timeout: 2m0s is less than --linger 5ms + --request-timeout 3m0s"},
		{[]string{"perf", "-X", "retry.backoff.ms=5000", "-X", "retry.backoff.max.ms=1000"}, "-X retry.backoff.max.ms: 1s is less than -X retry.backoff.ms 5s"},
		{[]string{"perf", "--batch-size", "200", "--buffer-memory", "100"}, "--batch-size: 200 exceeds --buffer-memory 100"},
		{[]string{"perf", "--max-request-size", "5000", "--buffer-memory", "1000"}, "--buffer-memory: --batch-size 5000 exceeds --buffer-memory 1000"},
		// -X and --producer-config take Java names, and only known ones.
		{[]string{"perf", "-X", "lingerms=5"}, "-X lingerms: unknown setting \"lingerms\"; known: acks, allow.auto.create.topics, batch.size,"},
		{[]string{"perf", "-X", "linger.ms=5ms"}, "-X linger.ms: \"5ms\" is not a whole number of milliseconds"},
		{[]string{"perf", "-X", "acks=2"}, "-X acks"},
		{[]string{"perf", "-X", "compression.zstd.level=99"}, "-X compression.zstd.level"},
		{[]string{"perf", "-X", "linger.ms"}, "want name=value"},
		{[]string{"perf", "--producer-config", "/nonexistent/producer.properties"}, "--producer-config"},
		// Text formats.
		{[]string{"produce", "--embedded", "-k", "k", "-K", ":"}, "--key: not with --key-separator"},
		{[]string{"produce", "--embedded", "-D", ""}, "--delimiter: empty"},
		{[]string{"produce", "--embedded", "-D", "\\q"}, "--delimiter"},
		{[]string{"produce", "--embedded", "--parse-headers", "f.txt"}, "--parse-headers: not with FILE arguments"},
		{[]string{"produce", "--embedded", "--headers-delimiter", "|", "f.txt"}, "--headers-delimiter: not with FILE arguments"},
		// Flags that the others make meaningless were accepted and ignored.
		{[]string{"produce", "--embedded", "--headers-separator", ";"}, "--headers-separator: needs --parse-headers"},
		{[]string{"produce", "--embedded", "--headers-delimiter", "|"}, "--headers-delimiter: needs --parse-headers"},
		{[]string{"produce", "--embedded", "--headers-key-separator", "="}, "--headers-key-separator: needs --parse-headers"},
		{[]string{"dump", "--headers-separator", ";"}, "--headers-separator: needs --parse-headers"},
		{[]string{"dump", "--key", "k", "-K", ":"}, "--key-separator: not with --key/--value"},
		{[]string{"dump", "--value", "v", "--parse-headers"}, "--parse-headers: not with --key/--value"},
		{[]string{"dump", "--value", "v", "--null-marker", "NULL"}, "--null-marker: not with --key/--value"},
		{[]string{"dump", "--value", "v", "-D", ";"}, "--delimiter: not with --key/--value"},
		// The second "-" found stdin read, and was an empty record.
		{[]string{"produce", "--embedded", "-", "f.txt", "-"}, `FILE: "-" (stdin) given twice`},
		{[]string{"perf", "--payload-file", "p.txt", "--record-size", "10"}, "--payload-file: not with --record-size"},
		{[]string{"perf", "--payload-file", "/nonexistent/payloads.txt"}, "--payload-file"},
		{[]string{"perf", "--payload", "/nonexistent/payloads.txt"}, "--payload: open /nonexistent/payloads.txt"},
		{[]string{"perf", "--payload", "p.txt", "--record-size", "10"}, "--payload: not with --record-size"},
		{[]string{"perf", "--payload", "random", "--payload-file", "p.txt"}, "--payload-file: not with --payload"},
		{[]string{"perf", "--payload", ""}, "--payload: want letters, random or a file name"},
		{[]string{"perf", "--key-pool", "-1"}, "--key-pool: -1 is negative"},
		// Without keys it draws from nothing: it was ignored.
		{[]string{"perf", "--key-pool", "10"}, "--key-pool: needs --key-size"},
		{[]string{"perf", "--key-pool", "0", "--key-size", "0"}, "--key-pool: needs --key-size"},
		// Pools and goroutines too many to make are refused before
		// anything is made (they ran out of memory).
		{[]string{"perf", "--key-size", "16", "--key-pool", "1000000000", "--num-records", "10"}, "--key-pool: 1000000000 keys of --key-size 16 take"},
		{[]string{"perf", "--concurrency", "100000000"}, "--concurrency: 100000000 is more than 10000"},
		{[]string{"perf", "--payload", "p.txt", "--payload-delimiter", ""}, "--payload-delimiter: empty"},
		// Without a file it delimits nothing: it was ignored.
		{[]string{"perf", "--payload-delimiter", ";"}, "--payload-delimiter: needs --payload FILE or --payload-file"},
		{[]string{"perf", "--payload", "random", "--payload-delimiter", ";"}, "--payload-delimiter: needs --payload FILE or --payload-file"},
		{[]string{"perf", "--payload", "p.txt", "--payload-delimiter", `\`}, `--payload-delimiter: "\\" ends with a lone backslash`},
		// A record larger than the largest request, refused before its
		// values are made (a 2 GB value ran out of memory), by the size in
		// effect wherever it was set.
		{[]string{"perf", "--record-size", "2000000000"}, "--record-size: a value of 2000000000 bytes and a key of 0 cannot fit in a request of at most 1048576 bytes (--max-request-size)"},
		{[]string{"perf", "--key-size", "2000000000"}, "--key-size: a key of 2000000000 bytes cannot fit in a request of at most 1048576 bytes (--max-request-size)"},
		{[]string{"perf", "--max-request-size", "1000", "--record-size", "900", "--key-size", "40"}, "--record-size: a value of 900 bytes and a key of 40 cannot fit in a request of at most 1000 bytes (--max-request-size)"},
		{[]string{"perf", "-X", "max.request.size=1000", "--key-size", "940"}, "--key-size: a key of 940 bytes cannot fit in a request of at most 1000 bytes (-X max.request.size)"},
		// A limit too small for any record is blamed, not --key-size,
		// which was not given.
		{[]string{"perf", "--max-request-size", "10"}, "--max-request-size: a request of at most 10 bytes cannot hold a batch's 61-byte header, so no record fits"},
		{[]string{"perf", "-X", "buffer.memory=20", "--batch-size", "10"}, "-X buffer.memory: the buffer memory of 20 bytes cannot hold a batch's 61-byte header"},
		{[]string{"perf", "--max-request-size", "200000000", "--record-size", "100000000"}, "--record-size: a value of 100000000 bytes and a key of 0 cannot fit in the buffer memory of 33554432 bytes (--buffer-memory)"},
		// One byte is said in the singular.
		{[]string{"perf", "--max-request-size", "1"}, "--max-request-size: a request of at most 1 byte cannot hold"},
		{[]string{"perf", "--buffer-memory", "1", "--batch-size", "1"}, "--buffer-memory: the buffer memory of 1 byte cannot hold"},
		{[]string{"perf", "--max-request-size", "61", "--key-size", "1"}, "--key-size: a key of 1 byte cannot fit"},
		{[]string{"perf", "--max-request-size", "61", "--record-size", "1"}, "--record-size: a value of 1 byte and a key of 0 cannot fit"},
		{[]string{"dump", "--version", "99", "--value", "v"}, "--version"},
		{[]string{"dump", "--timestamp", "yesterday", "--value", "v"}, "--timestamp"},
		{[]string{"perf", "extra"}, "unexpected argument"},
		{[]string{"nosuchcommand"}, "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runKprod(t, "", tc.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitUsage, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, tc.want)
			}
		})
	}
}

// With --json, a run that ends without a summary (a usage error, however
// far pflag got, or a topic that does not exist) still writes one JSON
// object on stdout, its error and exit status, and the message on stderr:
// stdout was empty, and `kprod ... --json | jq` got no input.
func TestWithJSONARunEndingWithoutASummaryWritesItsErrorAsJSON(t *testing.T) {
	missing := uniqueTopic("json-missing")
	for _, tc := range []struct {
		args []string
		code int
		want string // in the error, on stdout and stderr
	}{
		{[]string{"perf", "--acks", "7", "--json"}, exitUsage, "--acks"},
		{[]string{"perf", "--json", "--nope"}, exitUsage, "--nope"},
		{[]string{"perf", "--nope", "--json"}, exitUsage, "--nope"},
		// Spelled as pflag also takes true, after the flag that stopped it.
		{[]string{"perf", "--nope", "--json=1"}, exitUsage, "--nope"},
		{[]string{"perf", "--nope", "--json=t"}, exitUsage, "--nope"},
		{[]string{"perf", "--nope", "--json=TRUE"}, exitUsage, "--nope"},
		{[]string{"perf", "--nope", "-t", "x", "-vX", "a=b", "--json"}, exitUsage, "--nope"},
		{[]string{"--json", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"perf", "-b", sharedBroker(t), "-t", missing, "--json"}, exitFailed, "topic " + missing + " does not exist"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runKprod(t, "", tc.args...)
			var got struct {
				Error    string `json:"error"`
				ExitCode int    `json:"exit_code"`
			}
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			if err := dec.Decode(&got); err != nil || dec.More() {
				t.Fatalf("stdout is not one JSON object (%v):\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
			}
			if r.code != tc.code || got.ExitCode != tc.code || !strings.Contains(got.Error, tc.want) ||
				!strings.Contains(r.stderr, got.Error) {
				t.Errorf("exit %d, stdout %+v, stderr %q: want exit %d and an error containing %q on both",
					r.code, got, r.stderr, tc.code, tc.want)
			}
		})
	}
}

// Read from the arguments after a usage error, --json is a flag only where
// pflag would read one: not as another flag's value, nor when turned off
// again. kprod wrote JSON for `-k --json`, --json being the key.
func TestAFlagsValueSpelledAsJSONAfterAUsageErrorWritesNoJSON(t *testing.T) {
	for _, args := range [][]string{
		{"produce", "--embedded", "-k", "--json", "--nope"},
		{"produce", "--embedded", "--key", "--json", "--nope"},
		{"produce", "--embedded", "-vk", "--json", "--nope"},
		{"perf", "--nope", "--json", "--json=false"},
		{"perf", "--nope", "--", "--json"},
	} {
		r := runKprod(t, "", args...)
		if r.code != exitUsage || r.stdout != "" {
			t.Errorf("kprod %s: exit %d, stdout %q; want exit %d and nothing on stdout",
				strings.Join(args, " "), r.code, r.stdout, exitUsage)
		}
	}
}

func TestHelp(t *testing.T) {
	r := runKprod(t, "", "--help")
	if r.code != exitOK {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"perf", "produce", "dump", "--num-records", "-b, --brokers", "-t, --topic", "-X, --property", "-v, --debug", "--version"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
	// Flags that only said "not supported yet" are gone until they work.
	for _, cmd := range []string{"perf", "produce"} {
		r := runKprod(t, "", cmd, "--help")
		if strings.Contains(r.stdout, "not supported") {
			t.Errorf("kprod %s --help shows placeholder flags:\n%s", cmd, r.stdout)
		}
	}
	for _, cmd := range []string{"perf", "produce"} {
		r := runKprod(t, "", cmd, "--help")
		for _, want := range []string{"--transactional-id", "--txn-size", "--txn-abort-every"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s help lacks %q:\n%s", cmd, want, r.stdout)
			}
		}
	}
	// A paced run that cannot keep up reports growing latencies: the
	// help of --throughput says why.
	r = runKprod(t, "", "perf", "--help")
	if want := "a run that cannot keep up reports how late its records were"; !strings.Contains(r.stdout, want) {
		t.Errorf("perf help lacks %q:\n%s", want, r.stdout)
	}
	// --progress always, the bar's older name, is accepted, so it is
	// named (it was not).
	if want := "bar (always: the same)"; !strings.Contains(r.stdout, want) {
		t.Errorf("perf help lacks %q:\n%s", want, r.stdout)
	}
	r = runKprod(t, "", "produce", "--help")
	for _, want := range []string{"-k, --key", "-K, --key-separator", "-H, --header", "-D, --delimiter", "-p, --partition", "--null-marker", "--parse-headers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("produce help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// --version names kprod's version and the library's, and exits 0.
func TestVersion(t *testing.T) {
	r := runKprod(t, "", "--version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "kprod ") || !strings.Contains(r.stdout, "library ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
