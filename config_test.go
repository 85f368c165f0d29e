package producer

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
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
		{"broker with a port that is no number", ok(func(c *Config) { c.Brokers = []string{"localhost:9O92"} }), "Brokers"},
		{"broker with a port out of range", ok(func(c *Config) { c.Brokers = []string{"127.0.0.1:99999"} }), "Brokers"},
		{"broker from a template never filled", ok(func(c *Config) { c.Brokers = []string{"${HOST}:${PORT}"} }), "Brokers"},
		{"acks=1 with idempotence", ok(func(c *Config) { c.Acks = AcksLeader }), "Acks"},
		{"transactions with idempotence off",
			ok(func(c *Config) { c.TransactionalID = "t"; c.DisableIdempotence = true }), "TransactionalID"},
		{"transactions with acks=1 and idempotence off",
			ok(func(c *Config) { c.TransactionalID = "t"; c.Acks = AcksLeader; c.DisableIdempotence = true }), "TransactionalID"},
		{"transactions with acks=1", ok(func(c *Config) { c.TransactionalID = "t"; c.Acks = AcksLeader }), "Acks"},
		{"negative batch size", ok(func(c *Config) { c.BatchSize = -1 }), "BatchSize"},
		{"negative buffer memory", ok(func(c *Config) { c.BufferMemory = -1 }), "BufferMemory"},
		{"negative max request size", ok(func(c *Config) { c.MaxRequestSize = -1 }), "MaxRequestSize"},
		{"negative max in flight", ok(func(c *Config) { c.MaxInFlight = -1 }), "MaxInFlight"},
		{"max in flight past its limit", ok(func(c *Config) { c.MaxInFlight = MaxInFlightLimit + 1 }), "MaxInFlight"},
		{"max in flight meant as unlimited", ok(func(c *Config) { c.MaxInFlight = math.MaxInt }), "MaxInFlight"},
		{"batch larger than memory", ok(func(c *Config) { c.BatchSize = 2 << 20; c.BufferMemory = 1 << 20; c.MaxRequestSize = 4 << 20 }), "BatchSize"},
		{"negative MaxBlock", ok(func(c *Config) { c.MaxBlock = -time.Second }), "MaxBlock"},
		{"negative RequestTimeout", ok(func(c *Config) { c.RequestTimeout = -time.Second }), "RequestTimeout"},
		{"negative DeliveryTimeout", ok(func(c *Config) { c.DeliveryTimeout = -time.Second }), "DeliveryTimeout"},
		{"negative RetryBackoff", ok(func(c *Config) { c.RetryBackoff = -time.Millisecond }), "RetryBackoff"},
		{"negative RetryBackoffMax", ok(func(c *Config) { c.RetryBackoffMax = -time.Millisecond }), "RetryBackoffMax"},
		{"negative MetadataMaxAge", ok(func(c *Config) { c.MetadataMaxAge = -time.Minute }), "MetadataMaxAge"},
		{"negative MetadataMaxIdle", ok(func(c *Config) { c.MetadataMaxIdle = -time.Minute }), "MetadataMaxIdle"},
		{"MetadataMaxIdle below 5s", ok(func(c *Config) { c.MetadataMaxIdle = time.Second }), "MetadataMaxIdle"},
		{"negative ReconnectBackoff", ok(func(c *Config) { c.ReconnectBackoff = -time.Millisecond }), "ReconnectBackoff"},
		{"negative ReconnectBackoffMax", ok(func(c *Config) { c.ReconnectBackoffMax = -time.Millisecond }), "ReconnectBackoffMax"},
		{"negative ConnectionSetupTimeout", ok(func(c *Config) { c.ConnectionSetupTimeout = -time.Second }), "ConnectionSetupTimeout"},
		{"RetryBackoffMax set below RetryBackoff",
			ok(func(c *Config) { c.RetryBackoff = 2 * time.Second; c.RetryBackoffMax = time.Second }), "RetryBackoffMax"},
		{"ReconnectBackoffMax set below ReconnectBackoff",
			ok(func(c *Config) { c.ReconnectBackoff = 2 * time.Second; c.ReconnectBackoffMax = time.Second }), "ReconnectBackoffMax"},
		{"delivery timeout below linger + request timeout",
			ok(func(c *Config) {
				c.Linger = time.Second
				c.RequestTimeout = 10 * time.Second
				c.DeliveryTimeout = 10 * time.Second
			}), "DeliveryTimeout"},
		{"a linger so long that linger + request timeout overflows",
			ok(func(c *Config) { c.Linger = time.Duration(math.MaxInt64) }), "Linger"},
		{"request timeout under a millisecond, sent as 0",
			ok(func(c *Config) { c.RequestTimeout = 500 * time.Microsecond }), "RequestTimeout"},
		{"request timeout beyond int32 milliseconds",
			ok(func(c *Config) { c.RequestTimeout = time.Duration(1<<31) * time.Millisecond }), "RequestTimeout"},
		{"transaction timeout under a millisecond, sent as 0",
			ok(func(c *Config) { c.TransactionalID = "t"; c.TransactionTimeout = time.Nanosecond }), "TransactionTimeout"},
		{"transaction timeout beyond int32 milliseconds",
			ok(func(c *Config) {
				c.TransactionalID = "t"
				c.TransactionTimeout = time.Duration(1<<32) * time.Millisecond
			}), "TransactionTimeout"},
		{"a client id longer than a Kafka string", ok(func(c *Config) { c.ClientID = strings.Repeat("c", math.MaxInt16+1) }), "ClientID"},
		{"a transactional id longer than a Kafka string", ok(func(c *Config) { c.TransactionalID = strings.Repeat("t", math.MaxInt16+1) }), "TransactionalID"},
		// The broker decodes Kafka strings as UTF-8: it would know the
		// producer by another id.
		{"a client id that is not UTF-8", ok(func(c *Config) { c.ClientID = "app\xff" }), "ClientID"},
		{"a transactional id that is not UTF-8", ok(func(c *Config) { c.TransactionalID = "txn-\xc3" }), "TransactionalID"},
		{"a hook that implements no hook interface", ok(func(c *Config) { c.Hooks = []Hook{42} }), "Hooks"},
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

