package producer

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/partitioner"
)

// Validate rejects what New rejects, with the same error, and accepts what
// New accepts.
func TestValidateMatchesNew(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Brokers: []string{"b:9092"}, BatchSize: 1 << 20, BufferMemory: 1 << 10},
		{Brokers: []string{"b:9092"}, RetryBackoff: 2e9, RetryBackoffMax: 1e9},
		{Brokers: []string{"b:9092"}, Hooks: []Hook{"not a hook"}},
	} {
		verr := cfg.Validate()
		var ce *ConfigError
		if !errors.As(verr, &ce) {
			t.Fatalf("Validate(%+v) = %v, want a *ConfigError", cfg, verr)
		}
		if _, nerr := New(cfg); nerr == nil || nerr.Error() != verr.Error() {
			t.Errorf("New says %v, Validate %v", nerr, verr)
		}
	}
	if err := (Config{Brokers: []string{"b:9092"}}).Validate(); err != nil {
		t.Errorf("Validate of a good Config: %v", err)
	}
}

// refusedBoth returns the *ConfigError that Validate and New both give for
// cfg, failing the test if either accepts it or they disagree.
func refusedBoth(t *testing.T, cfg Config) *ConfigError {
	t.Helper()
	verr := cfg.Validate()
	var ce *ConfigError
	if !errors.As(verr, &ce) {
		t.Fatalf("Validate = %v, want a *ConfigError", verr)
	}
	if _, nerr := New(cfg); nerr == nil || nerr.Error() != verr.Error() {
		t.Fatalf("New says %v, Validate %v", nerr, verr)
	}
	return ce
}

type pointerPartitioner struct{ n int32 }

func (p *pointerPartitioner) Partition(*partitioner.Topic, []byte) int32 { return p.n }

type pointerHook struct{ opened int }

func (h *pointerHook) OnConnectionOpened(ConnectionOpened) { h.opened++ }

