package producer

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Every answer that stops an idempotent producer for good fails the batch
// it answered, and every record produced after, with an error matching
// ErrProducerStopped and named PRODUCER_STOPPED: a service that produces
// again what it knows was not written (not ErrMaybeWritten) can tell that
// this producer will write nothing more and must be replaced. Before, only
// two of these causes wrapped the (internal) sentinel, and every record
// was named by the broker's code, as an ordinary refusal is, so such a
// service produced again for ever.
func TestEveryAnswerThatStopsTheProducerSaysItStopped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause *kerr.Error
		setup func(c *fakebroker.Cluster)
	}{
		// Kafka brokers since 2.7 send INVALID_PRODUCER_EPOCH instead: this
		// tests the reaction to what older brokers or other implementations
		// may send.
		{"Produce fenced", kerr.ProducerFenced, produceAnswers(kerr.ProducerFenced)},
		{"Produce denied idempotence", kerr.ClusterAuthorizationFailed, produceAnswers(kerr.ClusterAuthorizationFailed)},
		{"Produce unsupported", kerr.UnsupportedVersion, produceAnswers(kerr.UnsupportedVersion)},
		{"Produce id forgotten", kerr.InvalidProducerIDMapping, produceAnswers(kerr.InvalidProducerIDMapping)},
		{"Produce epoch fenced", kerr.InvalidProducerEpoch, produceAnswers(kerr.InvalidProducerEpoch)},
		{"InitProducerId denied", kerr.ClusterAuthorizationFailed, func(c *fakebroker.Cluster) {
			c.OnInitProducerId(fakebroker.FailInitProducerId(1000, kerr.ClusterAuthorizationFailed))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
			tc.setup(c)
			p := newProducer(t, c, nil)
			_, answered := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
			_, after := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("w")})
			for what, err := range map[string]error{"the batch answered": answered, "a record after": after} {
				require.ErrorIs(t, err, ErrProducerStopped, "%s: %v", what, err)
				require.ErrorIs(t, err, tc.cause, "%s keeps the broker's error: %v", what, err)
				require.NotErrorIs(t, err, ErrMaybeWritten, "%s", what)
				require.Equal(t, "PRODUCER_STOPPED", ErrorName(err), "%s: %v", what, err)
				require.NotContains(t, err.Error(), "stopped: the producer stopped", "%s", what)
			}
		})
	}
}

// produceAnswers sets c to answer the first Produce request with code.
func produceAnswers(code *kerr.Error) func(c *fakebroker.Cluster) {
	return func(c *fakebroker.Cluster) { c.OnProduce(failFirst(1, fakebroker.FailAll(code, ""))) }
}

// A transactional producer whose coordinator refuses its InitProducerId
// for good (no version shared, here) fails InitTransactions with
// ErrTransactionFatal alone: its coordinator, not a Produce answer, ended
// it, and ErrProducerStopped is for the records a stopped producer fails,
// as errors.go says. It said that such an error matched ErrProducerStopped.
func TestATransactionalProducerItsCoordinatorEndsIsFatalWithoutErrProducerStopped(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1},
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.InitProducerId: {Min: 1, Max: 0}}})
	p := newProducer(t, c, func(cfg *Config) { cfg.TransactionalID = "tx" })
	err := p.InitTransactions(ctx(t))
	require.ErrorIs(t, err, ErrTransactionFatal)
	require.NotErrorIs(t, err, ErrProducerStopped)
	require.Equal(t, "TRANSACTION_FATAL", ErrorName(err))
}

// A stopped producer fails a record of a topic whose metadata it has in
// Produce, through cb before it returns; one of a topic it has not looked
// up yet is held for its metadata, and fails so on the delivery goroutine
// once the metadata comes, as Produce's doc says: it promised every such
// record its callback before Produce returned.
func TestAStoppedProducerFailsARecordInProduceOnlyForATopicItKnows(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1, "u": 1}})
	// An answer older brokers or other implementations may send: Kafka's
	// since 2.7 send INVALID_PRODUCER_EPOCH.
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.ProducerFenced, "")))
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, ErrProducerStopped)
	for topic, inProduce := range map[string]bool{"t": true, "u": false} {
		var called atomic.Bool
		failed := make(chan error, 1)
		p.Produce(ctx(t), &Record{Topic: topic, Value: []byte("w")}, func(_ RecordMetadata, err error) {
			called.Store(true)
			failed <- err
		})
		calledInProduce := called.Load()
		require.ErrorIs(t, receive(t, failed, "no outcome for a record of "+topic), ErrProducerStopped, "topic %s", topic)
		if inProduce {
			require.True(t, calledInProduce, "the record of %s, whose metadata is known, failed after Produce returned", topic)
		}
	}
}

// A leader that shares no version of Produce with an idempotent producer
// stops it, as the same leader answering UNSUPPORTED_VERSION does, and as
// the Java client treats a Produce's version mismatch (it answers the
// batches UNSUPPORTED_VERSION itself). Before, the batch failed with the
// version error alone and every record after was sent to fail alike, and
// a transaction with one only became abortable, so README's loop aborted
// for ever.
func TestALeaderSharingNoProduceVersionStopsAnIdempotentProducer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1},
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Produce: {Min: 0, Max: 2}}})
	p := newProducer(t, c, nil)
	_, first := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	_, after := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("w")})
	for what, err := range map[string]error{"the first record": first, "a record after": after} {
		require.ErrorIs(t, err, ErrProducerStopped, "%s: %v", what, err)
		require.ErrorIs(t, err, protocol.ErrUnsupportedVersion, "%s keeps the version error: %v", what, err)
		require.ErrorIs(t, err, kerr.UnsupportedVersion, "%s: as the broker's own answer: %v", what, err)
		require.Contains(t, err.Error(), "supports no version of Produce this producer speaks", "%s", what)
		require.Equal(t, "PRODUCER_STOPPED", ErrorName(err), "%s: %v", what, err)
	}
}

// A producer without idempotence that shares no Produce version with a
// leader fails only the batches for it: another leader may speak one, and
// nothing of its state is lost.
func TestALeaderSharingNoProduceVersionFailsOnlyTheBatchOfAProducerWithoutIdempotence(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1},
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Produce: {Min: 0, Max: 2}}})
	p := newProducer(t, c, func(cfg *Config) { cfg.DisableIdempotence = true })
	for _, value := range []string{"v", "w"} {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte(value)})
		require.ErrorIs(t, err, protocol.ErrUnsupportedVersion, "record %s", value)
		require.ErrorIs(t, err, kerr.UnsupportedVersion, "record %s: as the broker's own answer", value)
		require.Equal(t, "UNSUPPORTED_VERSION", ErrorName(err), "record %s", value)
		require.NotErrorIs(t, err, ErrProducerStopped, "record %s", value)
	}
}

// An idempotent producer without a TransactionalID that a Produce answer
// of INVALID_PRODUCER_ID_MAPPING stops is not told of a transactional id
// it does not have.
func TestAnIdempotentProducerStoppedForItsProducerIDIsNotToldOfATransactionalID(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	produceAnswers(kerr.InvalidProducerIDMapping)(c)
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, ErrProducerStopped)
	require.NotContains(t, err.Error(), "coordinator no longer knows its transactional id", "%v", err)
}