// Acks must not be spelled with a number: 0 means "no acks" to a Java or
// sarama user and -1 means "all", so an integer Acks invites the opposite of
// what was meant. A struct with only unexported fields cannot be written as
// a constant, so Config{Acks: 0} and Config{Acks: -1} do not compile.
func TestAcksIsOpaque(t *testing.T) {
	typ := reflect.TypeOf(Acks{})
	require.Equal(t, reflect.Struct, typ.Kind(), "an untyped constant converts to any numeric or string kind")
	for i := range typ.NumField() {
		require.False(t, typ.Field(i).IsExported(), "field %s would let a caller build an Acks of its own", typ.Field(i).Name)
	}
	require.Equal(t, AcksAll, Acks{}, "the zero value is the default, AcksAll")
	for _, tc := range []struct {
		acks  Acks
		text  string
		alias string
		wire  int16
	}{{AcksAll, "all", "-1", -1}, {AcksLeader, "1", "1", 1}, {AcksNone, "0", "0", 0}} {
		require.Equal(t, tc.text, tc.acks.String())
		require.Equal(t, tc.wire, tc.acks.wire())
		for _, s := range []string{tc.text, tc.alias} {
			got, err := ParseAcks(s)
			require.NoError(t, err)
			require.Equal(t, tc.acks, got, "ParseAcks(%q)", s)
		}
	}
	_, err := ParseAcks("2")
	require.ErrorContains(t, err, `acks "2"`)
}

