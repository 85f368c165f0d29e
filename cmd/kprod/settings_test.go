package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
)

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

// resolveValid is the Config kprod resolves from args, checked as New
// checks it.
func resolveValid(t *testing.T, args ...string) (producer.Config, error) {
	t.Helper()
	cfg, _, err := resolve(t, args...)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
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

// Each Java name sets the Config field it names, and only through the
// name: every setting is here with a value of its own, read back from its
// field, so that two settings swapped (metadata.max.age.ms setting
// MetadataMaxIdle, say) or one that sets nothing fail here rather than
// run with a setting the user did not ask for. A level is checked with its
// codec chosen, as it applies only then.
func TestEachSettingSetsItsField(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type settingCase struct {
		name, value string
		codec       string // compression.type for a level
		get         func(producer.Config) any
		want        any
	}
	cases := []settingCase{
		{"bootstrap.servers", "h1:1,h2:2", "", func(c producer.Config) any { return strings.Join(c.Brokers, ",") }, "h1:1,h2:2"},
		{"client.id", "app", "", func(c producer.Config) any { return c.ClientID }, "app"},
		{"acks", "1", "", func(c producer.Config) any { return c.Acks }, producer.AcksLeader},
		{"enable.idempotence", "false", "", func(c producer.Config) any { return c.DisableIdempotence }, true},
		{"linger.ms", "7", "", func(c producer.Config) any { return c.Linger }, ms(7)},
		{"batch.size", "1234", "", func(c producer.Config) any { return c.BatchSize }, 1234},
		{"buffer.memory", "123456", "", func(c producer.Config) any { return c.BufferMemory }, int64(123456)},
		{"max.block.ms", "8", "", func(c producer.Config) any { return c.MaxBlock }, ms(8)},
		{"max.request.size", "2345", "", func(c producer.Config) any { return c.MaxRequestSize }, 2345},
		{"request.timeout.ms", "9", "", func(c producer.Config) any { return c.RequestTimeout }, ms(9)},
		{"delivery.timeout.ms", "10", "", func(c producer.Config) any { return c.DeliveryTimeout }, ms(10)},
		{"retry.backoff.ms", "11", "", func(c producer.Config) any { return c.RetryBackoff }, ms(11)},
		{"retry.backoff.max.ms", "12", "", func(c producer.Config) any { return c.RetryBackoffMax }, ms(12)},
		{"max.in.flight.requests.per.connection", "3", "", func(c producer.Config) any { return c.MaxInFlight }, 3},
		{"compression.type", "lz4", "", func(c producer.Config) any { return c.Compression }, compression.LZ4},
		{"compression.gzip.level", "4", "gzip", func(c producer.Config) any { return c.CompressionLevel }, 4},
		{"compression.lz4.level", "5", "lz4", func(c producer.Config) any { return c.CompressionLevel }, 5},
		{"compression.zstd.level", "6", "zstd", func(c producer.Config) any { return c.CompressionLevel }, 6},
		{"metadata.max.age.ms", "13", "", func(c producer.Config) any { return c.MetadataMaxAge }, ms(13)},
		{"metadata.max.idle.ms", "14", "", func(c producer.Config) any { return c.MetadataMaxIdle }, ms(14)},
		{"allow.auto.create.topics", "true", "", func(c producer.Config) any { return c.AllowAutoTopicCreation }, true},
		{"reconnect.backoff.ms", "15", "", func(c producer.Config) any { return c.ReconnectBackoff }, ms(15)},
		{"reconnect.backoff.max.ms", "16", "", func(c producer.Config) any { return c.ReconnectBackoffMax }, ms(16)},
		{"socket.connection.setup.timeout.ms", "17", "", func(c producer.Config) any { return c.ConnectionSetupTimeout }, ms(17)},
		{"transactional.id", "tx", "", func(c producer.Config) any { return c.TransactionalID }, "tx"},
		{"transaction.timeout.ms", "18", "", func(c producer.Config) any { return c.TransactionTimeout }, ms(18)},
	}
	for _, tc := range cases {
		args := []string{"-X", tc.name + "=" + tc.value}
		if tc.codec != "" {
			args = append(args, "-X", "compression.type="+tc.codec)
		}
		cfg, _, err := resolve(t, args...)
		if got := tc.get(cfg); err != nil || got != tc.want {
			t.Errorf("%s=%s: %v (%v), want %v", tc.name, tc.value, got, err, tc.want)
		}
		// The settings' defaults are zero: a value left at its default by
		// the setting under test shows its own, not this one.
		if cfg, _, _ := resolve(t); tc.get(cfg) == tc.want {
			t.Errorf("%s: %v is already the value without it", tc.name, tc.want)
		}
	}
	// A setting added to the table of settings is added here too.
	for _, s := range settings {
		if !slices.ContainsFunc(cases, func(tc settingCase) bool { return tc.name == s.name }) {
			t.Errorf("%s: no case checks its field, %s", s.name, s.field)
		}
	}
}

// Each of kprod's own flags for a setting sets its Config field, in the
// flag's units: a flag left out of the Config would be ignored without a
// word, the run going with the default. --linger 0 is no linger, as
// linger.ms=0 is, not the default 5ms that Config's zero means.
func TestEachProducerFlagSetsItsField(t *testing.T) {
	type flagCase struct {
		args []string
		get  func(producer.Config) any
		want any
	}
	cases := []flagCase{
		{[]string{"--brokers", "h1:1,h2:2"}, func(c producer.Config) any { return strings.Join(c.Brokers, ",") }, "h1:1,h2:2"},
		{[]string{"--client-id", "app"}, func(c producer.Config) any { return c.ClientID }, "app"},
		{[]string{"--acks", "1"}, func(c producer.Config) any { return c.Acks }, producer.AcksLeader},
		{[]string{"--idempotent=false"}, func(c producer.Config) any { return c.DisableIdempotence }, true},
		{[]string{"--linger", "7ms"}, func(c producer.Config) any { return c.Linger }, 7 * time.Millisecond},
		{[]string{"--linger", "0"}, func(c producer.Config) any { return c.Linger }, producer.NoLinger},
		{[]string{"--batch-size", "1234"}, func(c producer.Config) any { return c.BatchSize }, 1234},
		{[]string{"--buffer-memory", "123456"}, func(c producer.Config) any { return c.BufferMemory }, int64(123456)},
		{[]string{"--max-block", "8ms"}, func(c producer.Config) any { return c.MaxBlock }, 8 * time.Millisecond},
		{[]string{"--max-request-size", "2345"}, func(c producer.Config) any { return c.MaxRequestSize }, 2345},
		{[]string{"--request-timeout", "9ms"}, func(c producer.Config) any { return c.RequestTimeout }, 9 * time.Millisecond},
		{[]string{"--delivery-timeout", "10ms"}, func(c producer.Config) any { return c.DeliveryTimeout }, 10 * time.Millisecond},
		{[]string{"--max-in-flight", "3"}, func(c producer.Config) any { return c.MaxInFlight }, 3},
		{[]string{"--compression", "lz4"}, func(c producer.Config) any { return c.Compression }, compression.LZ4},
		{[]string{"-z", "gzip", "--compression-level", "4"}, func(c producer.Config) any { return c.CompressionLevel }, 4},
		{[]string{"--transactional-id", "tx"}, func(c producer.Config) any { return c.TransactionalID }, "tx"},
	}
	for _, tc := range cases {
		cfg, _, err := resolve(t, tc.args...)
		if got := tc.get(cfg); err != nil || got != tc.want {
			t.Errorf("%s: %v (%v), want %v", strings.Join(tc.args, " "), got, err, tc.want)
		}
		if cfg, _, _ := resolve(t); tc.get(cfg) == tc.want {
			t.Errorf("%s: %v is already the value without it", strings.Join(tc.args, " "), tc.want)
		}
	}
	// A setting given a flag is given a case here too.
	for _, s := range settings {
		given := func(a string) bool { return a == "--"+s.flag || strings.HasPrefix(a, "--"+s.flag+"=") }
		if s.flag != "" && !slices.ContainsFunc(cases, func(tc flagCase) bool { return slices.ContainsFunc(tc.args, given) }) {
			t.Errorf("--%s: no case checks its field, %s", s.flag, s.field)
		}
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
		cfg, err := resolveValid(t, append([]string{"-b", "h:1"}, args...)...)
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

// MaxBlock and DeliveryTimeout as long as a Duration holds, a user's
// "forever", bound the wait for outcomes at the longest Duration: their sum
// wrapped to a negative bound, and the flush, and every transaction's end,
// failed at once with their deadline exceeded.
func TestOutcomesOfHugeTimeoutsAreAwaitedAsLongAsADurationHolds(t *testing.T) {
	for _, args := range [][]string{
		{"--max-block", "2000000h", "--delivery-timeout", "2000000h"},
		{"-X", "max.block.ms=9223372036854", "-X", "delivery.timeout.ms=9223372036854"},
	} {
		cfg, err := resolveValid(t, append([]string{"-b", "h:1"}, args...)...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
			continue
		}
		if got := outcomesWithin(cfg); got != math.MaxInt64 {
			t.Errorf("%v: outcomes awaited within %v, want the longest Duration", args, got)
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
