package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/compression"
)

// New must reject each bad setting with a *ConfigError naming the field, so
// a user knows which line of their configuration to fix.
func TestNewNamesTheBadField(t *testing.T) {
	ok := func(mod func(*Config)) Config {
		cfg := Config{Brokers: []string{"127.0.0.1:9092"}}
		mod(&cfg)
		return cfg
	}
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no brokers", Config{}, "Brokers"},
		{"broker without port", ok(func(c *Config) { c.Brokers = []string{"localhost"} }), "Brokers"},
		{"broker with empty port", ok(func(c *Config) { c.Brokers = []string{"127.0.0.1:9092", "host:"} }), "Brokers"},
		{"unknown acks", ok(func(c *Config) { c.Acks = Acks(7) }), "Acks"},
		{"negative batch size", ok(func(c *Config) { c.BatchSize = -1 }), "BatchSize"},
		{"negative buffer memory", ok(func(c *Config) { c.BufferMemory = -1 }), "BufferMemory"},
		{"negative max request size", ok(func(c *Config) { c.MaxRequestSize = -1 }), "MaxRequestSize"},
		{"negative max in flight", ok(func(c *Config) { c.MaxInFlight = -1 }), "MaxInFlight"},
		{"batch larger than memory", ok(func(c *Config) { c.BatchSize = 2 << 20; c.BufferMemory = 1 << 20 }), "BatchSize"},
		{"negative MaxBlock", ok(func(c *Config) { c.MaxBlock = -time.Second }), "MaxBlock"},
		{"negative RequestTimeout", ok(func(c *Config) { c.RequestTimeout = -time.Second }), "RequestTimeout"},
		{"negative DeliveryTimeout", ok(func(c *Config) { c.DeliveryTimeout = -time.Second }), "DeliveryTimeout"},
		{"negative RetryBackoff", ok(func(c *Config) { c.RetryBackoff = -time.Millisecond }), "RetryBackoff"},
		{"negative RetryBackoffMax", ok(func(c *Config) { c.RetryBackoffMax = -time.Millisecond }), "RetryBackoffMax"},
		{"negative MetadataMaxAge", ok(func(c *Config) { c.MetadataMaxAge = -time.Minute }), "MetadataMaxAge"},
		{"negative ReconnectBackoff", ok(func(c *Config) { c.ReconnectBackoff = -time.Millisecond }), "ReconnectBackoff"},
		{"negative ReconnectBackoffMax", ok(func(c *Config) { c.ReconnectBackoffMax = -time.Millisecond }), "ReconnectBackoffMax"},
		{"delivery timeout below linger + request timeout",
			ok(func(c *Config) {
				c.Linger = time.Second
				c.RequestTimeout = 10 * time.Second
				c.DeliveryTimeout = 10 * time.Second
			}), "DeliveryTimeout"},
		{"gzip level out of range", ok(func(c *Config) { c.Compression = compression.Gzip; c.CompressionLevel = 10 }), "CompressionLevel"},
		{"level for a codec without levels", ok(func(c *Config) { c.Compression = compression.Snappy; c.CompressionLevel = 3 }), "CompressionLevel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			require.Nil(t, p)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want a *ConfigError, got %v", err)
			require.Equal(t, tc.field, ce.Field, "error: %v", err)
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

// Acks(-1) is not one of the three constants; it must be rejected like any
// other unknown value rather than silently meaning acks=all.
func TestNewRejectsNegativeAcks(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Acks: Acks(-1)})
	if p != nil {
		defer p.Close(context.Background())
	}
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "Acks(-1) was accepted: New returned %v", err)
	require.Equal(t, "Acks", ce.Field)
}

// An unknown codec is a bad Compression, not a bad CompressionLevel: the
// level was left at its default.
func TestNewBlamesCompressionForUnknownCodec(t *testing.T) {
	_, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Compression: compression.Codec(6)})
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "got %v", err)
	require.Equal(t, "Compression", ce.Field, "error: %v", err)
}

func TestNewAcceptsDefaultsAndNegativeLinger(t *testing.T) {
	for _, cfg := range []Config{
		{Brokers: []string{"127.0.0.1:9092"}},
		{Brokers: []string{"[::1]:9092"}, Linger: -1, Compression: compression.Zstd, CompressionLevel: 19},
	} {
		p, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, p.Close(context.Background()))
	}
}