// Acks reads and writes as text in the spellings ParseAcks reads, so a
// configuration kept in JSON (or YAML, or a flag.TextVar) holds "all", not
// {} or a number whose meaning depends on the reader.
func TestAcksIsTextInAConfigurationFile(t *testing.T) {
	type settings struct{ Acks Acks }
	for _, tc := range []struct {
		acks Acks
		json string
	}{{AcksAll, `{"Acks":"all"}`}, {AcksLeader, `{"Acks":"1"}`}, {AcksNone, `{"Acks":"0"}`}} {
		out, err := json.Marshal(settings{tc.acks})
		require.NoError(t, err)
		require.JSONEq(t, tc.json, string(out))
		got := settings{AcksNone}
		if tc.acks == AcksNone {
			got.Acks = AcksAll
		}
		require.NoError(t, json.Unmarshal(out, &got))
		require.Equal(t, tc.acks, got.Acks, "read back from %s", out)
	}
	var got settings
	require.NoError(t, json.Unmarshal([]byte(`{"Acks":"-1"}`), &got))
	require.Equal(t, AcksAll, got.Acks)
	require.ErrorContains(t, json.Unmarshal([]byte(`{"Acks":"2"}`), &got), `acks "2"`)
	require.Error(t, json.Unmarshal([]byte(`{"Acks":1}`), &got), "a number is refused: it means opposite things to different readers")

	flags := flag.NewFlagSet("t", flag.ContinueOnError)
	acks := AcksAll
	flags.TextVar(&acks, "acks", AcksAll, "")
	require.NoError(t, flags.Parse([]string{"-acks", "1"}))
	require.Equal(t, AcksLeader, acks)
}

// An unknown codec is a bad Compression, not a bad CompressionLevel: the
// level was left at its default.
func TestNewBlamesCompressionForUnknownCodec(t *testing.T) {
	_, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Compression: compression.Codec(6)})
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "got %v", err)
	require.Equal(t, "Compression", ce.Field, "error: %v", err)
}

func TestNewAcceptsDefaultsAndNoLinger(t *testing.T) {
	for _, cfg := range []Config{
		{Brokers: []string{"127.0.0.1:9092"}},
		{Brokers: []string{"[::1]:9092"}, Linger: NoLinger, Compression: compression.Zstd, CompressionLevel: 19},
	} {
		p, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, p.Close(context.Background()))
	}
}

// Linger's zero value is the default, not "no wait"; NoLinger is, and
// stays NoLinger in the settings in effect, where 0 would be the default
// again.
func TestLingerZeroIsTheDefault(t *testing.T) {
	require.Equal(t, DefaultLinger, Config{}.WithDefaults().Linger)
	require.Equal(t, NoLinger, Config{Linger: NoLinger}.WithDefaults().Linger)
	require.Equal(t, NoLinger, Config{Linger: -time.Second}.WithDefaults().Linger, "any negative value is no linger")
	require.Equal(t, time.Second, Config{Linger: time.Second}.WithDefaults().Linger)
	none, def := Config{Linger: NoLinger}.WithDefaults(), Config{}.WithDefaults()
	require.Equal(t, time.Duration(0), none.lingerInEffect())
	require.Equal(t, DefaultLinger, def.lingerInEffect())
}