// A nil pointer given as the Dialer, the Partitioner or a hook is refused,
// naming the field (and the hook's index), as a nil SASL mechanism is.
// Each passed New: the first dial, or a hook's first event, panicked on a
// producer goroutine and ended the process, and every record failed with
// "the partitioner panicked" (Send panicking on the caller's goroutine).
// A nil func (a partitioner.Func(nil)) is refused alike.
func TestANilPointerAsDialerPartitionerOrHookIsRefused(t *testing.T) {
	base := Config{Brokers: []string{"b:9092"}}
	for _, tc := range []struct {
		name, field, says string
		set               func(*Config)
	}{
		{"Dialer", "Dialer", "a nil *net.Dialer",
			func(c *Config) { c.Dialer = (*net.Dialer)(nil) }},
		{"Partitioner", "Partitioner", "a nil *producer.pointerPartitioner",
			func(c *Config) { c.Partitioner = (*pointerPartitioner)(nil) }},
		{"Hooks", "Hooks", "Hooks[1] is a nil *producer.pointerHook",
			func(c *Config) { c.Hooks = []Hook{&pointerHook{}, (*pointerHook)(nil)} }},
		{"Partitioner func", "Partitioner", "a nil partitioner.Func",
			func(c *Config) { c.Partitioner = partitioner.Func(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.set(&cfg)
			var ce *ConfigError
			require.NotPanics(t, func() { ce = refusedBoth(t, cfg) })
			require.Equal(t, tc.field, ce.Field)
			require.Contains(t, ce.Reason, tc.says)
		})
	}
}

// A broker address without a host (":9092", as from
// os.Getenv("KAFKA_HOST")+":9092" with the variable unset) or with spaces
// in its host (" host:9092", from splitting "a:9092, b:9092" at commas) is
// refused, naming it. The first was accepted and dialled this machine; the
// second failed records only after MaxBlock, as a host not found.
func TestABrokerWithoutAHostOrWithSpacesIsRefusedNamingIt(t *testing.T) {
	for _, addr := range []string{":9092", " host:9092", "host :9092", "[ ::1]:9092"} {
		t.Run(addr, func(t *testing.T) {
			ce := refusedBoth(t, Config{Brokers: []string{"b:9092", addr}})
			require.Equal(t, "Brokers", ce.Field)
			require.Contains(t, ce.Reason, strconv.Quote(addr))
		})
	}
	for _, addr := range []string{"[::1]:9092", "[fe80::1%eth0]:9092", "127.0.0.1:9092", "kafka-1.example.com:9093"} {
		require.NoError(t, Config{Brokers: []string{addr}}.Validate(), addr)
	}
}

// A broker whose port is not one a broker can listen on (0, negative, past
// 65535, not a number) is refused, naming it, as the Java client refuses
// it: accepted, it would surface only as records that find no metadata,
// at their MaxBlock. Ports 1 and 65535 are accepted.
func TestABrokerWithAPortOutOfRangeIsRefusedNamingIt(t *testing.T) {
	for _, addr := range []string{"host:0", "host:-1", "host:65536", "host:kafka"} {
		t.Run(addr, func(t *testing.T) {
			ce := refusedBoth(t, Config{Brokers: []string{"b:9092", addr}})
			require.Equal(t, "Brokers", ce.Field)
			require.Contains(t, ce.Reason, strconv.Quote(addr))
			require.Contains(t, ce.Reason, "port")
		})
	}
	for _, addr := range []string{"host:1", "host:65535"} {
		require.NoError(t, Config{Brokers: []string{addr}}.Validate(), addr)
	}
}

// A BufferMemory past math.MaxInt is refused where an int is 32 bits: the
// buffer pool counts in int, and 2 GiB wrapped to none (every record
// failed as larger than the total memory), 4 GiB and 1 MiB to a pool of 1
// MiB while Stats reported 4 GiB. Where an int is 64 bits both are taken.
func TestABufferMemoryPastIntIsRefusedWhereIntIs32Bits(t *testing.T) {
	for _, mem := range []int64{1 << 31, 4<<30 + 1<<20} {
		cfg := Config{Brokers: []string{"b:9092"}, BufferMemory: mem}
		if strconv.IntSize == 64 {
			require.NoError(t, cfg.Validate(), "BufferMemory %d", mem)
			continue
		}
		ce := refusedBoth(t, cfg)
		require.Equal(t, "BufferMemory", ce.Field)
		require.Contains(t, ce.Reason, strconv.FormatInt(mem, 10))
		require.Contains(t, ce.Reason, "32 bits")
	}
}

// A MaxRequestSize past math.MaxInt32 is refused: a batch's length and a
// request's size are int32 on the wire, where it was accepted and a batch
// that large would have been sent with its length wrapped. BatchSize is
// cut to MaxRequestSize, so a larger one is not refused; BufferMemory
// only bounds memory and may pass 2 GiB where an int is 64 bits.
func TestAMaxRequestSizePastInt32IsRefused(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("an int of 32 bits cannot pass math.MaxInt32, so no MaxRequestSize or BatchSize can be set past it")
	}
	// Through a variable, as the constants overflow a 32-bit int, where
	// this file must compile too.
	var past int64 = math.MaxInt32 + 1
	ce := refusedBoth(t, Config{Brokers: []string{"b:9092"}, MaxRequestSize: int(past)})
	require.Equal(t, "MaxRequestSize", ce.Field)
	require.Contains(t, ce.Reason, "int32")
	for _, cfg := range []Config{
		{Brokers: []string{"b:9092"}, MaxRequestSize: math.MaxInt32, BufferMemory: 1 << 33},
		{Brokers: []string{"b:9092"}, BatchSize: int(2 * past), BufferMemory: 1 << 33},
	} {
		require.NoError(t, cfg.Validate(), "%+v", cfg)
	}
}

// A transactional producer with acks other than all is told that its
// transactions need them, where it was told to set DisableIdempotence,
// which New then refused too, as transactions need idempotence: the advice
// led from one refusal to another.
func TestTransactionsWithAcksLeaderAreToldTheyNeedAcksAll(t *testing.T) {
	ce := refusedBoth(t, Config{Brokers: []string{"b:9092"}, TransactionalID: "t", Acks: AcksLeader})
	require.Equal(t, "Acks", ce.Field)
	require.Contains(t, ce.Reason, "TransactionalID")
	require.Contains(t, ce.Reason, "AcksAll")
	require.NotContains(t, ce.Reason, "DisableIdempotence")
}

// A ClientID or TransactionalID that is not UTF-8 is refused for its
// first such byte, named with where it is, not for the id quoted whole:
// one of the 32,767 bytes a Kafka string holds made an error of as many,
// or four times as many in escapes.
func TestAnIDThatIsNotUTF8IsRefusedForItsByte(t *testing.T) {
	long := strings.Repeat("\x01", math.MaxInt16-1) + "\xff"
	for field, set := range map[string]func(*Config){
		"ClientID":        func(c *Config) { c.ClientID = long },
		"TransactionalID": func(c *Config) { c.TransactionalID = long },
	} {
		cfg := Config{Brokers: []string{"b:9092"}}
		set(&cfg)
		ce := refusedBoth(t, cfg)
		require.Equal(t, field, ce.Field)
		require.Contains(t, ce.Reason, fmt.Sprintf("has the byte 0xff at %d, not UTF-8", math.MaxInt16-1), field)
		require.Less(t, len(ce.Error()), 200, "%s: the id is not quoted whole", field)
	}
}
