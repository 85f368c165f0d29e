package sender

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/record"
)

// answeringConn answers every request at once, inside SendVersion, with an
// answer made in advance: it allocates nothing itself, so what a request
// allocates is the sender's and the accumulator's doing.
type answeringConn struct{ resp *protocol.ProduceResponse }

func (c *answeringConn) SendVersion(_ context.Context, _ protocol.Request, _ int16, done func(protocol.Response, error)) {
	done(c.resp, nil)
}

func (c *answeringConn) Version(protocol.APIKey) (int16, error) { return 11, nil }

func (c *answeringConn) Paused(time.Duration) {}

// A request of one record, from its append to its callback, allocates its
// batch and nothing else: the sender builds each request in the room of
// one already answered, and reads answers with maps it keeps. It made nine
// allocations of its own here before (more naming topics by id): with
// linger 0 at a low rate, where a request carries a record or two, they
// were most of the producer's. (The connection allocates too: the pending
// request, the response's frame, and the response decoded from it.)
func TestARequestAllocatesOnlyItsBatch(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector; make test runs this without it")
	}
	delivered := make(chan error, 1)
	c := &answeringConn{resp: &protocol.ProduceResponse{Topics: []protocol.ProduceResponseTopic{{
		Name:       parts[0].Topic,
		Partitions: []protocol.ProduceResponsePartition{{Index: parts[0].Partition, BaseOffset: 7, LogAppendTimeMs: -1, LogStartOffset: -1}},
	}}}}
	r := newRigWith(t, rigConfig{
		acc: func(cfg *accumulator.Config) {
			cfg.Deliver = func(_ any, res *accumulator.Result) { delivered <- res.Err }
		},
		sender: func(cfg *Config) {
			cfg.Hooks.Partitions = func() []accumulator.TopicPartition { return parts[:1] }
			cfg.Hooks.Connect = func(context.Context) (Conn, error) { return c, nil }
			// The producer's hook reads the metadata; every request
			// records the ids, whatever its version.
			cfg.Hooks.TopicID = func(string) wire.UUID { return idT }
		},
	})
	rec := &accumulator.Record{Data: record.Data{TimestampMs: 1000, Value: []byte("v")}, Callback: 1}
	limit := time.NewTimer(time.Hour)
	defer limit.Stop()
	request := func() {
		if _, err := r.acc.Append(context.Background(), parts[0], nil, rec); err != nil {
			t.Fatal(err)
		}
		r.s.Wake()
		limit.Reset(10 * time.Second)
		select {
		case err := <-delivered:
			if err != nil {
				t.Fatalf("the record failed: %v", err) // the count is of requests answered
			}
		case <-limit.C:
			t.Fatal("the record got no outcome within 10s")
		}
	}
	request() // the first request makes the flight and the maps the others reuse
	if allocs := testing.AllocsPerRun(100, request); allocs > 1 {
		t.Fatalf("a request of one record allocates %.1f times, want at most 1 (its batch)", allocs)
	}
}