// WithDefaults gives the settings New uses, so that New of its result
// uses the same settings as New of the Config it was given, and
// WithDefaults of its own result changes nothing. It turned NoLinger into
// 0, which New and WithDefaults read as the default: New(cfg.WithDefaults())
// lingered 5ms where New(cfg) sent at once, and refused NoLinger with a
// RequestTimeout above the default DeliveryTimeout ("DeliveryTimeout: 3m20s
// is less than Linger 5ms + RequestTimeout 3m20s").
func TestNewOfWithDefaultsUsesTheSameSettings(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	for name, cfg := range map[string]Config{
		"defaults":                     {},
		"NoLinger":                     {Linger: NoLinger},
		"a negative Linger":            {Linger: -time.Second},
		"NoLinger, a long request":     {Linger: NoLinger, RequestTimeout: 200 * time.Second},
		"a long Linger":                {Linger: 3 * time.Minute},
		"RetryBackoff alone":           {RetryBackoff: 3 * time.Second},
		"RetryBackoffMax alone":        {RetryBackoffMax: 50 * time.Millisecond},
		"ReconnectBackoff alone":       {ReconnectBackoff: 3 * time.Second},
		"ReconnectBackoffMax alone":    {ReconnectBackoffMax: 20 * time.Millisecond},
		"a small MaxRequestSize":       {MaxRequestSize: 10000},
		"a DeliveryTimeout set":        {DeliveryTimeout: time.Hour},
		"transactions, MaxInFlight 1":  {TransactionalID: "t", MaxInFlight: 1},
		"no idempotence, acks=leader":  {DisableIdempotence: true, Acks: AcksLeader},
		"zstd at its default level":    {Compression: compression.Zstd},
		"auto-created topics, a clock": {AllowAutoTopicCreation: true, MetadataMaxIdle: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Brokers = c.Addrs()
			once := cfg.WithDefaults()
			require.Equal(t, settingsOf(once), settingsOf(once.WithDefaults()), "WithDefaults of its own result")
			direct, err := New(cfg)
			require.NoError(t, err)
			defer direct.Close(context.Background())
			viaDefaults, err := New(once)
			require.NoError(t, err, "New(cfg.WithDefaults())")
			defer viaDefaults.Close(context.Background())
			require.Equal(t, settingsOf(direct.cfg), settingsOf(viaDefaults.cfg))
			require.Equal(t, settingsOf(once), settingsOf(direct.cfg), "WithDefaults gives what New uses")
			require.Equal(t, direct.cfg.lingerInEffect(), viaDefaults.cfg.lingerInEffect())
		})
	}
}

// settingsOf is cfg without the fields WithDefaults fills with a new value
// each time (a partitioner, a logger), which compare by identity.
func settingsOf(cfg Config) Config {
	cfg.Partitioner, cfg.Logger = nil, nil
	return cfg
}

// The largest MaxInFlight New accepts is one the sender and the connection
// can size their pipelines for: a record still gets through.
func TestMaxInFlightAtItsLimitDelivers(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.MaxInFlight = MaxInFlightLimit
		cfg.DisableIdempotence = true // or the accumulator caps it at 5
	})
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	o.wait(t, "the record's outcome")
	require.NoError(t, o.one(t, 0).err)
}

// A DeliveryTimeout left at zero grows to cover Linger + RequestTimeout, as
// the Java client's does, so that setting only one of those two is not
// refused for a DeliveryTimeout the user never set; one set below the sum is
// still refused (see TestNewNamesTheBadField).
func TestADefaultedDeliveryTimeoutCoversLingerAndRequestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want time.Duration
	}{
		{"defaults", Config{}, DefaultDeliveryTimeout},
		{"a long RequestTimeout", Config{RequestTimeout: 2 * time.Minute}, 2*time.Minute + DefaultLinger},
		{"a long Linger", Config{Linger: 2 * time.Minute}, 2*time.Minute + DefaultRequestTimeout},
		{"both short", Config{Linger: time.Second, RequestTimeout: time.Second}, DefaultDeliveryTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Brokers = []string{"127.0.0.1:9092"}
			require.NoError(t, tc.cfg.Validate())
			require.Equal(t, tc.want, tc.cfg.WithDefaults().DeliveryTimeout)
		})
	}
}

