package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
)

func TestReadProperties(t *testing.T) {
	in := "# a comment\n! another\n\n  linger.ms = 10\nacks:all\r\nclient.id kprod\\u0021\n" +
		"bootstrap.servers=a:1,\\\n    b:2\nkey\\=with\\:seps=v\\tw\nempty=\n"
	props, err := readProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range props {
		got = append(got, fmt.Sprintf("%s|%s|%d", p.name, p.value, p.line))
	}
	want := []string{"linger.ms|10|4", "acks|all|5", "client.id|kprod!|6", "bootstrap.servers|a:1,b:2|7",
		"key=with:seps|v\tw|9", "empty||10"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("properties:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := readProperties(strings.NewReader("a=\\u12\n")); err == nil {
		t.Error("a malformed \\u escape was accepted")
	}
}

// A character beyond the Basic Multilingual Plane is escaped as a UTF-16
// surrogate pair, which Properties.load reads back as one character; a
// lone surrogate stays what Go makes of it, U+FFFD.
func TestReadPropertiesJoinsASurrogatePair(t *testing.T) {
	for in, want := range map[string]string{
		"client.id=app-\\uD83D\\uDE00\n":   "app-\U0001F600",
		"client.id=app-\\ud83d\\ude00-x\n": "app-\U0001F600-x",
		"client.id=app-\\uD83D-x\n":        "app-\uFFFD-x",
		"client.id=app-\\uD83D\\u0041\n":   "app-\uFFFDA",
		"client.id=app-\\uDE00\\uD83D\n":   "app-\uFFFD\uFFFD",
	} {
		props, err := readProperties(strings.NewReader(in))
		if err != nil || len(props) != 1 || props[0].value != want {
			t.Errorf("readProperties(%q) = %+v, %v; want the value %q", in, props, err, want)
		}
	}
}

// Lines end at \n, \r or \r\n, as Properties.load ends them: a lone \r
// ended none, and "q1=x\rr1=y" was the one setting q1="x\rr1=y". Read a
// byte at a time too, where a \r ends what was read before its \n.
func TestPropertiesLinesEndAtALoneCR(t *testing.T) {
	in := "q1=x\rr1=y\r\ns1=1,\\\r  2\r#c\rt1=z\r"
	want := "q1|x|1\nr1|y|2\ns1|1,2|3\nt1|z|6"
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		props, err := readProperties(r)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range props {
			got = append(got, fmt.Sprintf("%s|%s|%d", p.name, p.value, p.line))
		}
		if strings.Join(got, "\n") != want {
			t.Errorf("properties:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
		}
	}
}

// A line that continues onto a blank line makes an empty logical line,
// which Properties.load skips as it skips a blank line: it was the setting
// "", refused as unknown. A line that a continuation leaves empty reads a
// comment as a line of its own does, and a comment does not continue: it
// was read as a setting named "#" or "!". At the end of the file, where
// Properties.load would keep the setting "" (the Java producer warns that
// it knows no such setting), kprod skips it too.
func TestReadPropertiesSkipsALogicalLineLeftEmptyByItsContinuation(t *testing.T) {
	for in, want := range map[string]string{
		"acks=all\n\\\n\nlinger.ms=5\n":      "acks|all|1\nlinger.ms|5|4",
		"acks=all\n  \\\n   \nlinger.ms=5\n": "acks|all|1\nlinger.ms|5|4",
		"acks=all\n\\\n":                     "acks|all|1",
		"\\\n# a comment\nacks=all\n":        "acks|all|3",
		"acks=all\n  \\\n  ! bang\n":         "acks|all|1",
		"\\\n#c\\\nlinger.ms=5\n":            "linger.ms|5|3",
		"a=1\\\n#x\n":                        "a|1#x|1",
	} {
		props, err := readProperties(strings.NewReader(in))
		if err != nil {
			t.Fatalf("readProperties(%q): %v", in, err)
		}
		var got []string
		for _, p := range props {
			got = append(got, fmt.Sprintf("%s|%s|%d", p.name, p.value, p.line))
		}
		if strings.Join(got, "\n") != want {
			t.Errorf("readProperties(%q):\n%s\nwant:\n%s", in, strings.Join(got, "\n"), want)
		}
	}
}

// parseCommon parses args as perf's common flags.
func parseCommon(t *testing.T, args ...string) (*commonOptions, *cobra.Command) {
	t.Helper()
	o := &commonOptions{}
	cmd := &cobra.Command{}
	o.register(cmd.Flags())
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, cmd
}

// resolve parses args as perf's flags and resolves the Config.
func resolve(t *testing.T, args ...string) (producer.Config, configSources, error) {
	t.Helper()
	o, cmd := parseCommon(t, args...)
	return o.resolveConfig(cmd.Flags())
}

// Java names land in the Config fields they name, in Java's units, with
// file < -X < kprod's own flags.
func TestResolveConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "producer.properties")
	if err := os.WriteFile(file, []byte("linger.ms=50\nbatch.size=1000\nacks=1\ncompression.zstd.level=7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, src, err := resolve(t, "--producer-config", file, "-X", "batch.size=2000", "-X", "batch.size=3000",
		"--acks", "0", "-X", "acks=all", "-X", "retry.backoff.ms=250", "-X", "compression.type=zstd",
		"-X", "allow.auto.create.topics=TRUE", "-X", "bootstrap.servers=h1:1, h2:2")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Linger != 50*time.Millisecond || cfg.BatchSize != 3000 || cfg.Acks != producer.AcksNone ||
		cfg.RetryBackoff != 250*time.Millisecond || cfg.Compression != compression.Zstd || cfg.CompressionLevel != 7 ||
		!cfg.AllowAutoTopicCreation || strings.Join(cfg.Brokers, ",") != "h1:1,h2:2" {
		t.Errorf("config %+v", cfg)
	}
	for field, want := range map[string]string{
		"Linger": "linger.ms (" + file + ":1)", "BatchSize": "-X batch.size", "Acks": "--acks",
		"CompressionLevel": "compression.zstd.level (" + file + ":4)", "Brokers": "-X bootstrap.servers",
	} {
		if src[field] != want {
			t.Errorf("source of %s = %q, want %q", field, src[field], want)
		}
	}
	if _, ok := src["MaxBlock"]; ok {
		t.Errorf("MaxBlock has a source, %q, but was not set", src["MaxBlock"])
	}

	// The transaction settings.
	if cfg, src, err := resolve(t, "-X", "transactional.id=tx-1", "-X", "transaction.timeout.ms=30000"); err != nil ||
		cfg.TransactionalID != "tx-1" || cfg.TransactionTimeout != 30*time.Second || src["TransactionalID"] != "-X transactional.id" {
		t.Errorf("transaction settings: %q %v %v (%v)", cfg.TransactionalID, cfg.TransactionTimeout, src, err)
	}
	if cfg, src, err := resolve(t, "-X", "transactional.id=tx-1", "--transactional-id", "tx-2"); err != nil ||
		cfg.TransactionalID != "tx-2" || src["TransactionalID"] != "--transactional-id" {
		t.Errorf("--transactional-id wins over -X: %q %v (%v)", cfg.TransactionalID, src, err)
	}

	// The connection setup's timeout, which the Dialer no longer decides.
	if cfg, src, err := resolve(t, "-X", "socket.connection.setup.timeout.ms=30000"); err != nil ||
		cfg.ConnectionSetupTimeout != 30*time.Second || src["ConnectionSetupTimeout"] != "-X socket.connection.setup.timeout.ms" {
		t.Errorf("socket.connection.setup.timeout.ms: %v %v (%v)", cfg.ConnectionSetupTimeout, src, err)
	}

	// linger.ms=0 is Java's "no linger", which Config spells negative.
	if cfg, _, err := resolve(t, "-X", "linger.ms=0"); err != nil || cfg.Linger >= 0 {
		t.Errorf("linger.ms=0: Linger %v, %v", cfg.Linger, err)
	}
	// A level for another codec than the one used is not applied.
	if cfg, _, err := resolve(t, "-X", "compression.zstd.level=7", "-z", "gzip"); err != nil || cfg.CompressionLevel != 0 {
		t.Errorf("zstd level with gzip: level %d, %v", cfg.CompressionLevel, err)
	}
}

