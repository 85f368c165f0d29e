package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	fkerr "github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// refusedTopic starts a cluster with topic, whose metadata the broker
// refuses (TOPIC_AUTHORIZATION_FAILED) until deny is removed (access
// granted), and a producer configured by mod that has asked for the topic
// and been refused: its metadata caches the refusal.
func refusedTopic(t *testing.T, topic string, mod func(*producer.Config)) (c *embedded.Cluster, p *producer.Producer, deny *kfake.FaultHandle) {
	t.Helper()
	c = startCluster(t, embedded.Options{Topics: map[string]int32{topic: 3}})
	p = newProducer(t, c.Addrs(), func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.MaxBlock = testTimeout // a refusal fails at once, not at MaxBlock
		mod(cfg)
	})
	deny = c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: fkerr.TopicAuthorizationFailed, Count: -1})
	_, err := p.PartitionsFor(testCtx(t), topic)
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "PartitionsFor of a topic whose metadata is refused")
	return c, p, deny
}

// A record of a topic whose metadata the broker refuses fails with the
// refusal as soon as an answer gives it, not at MaxBlock.
func TestARecordOfARefusedTopicFailsAtOnceWithTheRefusal(t *testing.T) {
	const topic = "secret"
	_, p, _ := refusedTopic(t, topic, func(*producer.Config) {})
	ctx, cancel := context.WithTimeout(testCtx(t), testTimeout/2)
	defer cancel()
	_, err := p.Send(ctx, &producer.Record{Topic: topic, Value: []byte("v")})
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "a record of a refused topic")
}

// PartitionsFor asks the cluster again before it answers with a refusal
// the metadata cached before the call: it answered from the cache at once.
// Polls come RetryBackoff (1s) after a refresh began, so none comes between
// the two calls: any request the second sees is its own.
func TestPartitionsForAsksAgainBeforeItAnswersWithARefusal(t *testing.T) {
	const topic = "secret"
	_, p, deny := refusedTopic(t, topic, func(cfg *producer.Config) {
		cfg.RetryBackoff, cfg.RetryBackoffMax = time.Second, time.Second
	})
	before := deny.Hits()
	_, err := p.PartitionsFor(testCtx(t), topic)
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	require.Greater(t, deny.Hits(), before, "PartitionsFor answered with the cached refusal without asking")
}

// PartitionsFor trusts a refusal only from an answer it waited for, as the
// Java client's partitionsFor fetches metadata before it throws: once
// access is granted, the next call finds the partitions. It answered from
// the cached refusal, and no refresh asked for the topic again, so it
// failed for as long as it was called (each call kept the topic in use).
// MetadataMaxAge is the default 5m: no periodic refresh comes meanwhile.
func TestPartitionsForFindsATopicOnceAccessToItIsGranted(t *testing.T) {
	const topic = "secret"
	_, p, deny := refusedTopic(t, topic, func(*producer.Config) {})
	deny.Remove() // access granted
	// A poll, not one call: a refresh already under way when access was
	// granted may still answer with the refusal.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		n, err := p.PartitionsFor(testCtx(t), topic)
		if assert.NoError(c, err, "access was granted, and PartitionsFor still fails") {
			assert.Equal(c, 3, n)
		}
	}, 10*time.Second, 10*time.Millisecond)
}

// A refused topic in use is asked for by every refresh, as one with
// partitions is (Java's Metadata keeps a topic in its requests while it is
// used): access granted later is found. It was asked for only while
// awaited, so the refusal stayed cached for as long as it was used.
func TestARefusedTopicInUseIsAskedForAgain(t *testing.T) {
	const topic = "secret"
	c, _, deny := refusedTopic(t, topic, func(cfg *producer.Config) {
		cfg.MetadataMaxAge = 100 * time.Millisecond
	})
	deny.Remove() // access granted
	asked := observeMetadata(c, topic)
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second) // a hundred refreshes
	defer cancel()
	require.NoError(t, asked.Wait(ctx, 1), "no refresh asked for the refused topic again")
}