// A backoff's max left at zero is at least its base, and its base left at
// zero at most its max, the two pairs alike: a RetryBackoff or
// ReconnectBackoff set alone above the default max of 1s is the wait it
// says, and a max set alone below the base's default lowers the base to
// it, not an error blaming a field the user never set (before, New refused
// "RetryBackoffMax: 50ms is less than RetryBackoff 100ms"). A base or max
// set alone within the other's default leaves that default be.
func TestABackoffLeftAtZeroFitsTheOtherSet(t *testing.T) {
	cases := []struct {
		name                    string
		cfg                     Config
		retry, retryMax         time.Duration
		reconnect, reconnectMax time.Duration
	}{
		{"bases above the default maxes", Config{RetryBackoff: 2 * time.Second, ReconnectBackoff: 3 * time.Second},
			2 * time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second},
		{"small bases", Config{RetryBackoff: 10 * time.Millisecond, ReconnectBackoff: 10 * time.Millisecond},
			10 * time.Millisecond, DefaultRetryBackoffMax, 10 * time.Millisecond, DefaultReconnectMax},
		{"maxes below the default bases", Config{RetryBackoffMax: 50 * time.Millisecond, ReconnectBackoffMax: 20 * time.Millisecond},
			50 * time.Millisecond, 50 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond},
		{"large maxes", Config{RetryBackoffMax: 5 * time.Second, ReconnectBackoffMax: 5 * time.Second},
			DefaultRetryBackoff, 5 * time.Second, DefaultReconnect, 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Brokers = []string{"127.0.0.1:9092"}
			require.NoError(t, c.cfg.Validate())
			got := c.cfg.WithDefaults()
			require.Equal(t, c.retry, got.RetryBackoff)
			require.Equal(t, c.retryMax, got.RetryBackoffMax)
			require.Equal(t, c.reconnect, got.ReconnectBackoff)
			require.Equal(t, c.reconnectMax, got.ReconnectBackoffMax)
		})
	}
}

// A MaxRequestSize below BatchSize cuts batches to it, so that a request's
// batches stay within it, and a broker whose message.max.bytes the user
// lowered MaxRequestSize to takes every batch; a record nearly that large
// still goes, alone in its batch.
func TestBatchesFitAMaxRequestSizeBelowBatchSize(t *testing.T) {
	const limit = 4096
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, MaxMessageBytes: limit})
	var largest atomic.Int64 // bytes of batches in one request
	c.OnProduce(func(_ int32, req *protocol.ProduceRequest) fakebroker.Action {
		n := 0
		for _, tp := range req.Topics {
			for _, pp := range tp.Partitions {
				n += len(pp.Records)
			}
		}
		for cur := largest.Load(); int64(n) > cur && !largest.CompareAndSwap(cur, int64(n)); cur = largest.Load() {
		}
		return fakebroker.Action{}
	})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.MaxRequestSize = limit // BatchSize is left at 64 KiB
		cfg.Linger = time.Hour     // batches go full, or at the Flush
	})
	const n = 100
	o := newOutcomes(n + 1)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, 200)}, o.cb(i))
	}
	p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, limit-200)}, o.cb(n))
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "every record's outcome")
	for i := range n + 1 {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	require.LessOrEqual(t, largest.Load(), int64(limit))
}

// A MaxRequestSize below BatchSize is the batches' size, so it is what
// must fit BufferMemory: the default BatchSize, larger than the buffer,
// is not blamed. It was, though no batch would have been that large.
func TestABufferThatFitsBatchesCutToMaxRequestSizeIsAccepted(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:9092"}, MaxRequestSize: 16 << 10, BufferMemory: 32 << 10}
	require.NoError(t, cfg.Validate())
}

