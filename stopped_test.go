package producer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
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
