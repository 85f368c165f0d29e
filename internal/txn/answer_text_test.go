package txn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A partition an AddPartitionsToTxn or TxnOffsetCommit answer refuses is
// named in the transaction's error by the answer's topic name, which need
// not be one the request carried: a name no broker takes as a topic's is
// the broker's own text, and is quoted, control characters escaped, and
// cut after 512 bytes. Before, a line break in it faked a line of the
// application's log and an escape ran on its terminal. A name the request
// carried reads as it always has, and the Kafka error still matches.
func TestAPartitionAnAnswerRefusesIsNamedSafely(t *testing.T) {
	long := strings.Repeat("x", 600) + "THE END"
	for _, tc := range []struct {
		topic, shown string
	}{
		{"orders", "orders-3"},
		{"t\n\x1b[2J", `"t\n\x1b[2J"-3`},
		{long, `"` + strings.Repeat("x", 512) + `"... (607 bytes)-3`},
	} {
		added := addPartitionsError(&protocol.AddPartitionsToTxnResponse{
			ResultsByTopicV3AndBelow: []protocol.AddPartitionsToTxnResponseTopic{{Name: tc.topic,
				ResultsByPartition: []protocol.AddPartitionsToTxnResponsePartition{{PartitionIndex: 3, PartitionErrorCode: kerr.TopicAuthorizationFailed.Code}}}},
		}, []accumulator.TopicPartition{{Topic: "orders", Partition: 3}})
		committed := offsetCommitError(&protocol.TxnOffsetCommitResponse{
			Topics: []protocol.TxnOffsetCommitResponseTopic{{Name: tc.topic,
				Partitions: []protocol.TxnOffsetCommitResponsePartition{{PartitionIndex: 3, ErrorCode: kerr.TopicAuthorizationFailed.Code}}}},
		}, &protocol.TxnOffsetCommitRequest{})
		for api, err := range map[string]error{"AddPartitionsToTxn": added, "TxnOffsetCommit": committed} {
			require.ErrorIs(t, err, kerr.TopicAuthorizationFailed, api)
			require.Contains(t, err.Error(), api+": "+tc.shown+": ", api)
			require.NotContains(t, err.Error(), "\n", api)
			require.NotContains(t, err.Error(), "\x1b", api)
			require.NotContains(t, err.Error(), "THE END", api)
		}
	}
}
