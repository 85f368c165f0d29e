package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
)

// Producer settings by their Java names, for -X NAME=VALUE and
// --producer-config FILE, as kafka-console-producer takes them with
// --producer-property and --producer.config and kcat with -X. Each maps
// onto one producer.Config field; a name not listed here is rejected with
// the list of those that are. Values are written as Java writes them:
// milliseconds for *.ms, bytes for sizes, true/false; the setters get them
// trimmed as Java trims them (javaTrim).

// setting is one Java producer property.
type setting struct {
	name  string // the Java producer's property name
	field string // the producer.Config field it sets, as ConfigError names it
	flag  string // kprod's own flag for the same field, "" if none
	set   func(t *settingTarget, value string) error
}

// settingTarget is what settings write into: the Config, and the codec
// levels, which Java keeps per codec (compression.gzip.level, ...) while
// Config holds the level of the chosen codec only.
type settingTarget struct {
	cfg    *producer.Config
	levels map[compression.Codec]int
}

// settings lists every name -X and --producer-config accept. Adding a
// Config field to kprod is one line here (and a flag, if it deserves one).
var settings = []setting{
	{"bootstrap.servers", "Brokers", "brokers", func(t *settingTarget, v string) (err error) {
		t.cfg.Brokers, err = parseBrokers(v)
		return err
	}},
	{"client.id", "ClientID", "client-id", func(t *settingTarget, v string) error { t.cfg.ClientID = v; return nil }},
	{"acks", "Acks", "acks", func(t *settingTarget, v string) (err error) {
		t.cfg.Acks, err = producer.ParseAcks(v)
		return err
	}},
	{"enable.idempotence", "DisableIdempotence", "idempotent", func(t *settingTarget, v string) error {
		on, err := parseBool(v)
		t.cfg.DisableIdempotence = !on
		return err
	}},
	{"linger.ms", "Linger", "linger", func(t *settingTarget, v string) error {
		d, err := parseMillis(v, 0)
		if err != nil {
			return err
		}
		if d == 0 {
			d = producer.NoLinger // Java's 0 is "no linger"; Config's 0 is "the default"
		}
		t.cfg.Linger = d
		return nil
	}},
	{"batch.size", "BatchSize", "batch-size", func(t *settingTarget, v string) error {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n == 0 {
			// Java's "no batching": a batch of each record. A BatchSize of
			// 1 makes that, every record being larger: it gets a batch of
			// its own, which it seals. (Config's 0 is "the default".)
			t.cfg.BatchSize = 1
			return nil
		}
		return intSetting(func(c *producer.Config) *int { return &c.BatchSize })(t, v)
	}},
	{"buffer.memory", "BufferMemory", "buffer-memory", func(t *settingTarget, v string) (err error) {
		t.cfg.BufferMemory, err = parsePositive(v)
		return err
	}},
	{"max.block.ms", "MaxBlock", "max-block", func(t *settingTarget, v string) error {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n == 0 {
			// Config's 0 is "the default", and the producer has no wait
			// of none: MaxBlock bounds the wait for memory and for a
			// topic's metadata alike.
			return errors.New("max.block.ms=0 (Java: never block) is not supported: the producer has no zero wait for memory and metadata; the nearest is max.block.ms=1")
		}
		return millisSetting(func(c *producer.Config) *time.Duration { return &c.MaxBlock })(t, v)
	}},
	{"max.request.size", "MaxRequestSize", "max-request-size", intSetting(func(c *producer.Config) *int { return &c.MaxRequestSize })},
	{"request.timeout.ms", "RequestTimeout", "request-timeout", millisSetting(func(c *producer.Config) *time.Duration { return &c.RequestTimeout })},
	{"delivery.timeout.ms", "DeliveryTimeout", "delivery-timeout", millisSetting(func(c *producer.Config) *time.Duration { return &c.DeliveryTimeout })},
	{"retry.backoff.ms", "RetryBackoff", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.RetryBackoff })},
	{"retry.backoff.max.ms", "RetryBackoffMax", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.RetryBackoffMax })},
	{"max.in.flight.requests.per.connection", "MaxInFlight", "max-in-flight", intSetting(func(c *producer.Config) *int { return &c.MaxInFlight })},
	{"compression.type", "Compression", "compression", func(t *settingTarget, v string) (err error) {
		t.cfg.Compression, err = compression.ParseCodec(v)
		return err
	}},
	{"compression.gzip.level", "CompressionLevel", "compression-level", levelSetting(compression.Gzip)},
	{"compression.lz4.level", "CompressionLevel", "compression-level", levelSetting(compression.LZ4)},
	{"compression.zstd.level", "CompressionLevel", "compression-level", levelSetting(compression.Zstd)},
	{"metadata.max.age.ms", "MetadataMaxAge", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.MetadataMaxAge })},
	{"metadata.max.idle.ms", "MetadataMaxIdle", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.MetadataMaxIdle })},
	{"allow.auto.create.topics", "AllowAutoTopicCreation", "", func(t *settingTarget, v string) (err error) {
		t.cfg.AllowAutoTopicCreation, err = parseBool(v)
		return err
	}},
	{"reconnect.backoff.ms", "ReconnectBackoff", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.ReconnectBackoff })},
	{"reconnect.backoff.max.ms", "ReconnectBackoffMax", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.ReconnectBackoffMax })},
	{"socket.connection.setup.timeout.ms", "ConnectionSetupTimeout", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.ConnectionSetupTimeout })},
	{"transactional.id", "TransactionalID", "transactional-id", func(t *settingTarget, v string) error { t.cfg.TransactionalID = v; return nil }},
	{"transaction.timeout.ms", "TransactionTimeout", "", millisSetting(func(c *producer.Config) *time.Duration { return &c.TransactionTimeout })},
}

