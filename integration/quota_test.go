package integration

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
)

// A producer over its byte-rate quota is throttled (KIP-219): the broker
// answers at once, says how long it will read nothing more from the
// connection, and mutes it for that long. Requests sent into the pause
// would queue behind it, and each request in flight waits out one pause
// for each answer before it; at a RequestTimeout of three such pauses, five
// requests in flight timed out and went again. The producer sends nothing
// until a pause ends, and gives the requests in flight the pause on top of
// their timeout: no request times out, and nothing goes twice. The
// embedded broker keeps no quotas.
func TestAQuotaPausesTheProducerWithoutTimingOut(t *testing.T) {
	if os.Getenv("KAFKA_BROKERS") == "" {
		t.Skip("quotas: needs a real broker (KAFKA_BROKERS); the embedded one throttles nothing")
	}
	seeds := brokers(t)
	topic := newTopic(t, seeds, 1)
	clientID := fmt.Sprintf("quota-%d", time.Now().UnixNano())
	// 1 MiB/s, measured over Kafka's default quota window of 11 one-second
	// samples (at least 10 s of them): 16 MiB sent at once asks for pauses
	// of up to a window, a second.
	const quota = 1 << 20
	setQuota(t, seeds, clientID, quota)

	var throttles throttleLog
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		cfg.ClientID = clientID
		cfg.RequestTimeout = 3 * time.Second
		cfg.Hooks = append(cfg.Hooks, &throttles)
	})
	const records, size = 1024, 16 << 10
	recs := make([]*producer.Record, records)
	for i := range recs {
		recs[i] = &producer.Record{Topic: topic, Value: fmt.Appendf(make([]byte, 0, size), "%0*d", size, i)}
	}
	requireAllAcked(t, produceAll(t, p, recs))

	longest, n := throttles.longest()
	t.Logf("%d throttled answers, the longest pause %v; %d requests, %d retries", n, longest, p.Stats().Requests, p.Stats().Retries)
	require.Greater(t, longest, 3*time.Second/5, "the quota never asked for a pause that five requests in flight could not wait out within RequestTimeout: the test shows nothing")
	require.Zero(t, p.Stats().Retries, "a request was sent again: one sent into a pause timed out")
	read := e2eReadAll(t, seeds, topic, records)
	for i, r := range read {
		require.Equal(t, int64(i), r.Offset)
		require.Equal(t, recs[i].Value, r.Value, "offset %d", i)
	}
}

// setQuota gives clientID a producer byte-rate quota on the cluster, and
// takes it away when the test ends.
func setQuota(t *testing.T, seeds []string, clientID string, bytesPerSecond float64) {
	t.Helper()
	alter := func(ctx context.Context, remove bool) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
		if err != nil {
			return err
		}
		defer cl.Close()
		req := kmsg.NewPtrAlterClientQuotasRequest()
		entry := kmsg.NewAlterClientQuotasRequestEntry()
		entity := kmsg.NewAlterClientQuotasRequestEntryEntity()
		entity.Type, entity.Name = "client-id", kmsg.StringPtr(clientID)
		entry.Entity = append(entry.Entity, entity)
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value, op.Remove = "producer_byte_rate", bytesPerSecond, remove
		entry.Ops = append(entry.Ops, op)
		req.Entries = append(req.Entries, entry)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, e := range resp.Entries {
			if err := kerr.ErrorForCode(e.ErrorCode); err != nil {
				return fmt.Errorf("%w: %v", err, e.ErrorMessage)
			}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	require.NoError(t, alter(ctx, false), "setting a quota for %s", clientID)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := alter(ctx, true); err != nil {
			t.Errorf("removing the quota of %s: %v", clientID, err)
		}
	})
}

// throttleLog is a hook that keeps the brokers' throttle times.
type throttleLog struct {
	mu    sync.Mutex
	n     int
	pause time.Duration
}

func (l *throttleLog) OnThrottled(e producer.Throttled) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.pause = max(l.pause, e.Time)
}

func (l *throttleLog) longest() (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pause, l.n
}