// A record produced while a refresh that began after access was granted
// is under way is not failed by the refusal cached before: that refresh
// asks for its topic (in use), and its answer has the partitions. Any
// update, one that did not ask for the topic included, failed the record
// with the old refusal.
func TestARecordIsNotFailedByARefusalCachedBeforeAccessWasGranted(t *testing.T) {
	const topic = "secret"
	c, p, deny := refusedTopic(t, topic, func(cfg *producer.Config) {
		cfg.MetadataMaxAge = 300 * time.Millisecond
	})
	deny.Remove() // access granted
	ctx := testCtx(t)
	held, release := c.HoldNext(int16(kmsg.Metadata))
	defer release()
	require.NoError(t, held.Wait(ctx), "no metadata refresh came")
	got := make(chan error, 1)
	p.Produce(ctx, &producer.Record{Topic: topic, Value: []byte("v")}, func(_ producer.RecordMetadata, err error) { got <- err })
	release()
	select {
	case err := <-got:
		require.NoError(t, err, "access was granted before the record was produced")
	case <-ctx.Done():
		t.Fatal("the record has no outcome")
	}
}

// A record buffered for a topic whose access is then revoked waits out its
// DeliveryTimeout, as in the Java client (access may come back), no sender
// leading the partitions the metadata dropped; its error then names the
// refusal, not only ErrDeliveryTimeout and "sent 0 times". A batch sent
// before the refusal reaches the metadata (a slow refresh) is refused by
// the broker with the same error.
func TestARecordOfATopicRevokedWhileBufferedTimesOutNamingTheRefusal(t *testing.T) {
	const topic = "secret"
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
	p := newProducer(t, c.Addrs(), func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.MetadataMaxAge = 100 * time.Millisecond
		cfg.Linger = time.Second
		cfg.RequestTimeout = time.Second
		cfg.DeliveryTimeout = 2 * time.Second
	})
	ctx := testCtx(t)
	_, err := p.PartitionsFor(ctx, topic)
	require.NoError(t, err)
	got := make(chan error, 1)
	p.Produce(ctx, &producer.Record{Topic: topic, Value: []byte("v")}, func(_ producer.RecordMetadata, err error) { got <- err })
	c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: fkerr.TopicAuthorizationFailed, Count: -1})
	c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: fkerr.TopicAuthorizationFailed, Count: -1})
	select {
	case err := <-got:
		require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "the record's error does not say why it was not sent")
	case <-ctx.Done():
		t.Fatal("the record has no outcome")
	}
}

// A refresh that fails tells PartitionsFor's wait too, but brings no
// answer: once access is granted, a broker that does not answer leaves the
// call waiting (until its ctx ends, here), not answering with the refusal
// cached before it. The first failure made it answer with that refusal.
func TestAFailedRefreshDoesNotMakePartitionsForAnswerWithTheCachedRefusal(t *testing.T) {
	const topic = "secret"
	c, p, deny := refusedTopic(t, topic, func(*producer.Config) {})
	deny.Remove() // access granted
	broken := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, TopLevel: true, Err: fkerr.UnknownServerError, Count: -1})
	defer broken.Remove()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(ctx, topic)
		got <- err
	}()
	// Nothing else asks for metadata: the refreshes that fail are the
	// call's, made while it waits.
	failed := make(chan error, 1)
	go func() { failed <- broken.Wait(testCtx(t), 2) }()
	select {
	case err := <-got:
		t.Fatalf("PartitionsFor answered though no answer came since access was granted: %v", err)
	case err := <-failed:
		require.NoError(t, err, "no refresh failed")
	}
	cancel()
	err := receive(t, got, "PartitionsFor's answer once its ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, producer.ErrUnknownTopic)
}

