package producer

import (
	"log/slog"
	"net"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/partitioner"
)

// NoLinger is the Linger that sends a batch without waiting for more
// records: the Java client's linger.ms=0. Linger's zero value means the
// default, DefaultLinger.
const NoLinger time.Duration = -1

// The defaults, named so the documentation and the code cannot disagree.
const (
	DefaultClientID        = "gokafka-producer"
	DefaultLinger          = 5 * time.Millisecond
	DefaultBatchSize       = 64 << 10
	DefaultBufferMemory    = 32 << 20
	DefaultMaxBlock        = 60 * time.Second
	DefaultMaxRequestSize  = 1 << 20
	DefaultRequestTimeout  = 30 * time.Second
	DefaultDeliveryTimeout = 120 * time.Second
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultRetryBackoffMax = time.Second
	DefaultMaxInFlight     = 5
	DefaultMetadataMaxAge  = 5 * time.Minute
	DefaultMetadataMaxIdle = 5 * time.Minute
	minMetadataMaxIdle     = 5 * time.Second
	// DefaultTransactionTimeout is the Java client's.
	DefaultTransactionTimeout = 60 * time.Second
	DefaultReconnect          = 50 * time.Millisecond
	DefaultReconnectMax       = time.Second
	// DefaultConnectionSetupTimeout is the Java client's.
	DefaultConnectionSetupTimeout = 10 * time.Second
)

// WithDefaults returns cfg as New uses it: every field left at zero set to
// its default (a DeliveryTimeout raised to cover Linger + RequestTimeout,
// say), and BatchSize cut to a smaller MaxRequestSize. A negative Linger
// comes back as NoLinger, not 0, which would mean the default again: New
// of the result uses the same settings as New(cfg), and WithDefaults of
// it changes nothing. A tool that shows or bounds by the settings in
// effect reads them here rather than repeat the rules (NoLinger lingers
// no time: count it as 0). For a cfg without a Partitioner the result
// holds a new partitioner.Default, which keeps state per topic (its
// sticky partition, its loads): producers made from one result share
// it, and each counts the others' records in its turns, where New(cfg)
// gives each producer its own. Make each producer from a result of its
// own.
func (cfg Config) WithDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	switch {
	case cfg.Linger == 0:
		cfg.Linger = DefaultLinger
	case cfg.Linger < 0:
		cfg.Linger = NoLinger
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BufferMemory == 0 {
		cfg.BufferMemory = DefaultBufferMemory
	}
	if cfg.MaxRequestSize == 0 {
		cfg.MaxRequestSize = DefaultMaxRequestSize
	}
	// A batch must fit a request (the sender counts a request's batches
	// against MaxRequestSize, and lets only the first one past it): a
	// smaller MaxRequestSize is the batch size in effect. A negative one is
	// left for validate to name.
	if cfg.MaxRequestSize > 0 {
		cfg.BatchSize = min(cfg.BatchSize, cfg.MaxRequestSize)
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	setDur(&cfg.MaxBlock, DefaultMaxBlock)
	setDur(&cfg.RequestTimeout, DefaultRequestTimeout)
	if cfg.DeliveryTimeout == 0 {
		// Raised to fit the other two, as the Java client raises it: a user
		// who set only Linger or RequestTimeout is not blamed for a field
		// they never set.
		cfg.DeliveryTimeout = max(DefaultDeliveryTimeout, clock.AddSaturating(cfg.lingerInEffect(), cfg.RequestTimeout))
	}
	// A backoff's base and max left at zero fit the other, set: a user who
	// set one is not blamed for the other, which they never set.
	setDur(&cfg.RetryBackoff, backoffBase(DefaultRetryBackoff, cfg.RetryBackoffMax))
	setDur(&cfg.RetryBackoffMax, max(DefaultRetryBackoffMax, cfg.RetryBackoff))
	setDur(&cfg.MetadataMaxAge, DefaultMetadataMaxAge)
	setDur(&cfg.MetadataMaxIdle, DefaultMetadataMaxIdle)
	setDur(&cfg.TransactionTimeout, DefaultTransactionTimeout)
	setDur(&cfg.ReconnectBackoff, backoffBase(DefaultReconnect, cfg.ReconnectBackoffMax))
	setDur(&cfg.ReconnectBackoffMax, max(DefaultReconnectMax, cfg.ReconnectBackoff))
	setDur(&cfg.ConnectionSetupTimeout, DefaultConnectionSetupTimeout)
	if cfg.Partitioner == nil {
		cfg.Partitioner = partitioner.Default(cfg.BatchSize)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dialer == nil {
		// No timeout of its own: ConnectionSetupTimeout bounds it.
		cfg.Dialer = &net.Dialer{}
	}
	if cfg.clock == nil {
		cfg.clock = clock.Real{}
	}
	return cfg
}

// lingerInEffect is how long a batch waits for more records: Linger, or
// none for NoLinger, which WithDefaults keeps (0 would read as the
// default).
func (cfg *Config) lingerInEffect() time.Duration { return max(0, cfg.Linger) }

// backoffBase is a backoff's base left at zero: its default, or the max
// the user set if that is smaller. A negative max is left to validate.
func backoffBase(def, maxSet time.Duration) time.Duration {
	if maxSet > 0 {
		return min(def, maxSet)
	}
	return def
}
