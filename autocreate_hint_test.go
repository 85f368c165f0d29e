package producer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol/kerr"
)

// A record for a topic the cluster calls unknown, and PartitionsFor of
// it, fail at MaxBlock with an error that names AllowAutoTopicCreation
// when it is off: its default, false, is not the Java client's, and a user
// coming from it, against a broker with auto.create.topics.enable, was
// left to guess why the topic was never created. With it on, the error
// says nothing of it. The error still matches ErrUnknownTopic and the
// broker's UNKNOWN_TOPIC_OR_PARTITION, PartitionsFor's too: it dropped the
// broker's answer, and said only that no metadata came within MaxBlock.
func TestAnUnknownTopicsErrorNamesAllowAutoTopicCreationWhenOff(t *testing.T) {
	const hint = "AllowAutoTopicCreation is off"
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowAutoTopicCreation=%v", allow), func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{}) // it creates no topic
			clk := clock.NewFake(heldClockStart)
			const maxBlock = time.Minute // within DeliveryTimeout
			p := newProducer(t, c, func(cfg *Config) {
				cfg.clock, cfg.MaxBlock = clk, maxBlock
				cfg.MetadataMaxAge = time.Hour
				cfg.AllowAutoTopicCreation = allow
			})
			check := func(err error) {
				t.Helper()
				require.ErrorIs(t, err, ErrUnknownTopic)
				if allow {
					require.NotContains(t, err.Error(), hint)
				} else {
					require.ErrorContains(t, err, hint)
				}
			}

			o := newOutcomes(1)
			p.Produce(ctx(t), &Record{Topic: "fresh", Value: []byte("v")}, o.cb(0))
			eventually(t, "the answer calling the topic unknown", func() bool {
				releasePacing(clk)
				p.held.mu.Lock()
				defer p.held.mu.Unlock()
				wt := p.held.topics["fresh"]
				return wt != nil && errors.Is(wt.lastErr, kerr.UnknownTopicOrPartition)
			})
			clk.Advance(maxBlock)
			o.wait(t, "the record's outcome at MaxBlock")
			err := o.one(t, 0).err
			require.ErrorIs(t, err, kerr.UnknownTopicOrPartition)
			check(err)

			failed := make(chan error, 1)
			go func() {
				_, err := p.PartitionsFor(context.Background(), "other")
				failed <- err
			}()
			eventually(t, "PartitionsFor's answer calling the topic unknown", func() bool {
				releasePacing(clk)
				tp := p.cluster.Snapshot().Peek("other")
				return tp != nil && errors.Is(tp.Err, kerr.UnknownTopicOrPartition)
			})
			clk.Advance(maxBlock)
			err = receive(t, failed, "PartitionsFor at MaxBlock")
			require.ErrorIs(t, err, kerr.UnknownTopicOrPartition, "PartitionsFor's error names the answer, as the record's does")
			check(err)
		})
	}
}