// refusedTopicBesideAMovedOne is refusedTopic on three brokers, where
// another topic, other, has been produced to; access to topic is then
// granted. hint moves other's partition and produces a record of it: its
// old leader refuses it with a KIP-951 hint naming the new one, which
// updates the metadata with no Metadata answer. Refreshes come at most
// every RetryBackoff, a second: the hints come first.
func refusedTopicBesideAMovedOne(t *testing.T, topic string) (p *producer.Producer, hint func()) {
	t.Helper()
	const other = "other"
	c := startCluster(t, embedded.Options{Brokers: 3, Topics: map[string]int32{topic: 3, other: 1}})
	p = newProducer(t, c.Addrs(), func(cfg *producer.Config) {
		cfg.RetryBackoff, cfg.RetryBackoffMax = time.Second, time.Second
		cfg.MaxBlock = testTimeout
	})
	ctx := testCtx(t)
	_, err := p.Send(ctx, &producer.Record{Topic: other, Value: []byte("warm")})
	require.NoError(t, err)
	deny := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: fkerr.TopicAuthorizationFailed, Count: -1})
	_, err = p.PartitionsFor(ctx, topic)
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "PartitionsFor of a topic whose metadata is refused")
	deny.Remove() // access granted
	return p, func() {
		t.Helper()
		leader := c.Kfake().LeaderFor(other, 0)
		require.NoError(t, c.Kfake().MoveTopicPartition(other, 0, (leader+1)%3))
		_, err := p.Send(ctx, &producer.Record{Topic: other, Value: []byte("v")})
		require.NoError(t, err, "a record of the moved topic")
	}
}

// A leader hint for another topic updates the metadata, which wakes
// PartitionsFor, but names nothing of its topic: once access is granted,
// the call waits for the next answer, which finds the partitions. It
// answered with the refusal cached before it.
func TestALeaderHintDoesNotMakePartitionsForAnswerWithTheCachedRefusal(t *testing.T) {
	const topic = "secret"
	p, hint := refusedTopicBesideAMovedOne(t, topic)
	type answer struct {
		n   int
		err error
	}
	got := make(chan answer, 1)
	go func() {
		n, err := p.PartitionsFor(testCtx(t), topic)
		got <- answer{n, err}
	}()
	// Hints until the call answers, a few at most: one at least comes
	// while it waits for the refresh a second away.
	for i := 0; i < 10 && len(got) == 0; i++ {
		hint()
	}
	a := receive(t, got, "PartitionsFor's answer")
	require.NoError(t, a.err, "access was granted before PartitionsFor was called")
	require.Equal(t, 3, a.n)
}

// A record produced after access was granted is not failed by a leader
// hint for another topic with the refusal cached before: it waits for the
// next answer, which has the partitions. It failed with
// TOPIC_AUTHORIZATION_FAILED at the hint.
func TestALeaderHintDoesNotFailARecordWithTheCachedRefusal(t *testing.T) {
	const topic = "secret"
	p, hint := refusedTopicBesideAMovedOne(t, topic)
	got := make(chan error, 1)
	p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v")}, func(_ producer.RecordMetadata, err error) { got <- err })
	hint()
	require.NoError(t, receive(t, got, "the record's outcome"), "access was granted before the record was produced")
}

// PartitionsFor ended (its ctx, here, or MaxBlock) before an answer named
// its topic says that the last answer refused the topic: the error matches
// kerr.TopicAuthorizationFailed as well as ErrUnknownTopic. It said only
// that the topic was unknown.
func TestPartitionsForEndedBeforeAnAnswerNamesTheCachedRefusal(t *testing.T) {
	const topic = "secret"
	_, p, _ := refusedTopic(t, topic, func(*producer.Config) {})
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel() // no answer can come first
	_, err := p.PartitionsFor(ctx, topic)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, producer.ErrUnknownTopic)
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "the error does not name the refusal the producer holds")
}

// A record held while its topic's refusal is cached, that no answer fails
// (the refreshes fail), fails at MaxBlock naming that refusal, not only
// ErrUnknownTopic.
func TestARecordHeldPastMaxBlockNamesTheCachedRefusal(t *testing.T) {
	const topic = "secret"
	c, p, _ := refusedTopic(t, topic, func(cfg *producer.Config) {
		cfg.MaxBlock = 2 * time.Second
	})
	broken := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, TopLevel: true, Err: fkerr.UnknownServerError, Count: -1})
	defer broken.Remove()
	_, err := p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v")})
	require.ErrorIs(t, err, producer.ErrUnknownTopic, "a record no answer failed")
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "the error does not name the refusal the producer holds")
}