// Values are trimmed as the Java producer's ConfigDef trims them
// (String.trim: the characters up to U+0020, no other whitespace), so that
// a file shared with Java producers means the same to kprod: kprod's
// transactional id was "tx-1  " where Java's is "tx-1", and "acks=all "
// and "compression.type=gzip " were usage errors.
func TestSettingValuesAreTrimmedAsJavaTrimsThem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "producer.properties")
	props := "transactional.id=tx-1  \nclient.id=app\\u00a0\t\nacks=all \ncompression.type=gzip\t\n"
	if err := os.WriteFile(file, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := resolve(t, "--producer-config", file, "-X", "linger.ms= 5 ")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TransactionalID != "tx-1" || cfg.ClientID != "app\u00a0" || cfg.Acks != producer.AcksAll ||
		cfg.Compression != compression.Gzip || cfg.Linger != 5*time.Millisecond {
		t.Errorf("TransactionalID %q, ClientID %q, Acks %v, Compression %v, Linger %v; want tx-1, app\u00a0, all, gzip, 5ms",
			cfg.TransactionalID, cfg.ClientID, cfg.Acks, cfg.Compression, cfg.Linger)
	}
}

// validateArgs parses args as perf's common flags and validates them.
func validateArgs(t *testing.T, args ...string) error {
	t.Helper()
	o, cmd := parseCommon(t, args...)
	return o.validate(cmd)
}