// A BufferMemory set alone below the default batch size is refused as
// BufferMemory, the field the user set, and the error says what batch it
// cannot hold and what to set: it named BatchSize, which the user never
// set ("BatchSize: 65536 exceeds BufferMemory 32768"). A BatchSize the
// user set is the one named, BufferMemory set or not.
func TestABufferThatCannotHoldABatchNamesTheFieldTheUserSet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		field  string
		reason string
	}{
		{"BufferMemory alone", Config{BufferMemory: 32 << 10}, "BufferMemory",
			"32768 cannot hold one batch of 65536 bytes, the default BatchSize: set a BatchSize of at most 32768, or a larger BufferMemory"},
		{"BufferMemory and a MaxRequestSize above it", Config{BufferMemory: 1000, MaxRequestSize: 5000}, "BufferMemory",
			"1000 cannot hold one batch of 5000 bytes, MaxRequestSize (the default BatchSize, 65536, cut to it): set a BatchSize of at most 1000, or a larger BufferMemory"},
		{"both set", Config{BatchSize: 2000, BufferMemory: 1000}, "BatchSize",
			"2000 exceeds BufferMemory 1000"},
		{"both set, BatchSize cut to MaxRequestSize", Config{BatchSize: 8000, BufferMemory: 1000, MaxRequestSize: 5000}, "BatchSize",
			"5000 exceeds BufferMemory 1000 (BatchSize 8000, cut to MaxRequestSize)"},
		{"BatchSize above the default BufferMemory", Config{BatchSize: 64 << 20, MaxRequestSize: 64 << 20}, "BatchSize",
			"67108864 exceeds BufferMemory 33554432"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Brokers = []string{"127.0.0.1:9092"}
			ce := refusedBoth(t, tc.cfg)
			require.Equal(t, tc.field, ce.Field)
			require.Equal(t, tc.reason, ce.Reason)
		})
	}
	cfg := Config{Brokers: []string{"127.0.0.1:9092"}, BufferMemory: 32 << 10, BatchSize: 32 << 10}
	require.NoError(t, cfg.Validate())
}

// WithDefaults gives the batch size in effect, cut to a smaller
// MaxRequestSize: a tool showing the settings showed 64 KiB where the
// producer cut its batches to 10,000 bytes.
func TestWithDefaultsGivesTheBatchSizeInEffect(t *testing.T) {
	require.Equal(t, 10000, Config{MaxRequestSize: 10000}.WithDefaults().BatchSize)
	require.Equal(t, 10000, Config{BatchSize: 20000, MaxRequestSize: 10000}.WithDefaults().BatchSize)
	require.Equal(t, DefaultBatchSize, Config{}.WithDefaults().BatchSize)
	require.Equal(t, 4096, Config{BatchSize: 4096}.WithDefaults().BatchSize)
}

// deadlineDialer refuses every dial, telling how far away its ctx's
// deadline was (-1: none).
type deadlineDialer struct{ left chan time.Duration }

func (d deadlineDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	left := time.Duration(-1)
	if deadline, ok := ctx.Deadline(); ok {
		left = time.Until(deadline)
	}
	select {
	case d.left <- left:
	default:
	}
	return nil, errors.New("refused by the test")
}

// A user's Dialer gets ConnectionSetupTimeout to connect, 10s when left at
// zero, as the Java client's socket.connection.setup.timeout.ms: it was cut
// off at 10s whatever it was told, a net.Dialer{Timeout: 30s} included.
func TestADialerGetsTheConnectionSetupTimeout(t *testing.T) {
	for _, tc := range []struct{ set, want time.Duration }{
		{0, DefaultConnectionSetupTimeout},
		{30 * time.Second, 30 * time.Second},
		{2 * time.Second, 2 * time.Second},
	} {
		d := deadlineDialer{left: make(chan time.Duration, 1)}
		p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Dialer: d, ConnectionSetupTimeout: tc.set})
		require.NoError(t, err)
		left := receive(t, d.left, "a dial")
		require.NoError(t, p.Close(ctx(t)))
		require.LessOrEqual(t, left, tc.want, "ConnectionSetupTimeout %v", tc.set)
		// Half of it: the dial may come late on a loaded machine, and a
		// 30s timeout cut off at 10s still fails.
		require.Greater(t, left, tc.want/2, "ConnectionSetupTimeout %v: the dial's deadline", tc.set)
	}
}
