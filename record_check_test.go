package producer

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/record"
)

func TestInvalidTopicNamesFailAtOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, nil)
	long := string(bytes.Repeat([]byte("a"), 250))
	for _, name := range []string{"", ".", "..", "a/b", "spaces here", "é", long} {
		called := false
		p.Produce(ctx(t), &Record{Topic: name, Value: []byte("v")}, func(md RecordMetadata, err error) {
			called = true
			require.ErrorIs(t, err, ErrInvalidRecord, "topic %q", name)
			require.Equal(t, int64(-1), md.Offset)
		})
		require.True(t, called, "topic %q: the callback must run before Produce returns", name)
	}
}

// ValidateTopicName refuses, before any producer exists, the names Produce
// refuses (TestInvalidTopicNamesFailAtOnce), saying why, and takes the
// others.
func TestValidateTopicNameRefusesTheNamesProduceRefuses(t *testing.T) {
	long := string(bytes.Repeat([]byte("a"), 250))
	for _, name := range []string{"", ".", "..", "a/b", "spaces here", "é", long} {
		require.Error(t, ValidateTopicName(name), "topic %q", name)
	}
	require.EqualError(t, ValidateTopicName("bad/topic"), "topic name has '/' at 3; allowed are ASCII letters, digits, '.', '_' and '-'", "the reason alone: the caller has the name")
	for _, name := range []string{"t", "a.b_c-D9", "...", long[:249]} {
		require.NoError(t, ValidateTopicName(name), "topic %q", name)
	}
}

// The error of an invalid topic name names the topic once: the
// *PartitionError names it, and the reason under it does not again.
func TestAnInvalidTopicNameIsNamedOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, nil)
	_, partitionsFor := p.PartitionsFor(ctx(t), "bad name")
	_, send := p.Send(ctx(t), &Record{Topic: "bad name"})
	var produce error
	p.Produce(ctx(t), &Record{Topic: "bad name"}, func(_ RecordMetadata, err error) { produce = err })
	for call, err := range map[string]error{"PartitionsFor": partitionsFor, "Send": send, "Produce": produce} {
		require.ErrorIs(t, err, ErrInvalidRecord, call)
		require.ErrorContains(t, err, "topic name has ' '", call)
		require.Equal(t, 1, strings.Count(err.Error(), `"bad name"`), "%s: %v", call, err)
	}
}

// A topic name refused as a megabyte long, or for a character in it, is
// named by its start, not whole: the error of each record sent to it was
// a megabyte.
func TestARefusedLongTopicNameIsNotQuotedWhole(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, nil)
	long := strings.Repeat("a", 1<<20)
	for _, name := range []string{long, long + " "} {
		_, partitionsFor := p.PartitionsFor(ctx(t), name)
		_, send := p.Send(ctx(t), &Record{Topic: name})
		var produce error
		p.Produce(ctx(t), &Record{Topic: name}, func(_ RecordMetadata, err error) { produce = err })
		for call, err := range map[string]error{"PartitionsFor": partitionsFor, "Send": send, "Produce": produce} {
			require.ErrorIs(t, err, ErrInvalidRecord, call)
			var pe *PartitionError
			require.ErrorAs(t, err, &pe, call)
			require.Equal(t, name, pe.Topic, "%s: the Topic field is the name whole", call)
			require.Less(t, len(err.Error()), 300, "%s: %.400s", call, err)
		}
	}
}

