package producer

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// tracer is a hook of both record events that, like a tracing hook, wraps
// the record's context on the way in and uses it on the way out, keeping
// nothing.
type tracer struct{ acked chan string }

type spanKey struct{}

func (tracer) OnRecordBuffered(ctx context.Context, r Record) context.Context {
	return context.WithValue(ctx, spanKey{}, "span of "+string(r.Value))
}

func (tr tracer) OnRecordAcknowledged(ctx context.Context, _ RecordAcknowledged) {
	tr.acked <- ctx.Value(spanKey{}).(string)
}

// traced is a context the test can watch: a weak pointer to it tells when
// nothing holds it any more.
type traced struct {
	context.Context
	_ [64]byte // large enough to be an allocation of its own
}

// A Record's Context goes to the hooks and is kept no longer than until
// the record's outcome, with record hooks (which see it, wrapped by the
// buffered hook) and without (the producer never keeps it). The first
// record of each producer waits for its topic's metadata, the path that
// copies a record.
func TestRecordContextIsNotKeptAfterItsOutcome(t *testing.T) {
	for _, withHooks := range []bool{false, true} {
		c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
		tr := tracer{acked: make(chan string, 2)}
		p := newProducer(t, c, func(cfg *Config) {
			if withHooks {
				cfg.Hooks = []Hook{tr}
			}
		})
		var watched []weak.Pointer[traced]
		for i, value := range []string{"held", "appended"} {
			tc := &traced{Context: context.Background()}
			watched = append(watched, weak.Make(tc))
			_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte(value), Context: tc})
			require.NoError(t, err, "record %d", i)
			if withHooks {
				require.Equal(t, "span of "+value, receive(t, tr.acked, "no acknowledgement reached the hook"), "the buffered hook's context reached the acknowledgement")
			}
		}
		for i, w := range watched {
			eventually(t, fmt.Sprintf("hooks %v: record %d's Context let go after its outcome", withHooks, i), func() bool {
				runtime.GC()
				return w.Value() == nil
			})
		}
	}
}
