package producer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
)

// bufferedCtx is a HookRecordBuffered that marks the context it returns,
// as a tracing hook puts its span there.
type bufferedCtx struct{}

type panicSpanKey struct{}

func (bufferedCtx) OnRecordBuffered(ctx context.Context, _ Record) context.Context {
	return context.WithValue(ctx, panicSpanKey{}, "span")
}

// A Partitioner that panics in Produce panics on Produce's caller's
// goroutine, where the caller may recover it. The record's
// HookRecordBuffered hooks had run: its HookRecordAcknowledged hooks now
// hear it failed, once, with the error a held record gets, so that a span
// they started ends; the caller recovers the same value, and the callback
// does not run, as without hooks. Before, the hooks never heard of the
// record again.
func TestAPartitionerPanicInProduceIsAcknowledgedToTheRecordsHooks(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		panic any
		hooks bool
	}{
		{"a string, with hooks", "user partitioner bug", true},
		{"an error, with hooks", errBoom, true},
		{"a string, without hooks", "user partitioner bug", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
			var mu sync.Mutex
			var acked []RecordAcknowledged
			var ackCtx []context.Context
			ack := ackFunc(func(ctx context.Context, a RecordAcknowledged) {
				mu.Lock()
				defer mu.Unlock()
				acked, ackCtx = append(acked, a), append(ackCtx, ctx)
			})
			p := newProducer(t, c, func(cfg *Config) {
				cfg.Partitioner = partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
					if string(key) == "bug" {
						panic(tc.panic)
					}
					return 1
				})
				if tc.hooks {
					cfg.Hooks = []Hook{bufferedCtx{}, ack}
				}
			})
			_, err := p.PartitionsFor(ctx(t), "t")
			require.NoError(t, err)

			calls := 0
			recovered := func() (v any) {
				defer func() { v = recover() }()
				p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("bug")}, func(RecordMetadata, error) { calls++ })
				return nil
			}()
			require.Equal(t, tc.panic, recovered, "the caller recovers the partitioner's panic")
			require.Zero(t, calls, "the panic is the caller's outcome: the callback does not run")

			md, err := p.Send(ctx(t), &Record{Topic: "t", Key: []byte("ok")})
			require.NoError(t, err, "the producer keeps working")
			require.Equal(t, int32(1), md.Partition)

			mu.Lock()
			defer mu.Unlock()
			if !tc.hooks {
				require.Empty(t, acked)
				return
			}
			require.Len(t, acked, 2, "each record acknowledged once")
			a := acked[0]
			require.ErrorIs(t, a.Err, ErrInvalidRecord)
			require.Equal(t, "INVALID_RECORD", ErrorName(a.Err))
			require.ErrorContains(t, a.Err, "the partitioner panicked: ")
			if err, ok := tc.panic.(error); ok {
				require.ErrorIs(t, a.Err, err, "a panic with an error wraps it")
			} else {
				require.EqualError(t, a.Err, `producer: topic "t": invalid record: the partitioner panicked: user partitioner bug`)
			}
			require.False(t, a.Sent)
			require.Equal(t, int32(-1), a.Metadata.Partition, "placed nowhere")
			require.Equal(t, "span", ackCtx[0].Value(panicSpanKey{}), "the context the buffered hooks returned")
			require.NoError(t, acked[1].Err)
		})
	}
}

// An Observer's or LoadReporter's panic in Produce comes after the append:
// it reaches the caller, but the record is buffered, and goes to its
// outcome like any other, its callback run once. The batch it started is
// sent too: the append's wake of the partition's sender comes before the
// partitioner is told, as for a held record (appendedHeld). Before, the
// panic skipped the wake, and a batch of NoLinger, which nothing else
// sends once the sender is idle, stayed in its partition for good.
func TestAnObserverPanicInProduceLeavesTheRecordBuffered(t *testing.T) {
	for _, tc := range []struct {
		name  string
		armed func(*atomic.Bool) partitioner.Partitioner
	}{
		{"Appended", func(a *atomic.Bool) partitioner.Partitioner { return &armedObserver{a} }},
		{"SetLoad", func(a *atomic.Bool) partitioner.Partitioner { return &armedLoadReporter{a} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
			clk := clock.NewFake(time.Unix(1_700_000_000, 0))
			var armed atomic.Bool
			p := newProducer(t, c, func(cfg *Config) {
				cfg.clock = clk
				cfg.Partitioner = tc.armed(&armed)
				cfg.Linger = NoLinger         // only the append's wake sends the batch
				cfg.DisableIdempotence = true // nor does a producer id arriving
			})
			// The first metadata refresh, made at once, waits out its
			// backoff on the fake clock before another: the topic's must
			// be in before Send holds a record for it.
			learnTopic(t, p, clk, "t")
			// The sender is connected and idle: nothing but a wake makes it
			// look at the partition again.
			_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("first")})
			require.NoError(t, err)
			clk.Advance(time.Second) // past the load report's gap

			armed.Store(true)
			o := newOutcomes(1)
			recovered := func() (v any) {
				defer func() { v = recover() }()
				p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
				return nil
			}()
			require.NotNil(t, recovered, "the caller recovers the %s panic", tc.name)
			o.wait(t, "the record whose partitioner panicked after its append")
			require.NoError(t, o.one(t, 0).err)
			require.Len(t, c.Records("t", 0), 2, "both records written")
		})
	}
}

// armedObserver places every record on partition 0, and panics when told
// of an append once armed.
type armedObserver struct{ armed *atomic.Bool }

func (*armedObserver) Partition(*partitioner.Topic, []byte) int32 { return 0 }
func (o *armedObserver) Appended(*partitioner.Topic, int32, int, bool) {
	if o.armed.Load() {
		panic("user observer bug")
	}
}

// armedLoadReporter places every record on partition 0, and panics when
// told of a topic's load once armed.
type armedLoadReporter struct{ armed *atomic.Bool }

func (*armedLoadReporter) Partition(*partitioner.Topic, []byte) int32 { return 0 }
func (l *armedLoadReporter) SetLoad(string, []int32) {
	if l.armed.Load() {
		panic("user load bug")
	}
}
