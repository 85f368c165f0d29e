package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
)

// A Partitioner that panics on a record that waited for metadata panics on
// the goroutine draining the held records, where no caller could recover
// it: the process ended. Now that record fails, once, naming the panic,
// and the records held behind it, on its topic and another, are appended.
func TestAPartitionerPanicOnAHeldRecordFailsThatRecordOnly(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	errBoom := errors.New("boom")
	part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
		switch string(key) {
		case "bug":
			panic("user partitioner bug")
		case "boom":
			panic(errBoom)
		}
		return 1
	})
	hooks, log := &recorder{}, &errorLog{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner, cfg.Hooks, cfg.Logger = part, []Hook{hooks}, slog.New(log)
	})
	keys := []struct{ topic, key string }{{"late", "bug"}, {"late", "ok"}, {"later", "boom"}, {"later", "ok"}}
	o := newOutcomes(len(keys))
	for i, k := range keys {
		p.Produce(ctx(t), &Record{Topic: k.topic, Key: []byte(k.key), Value: value(0, i)}, o.cb(i))
	}
	require.Equal(t, int64(len(keys)), p.held.count.Load(), "every record waits for its topic")
	require.NoError(t, c.CreateTopic("late", 2))
	require.NoError(t, c.CreateTopic("later", 2))
	o.wait(t, "the held records")

	for _, i := range []int{0, 2} {
		err := o.one(t, i).err
		require.ErrorIs(t, err, ErrInvalidRecord, "record %d", i)
		require.Equal(t, "INVALID_RECORD", ErrorName(err))
		var pe *PartitionError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, keys[i].topic, pe.Topic)
		require.Equal(t, int32(-1), pe.Partition, "placed nowhere")
	}
	require.EqualError(t, o.one(t, 0).err, `producer: topic "late": invalid record: the partitioner panicked: user partitioner bug`)
	require.ErrorIs(t, o.one(t, 2).err, errBoom, "a panic with an error wraps it")
	for _, i := range []int{1, 3} {
		out := o.one(t, i)
		require.NoError(t, out.err, "record %d, held behind the one whose partitioner panicked", i)
		log := c.Records(keys[i].topic, 1)
		require.Len(t, log, 1)
		require.Equal(t, value(0, i), log[0].Value)
	}

	require.NoError(t, p.Flush(ctx(t)))
	hooks.locked(func() {
		require.Len(t, hooks.buffered, len(keys))
		require.Len(t, hooks.acked, len(keys), "each record's outcome told once")
		require.Empty(t, hooks.misplaced)
	})
	p.held.mu.Lock()
	require.Zero(t, p.held.reserved, "the held records' budget given back")
	p.held.mu.Unlock()
	eventually(t, "every batch's memory back in the pool", func() bool { return p.pool.Available() == int(p.cfg.BufferMemory) })
	log.requireLogged(t, 2, "Partition", "the record fails")
}

// A held record whose partitioner chooses a partition below 0 fails saying
// the partitioner chose it, in the words a record of Produce gets: placed
// on it, it was told that the partition it named did not exist.
func TestAHeldRecordThePartitionerPlacesBelowZeroSaysThePartitionerChoseIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner = partitioner.Func(func(*partitioner.Topic, []byte) int32 { return -1 })
	})
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("v")}, o.cb(0))
	require.NoError(t, c.CreateTopic("late", 2))
	o.wait(t, "the held record")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "the partitioner chose -1, not a partition of the topic (it has 2)")
}

// An Observer (or LoadReporter) runs after a held record's append, on the
// drain's goroutine too. Its panic is logged and leaves the record
// appended, to its outcome like any other: failed, its callback would run
// twice.
func TestAnObserverPanicOnAHeldRecordLeavesItAppended(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	log := &errorLog{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner, cfg.Logger = panickingObserver{}, slog.New(log)
	})
	const n = 2
	o := newOutcomes(n)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, i)}, o.cb(i))
	}
	require.Equal(t, int64(n), p.held.count.Load(), "every record waits for its topic")
	require.NoError(t, c.CreateTopic("late", 1))
	o.wait(t, "the held records")
	for i := range n {
		require.NoError(t, o.one(t, i).err)
	}
	require.Len(t, c.Records("late", 0), n)
	log.requireLogged(t, n, "Appended", "the record was appended")
}

// panickingObserver places every record on partition 0 and panics when
// told of its append.
type panickingObserver struct{}

func (panickingObserver) Partition(*partitioner.Topic, []byte) int32 { return 0 }
func (panickingObserver) Appended(*partitioner.Topic, int32, int, bool) {
	panic("user observer bug")
}

// errorLog keeps the Error records logged to it.
type errorLog struct {
	mu      sync.Mutex
	records []string
}

func (l *errorLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler               { return l }
func (l *errorLog) WithGroup(string) slog.Handler                    { return l }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	return nil
}

// requireLogged checks that the log holds n records of the partitioner's
// method panicking, with outcome and a stack naming the drain.
func (l *errorLog) requireLogged(t *testing.T, n int, method, outcome string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.records, n)
	for _, r := range l.records {
		require.Contains(t, r, "the partitioner panicked on a record that waited for metadata; "+outcome)
		require.Contains(t, r, "method="+method)
		require.Contains(t, r, "drainHeld", "the stack")
	}
}