// --compression-level is checked against the codec the run uses, wherever
// that came from: with the codec from -X or --producer-config, it was
// checked against --compression's default, none, which has no levels, and
// refused.
func TestCompressionLevelFlagWithTheCodecFromASetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "producer.properties")
	if err := os.WriteFile(file, []byte("compression.type=zstd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-X", "compression.type=zstd", "--compression-level", "5"},
		{"--producer-config", file, "--compression-level", "5"},
		{"--compression", "zstd", "--compression-level", "5"},
	} {
		if err := validateArgs(t, append([]string{"-b", "127.0.0.1:9092"}, args...)...); err != nil {
			t.Errorf("%s: %v", strings.Join(args, " "), err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-X", "compression.type=gzip", "--compression-level", "99"}, "--compression-level: compression: invalid level: gzip level 99 outside 1..9 (codec from -X compression.type)"},
		{[]string{"--compression-level", "5"}, "--compression-level: compression: invalid level: none has no levels, got 5 (--compression is at its default)"},
	} {
		err := validateArgs(t, append([]string{"-b", "127.0.0.1:9092"}, tc.args...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// Every setting is listed once, and its flag exists.
func TestSettingsNameConfigFields(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.name] {
			t.Errorf("%s listed twice", s.name)
		}
		seen[s.name] = true
		cmd := &cobra.Command{}
		(&commonOptions{}).register(cmd.Flags())
		if s.flag != "" && cmd.Flags().Lookup(s.flag) == nil {
			t.Errorf("%s: no flag --%s", s.name, s.flag)
		}
	}
}

// A --request-timeout or --linger set alone raises the delivery timeout
// left unset, as the library raises a DeliveryTimeout left at zero (and
// the Java client a defaulted delivery.timeout.ms), and kprod waits for
// outcomes that long. kprod passed its own 2m default, and refused all
// three, blaming --delivery-timeout.
func TestADeliveryTimeoutLeftUnsetFollowsLingerAndRequestTimeout(t *testing.T) {
	for _, args := range [][]string{{"--request-timeout", "3m"}, {"-X", "request.timeout.ms=180000"}, {"--linger", "2m"}} {
		cfg, _, err := resolve(t, append([]string{"-b", "h:1"}, args...)...)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Errorf("%v: %v", args, err)
			continue
		}
		eff := cfg.WithDefaults()
		linger := max(0, eff.Linger) // NoLinger lingers no time
		if eff.DeliveryTimeout < linger+eff.RequestTimeout {
			t.Errorf("%v: delivery timeout %v, less than linger %v + request timeout %v", args, eff.DeliveryTimeout, linger, eff.RequestTimeout)
		}
		if want := eff.MaxBlock + eff.DeliveryTimeout + flushGrace; outcomesWithin(cfg) != want {
			t.Errorf("%v: outcomes awaited within %v, want %v", args, outcomesWithin(cfg), want)
		}
	}
}

// As in the Java client, more than 5 requests in flight turn idempotence
// off unless it was asked for, and asking for both is refused: the summary
// said idempotent, while the library keeps at most 5 batches of a
// partition in flight with idempotence, whatever MaxInFlight says.
func TestMoreThanFiveInFlightTurnIdempotenceOffUnlessAskedFor(t *testing.T) {
	for _, args := range [][]string{
		{"-X", "max.in.flight.requests.per.connection=6"},
		{"--max-in-flight", "6"},
		{"--max-in-flight", "6", "-X", "enable.idempotence=false"},
	} {
		cfg, _, err := resolve(t, args...)
		if err != nil || !cfg.DisableIdempotence {
			t.Errorf("%v: DisableIdempotence %v (%v), want true", args, cfg.DisableIdempotence, err)
		}
	}
	if cfg, _, err := resolve(t, "--max-in-flight", "5"); err != nil || cfg.DisableIdempotence {
		t.Errorf("--max-in-flight 5: DisableIdempotence %v (%v), want false", cfg.DisableIdempotence, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--idempotent", "--max-in-flight", "6"}, "--max-in-flight: 6 requests in flight need idempotence off (it allows 5 at most), which --idempotent turns on"},
		{[]string{"-X", "enable.idempotence=true", "-X", "max.in.flight.requests.per.connection=6"}, "-X max.in.flight.requests.per.connection: 6 requests in flight need idempotence off (it allows 5 at most), which -X enable.idempotence turns on"},
		{[]string{"--transactional-id", "x", "--max-in-flight", "6"}, "--max-in-flight: 6 requests in flight need idempotence off (it allows 5 at most), which --transactional-id needs"},
	} {
		_, _, err := resolve(t, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// Java's batch.size=0 (no batching) is a batch of each record, which a
// BatchSize of 1 makes: every record is larger and seals the batch it
// starts. max.block.ms=0 (never block) has no equivalent, and its refusal
// says so.
func TestJavasZeroBatchSizeAndMaxBlock(t *testing.T) {
	cfg, src, err := resolve(t, "-X", "batch.size=0")
	if err != nil || cfg.BatchSize != 1 || src["BatchSize"] != "-X batch.size" {
		t.Errorf("batch.size=0: BatchSize %d from %q (%v), want 1 from -X batch.size", cfg.BatchSize, src["BatchSize"], err)
	}
	_, _, err = resolve(t, "-X", "max.block.ms=0")
	if want := "-X max.block.ms: max.block.ms=0 (Java: never block) is not supported:"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("max.block.ms=0: %v, want %q...", err, want)
	}
}