// lookupSetting finds a setting by its Java name.
func lookupSetting(name string) (setting, bool) {
	i := slices.IndexFunc(settings, func(s setting) bool { return s.name == name })
	if i < 0 {
		return setting{}, false
	}
	return settings[i], true
}

// unknownSetting is the error for a name not in settings: it lists them all.
func unknownSetting(name string) error {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	slices.Sort(names)
	return fmt.Errorf("unknown setting %q; known: %s", name, strings.Join(names, ", "))
}

func intSetting(field func(*producer.Config) *int) func(*settingTarget, string) error {
	return func(t *settingTarget, v string) error {
		n, err := parsePositive(v)
		if err == nil && n > int64(^uint32(0)>>1) {
			err = fmt.Errorf("%d is too large", n)
		}
		*field(t.cfg) = int(n)
		return err
	}
}

func millisSetting(field func(*producer.Config) *time.Duration) func(*settingTarget, string) error {
	return func(t *settingTarget, v string) (err error) {
		*field(t.cfg), err = parseMillis(v, 1)
		return err
	}
}

func levelSetting(c compression.Codec) func(*settingTarget, string) error {
	return func(t *settingTarget, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if c == compression.Gzip && n == -1 {
			n = compression.DefaultLevel // Java's gzip default, Deflater.DEFAULT_COMPRESSION
		}
		if err := compression.CheckLevel(c, n); err != nil {
			return err
		}
		t.levels[c] = n
		return nil
	}
}

// parseMillis reads a Java *.ms value: a whole number of milliseconds, at
// least min. The zero that Java reads as "none" is not offered where Config
// reads 0 as "the default": min is then 1.
func parseMillis(v string, min int64) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a whole number of milliseconds", v)
	case n < min:
		return 0, fmt.Errorf("%d is less than %d", n, min)
	case n > int64(time.Duration(1<<63-1)/time.Millisecond):
		return 0, fmt.Errorf("%d ms is too long", n)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// parsePositive reads a size or a count: a whole number, at least 1 (Java
// reads batch.size=0 as "no batching", which the batch.size setting maps
// itself).
func parsePositive(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a whole number", v)
	case n < 1:
		return 0, fmt.Errorf("%d is less than 1", n)
	}
	return n, nil
}

// parseBool reads true or false, in any case, as Java does.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true or false", v)
}