func TestRecordTooLargeFailsAtOnceWithSizes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	check := func(p *Producer, size int, of string, limit int) {
		t.Helper()
		called := false
		p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, size)}, func(_ RecordMetadata, err error) {
			called = true
			require.ErrorIs(t, err, ErrRecordTooLarge)
			var tl *RecordTooLargeError
			require.ErrorAs(t, err, &tl)
			require.Equal(t, of, tl.Of)
			require.Equal(t, limit, tl.Limit)
			require.Greater(t, tl.Size, size, "the encoded size includes the batch header")
		})
		require.True(t, called, "a record too large must fail before Produce returns")
		md, err := p.Send(ctx(t), &Record{Topic: "t", Value: make([]byte, 1000)})
		require.NoError(t, err, "other records are unaffected")
		require.GreaterOrEqual(t, md.Offset, int64(0))
	}
	small := newProducer(t, c, func(cfg *Config) {
		cfg.MaxRequestSize = 10 << 10
		cfg.BatchSize = 16 << 10
		cfg.BufferMemory = 64 << 10
	})
	check(small, 20<<10, "MaxRequestSize", 10<<10)
	// At the limit exactly, the quick bound of the size is above it and the
	// exact size decides: the record fits, one byte more does not.
	fits := 10<<10 - record.BatchHeaderSize - record.MaxRecordOverhead
	for record.BatchHeaderSize+record.RecordSize(0, 0, nil, make([]byte, fits+1), nil) <= 10<<10 {
		fits++
	}
	_, err := small.Send(ctx(t), &Record{Topic: "t", Value: make([]byte, fits)})
	require.NoError(t, err, "a record of exactly MaxRequestSize")
	check(small, fits+1, "MaxRequestSize", 10<<10)
	lowMemory := newProducer(t, c, func(cfg *Config) {
		cfg.MaxRequestSize = 1 << 20
		cfg.BatchSize = 16 << 10
		cfg.BufferMemory = 64 << 10
	})
	check(lowMemory, 100<<10, "BufferMemory", 64<<10)
}

func TestNilRecordFailsWithoutPanic(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), nil)
	require.ErrorIs(t, err, ErrInvalidRecord)
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("still works")})
	require.NoError(t, err)
}

// A timestamp before 1970 is refused, as the Java client refuses it: Kafka
// reads -1 as no timestamp, and keeps earlier ones as they are. 1970 itself
// goes.
func TestATimestampBefore1970IsRefused(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	for _, ms := range []int64{-1, -86_400_000} {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: time.UnixMilli(ms)})
		require.ErrorIs(t, err, ErrInvalidRecord, "timestamp %d ms", ms)
	}
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("epoch"), Timestamp: time.UnixMilli(0)})
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Timestamp.UnixMilli())
	require.Len(t, c.Records("t", 0), 1, "only the record stamped 1970 is stored")
}

// A timestamp whose milliseconds since 1970 do not fit an int64 (from
// about year 292,277,026 on) is refused as out of range. Before,
// time.Time.UnixMilli wrapped: year 600,000,000 was stored as year
// 15,445,950 without an error, and year 300,000,000 was refused as before
// 1970. So is one as far before 1970; one before 1970 that fits is
// refused as before 1970, and the latest millisecond that fits, and year
// 9999, go.
func TestATimestampPastWhatMillisecondsHoldIsRefusedAsOutOfRange(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	const lastSecond = math.MaxInt64 / 1000
	for _, ts := range []time.Time{
		time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(600_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(lastSecond+1, 0),
		time.Unix(lastSecond, 808e6), // one millisecond past math.MaxInt64
		time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: ts})
		require.ErrorIs(t, err, ErrInvalidRecord, "timestamp %v", ts)
		require.ErrorContains(t, err, "is out of range: its milliseconds since 1970 do not fit an int64", "timestamp %v", ts)
		require.NotContains(t, err.Error(), "before 1970")
	}
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.ErrorContains(t, err, "is before 1970 (-2208988800000 ms)")
	for _, ts := range []time.Time{time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), time.UnixMilli(math.MaxInt64)} {
		md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v"), Timestamp: ts})
		require.NoError(t, err, "timestamp %v", ts)
		require.True(t, md.Timestamp.Equal(ts), "stamped %v, stored as %v", ts, md.Timestamp)
	}
	require.Len(t, c.Records("t", 0), 2, "only the records in range are stored")
}
