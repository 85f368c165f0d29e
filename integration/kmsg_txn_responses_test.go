package integration

// The answers to our InitProducerId, transaction, SASL and CreateTopics
// requests, encoded by kmsg as a broker would send them, decoded by our
// protocol package at every version both implement, compared field by
// field, and re-encoded by us to kmsg's very bytes.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/protocol"
)

// kmsgDecodeResponse decodes kmsg's encoding of resp into ours at v, and
// requires our encoding of what we read to be kmsg's bytes: nothing left
// unread, nothing read into the wrong field.
func kmsgDecodeResponse(t *testing.T, v int16, resp kmsg.Response, ours protocol.Response) {
	t.Helper()
	require.Equal(t, int16(ours.Key()), resp.Key(), "API key")
	resp.SetVersion(v)
	b := resp.AppendTo(nil)
	require.NoError(t, ours.ReadFrom(b, v), "we cannot decode kmsg's %s v%d", ours.Key(), v)
	assert.Equal(t, b, ours.AppendTo(nil, v), "%s v%d: our encoding of what we read differs from kmsg's", ours.Key(), v)
}

func TestKmsgInitProducerIdResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.InitProducerId, new(kmsg.InitProducerIDResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrInitProducerIDResponse()
			resp.ThrottleMillis, resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = 20, 51, 1<<45+7, 31_000 // 51: CONCURRENT_TRANSACTIONS
			var got protocol.InitProducerIdResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code")
			assert.Equal(t, resp.ProducerID, got.ProducerID, "producer id")
			assert.Equal(t, resp.ProducerEpoch, got.ProducerEpoch, "producer epoch")
			assert.Equal(t, int64(-1), got.OngoingTxnProducerID, "ongoing transaction producer id is v6+: the default")
			assert.Equal(t, int16(-1), got.OngoingTxnProducerEpoch, "ongoing transaction epoch is v6+: the default")
			assert.Empty(t, got.UnknownTags, "tags we should know")
		})
	}
}

func TestKmsgFindCoordinatorResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.FindCoordinator, new(kmsg.FindCoordinatorResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrFindCoordinatorResponse()
			resp.ThrottleMillis = 4
			resp.ErrorCode, resp.ErrorMessage = 15, kmsg.StringPtr("loading") // COORDINATOR_NOT_AVAILABLE
			resp.NodeID, resp.Host, resp.Port = 3, "broker-3.example", 9094
			found := kmsg.NewFindCoordinatorResponseCoordinator()
			found.Key, found.NodeID, found.Host, found.Port = "txn-1", 2, "127.0.0.1", 19092
			missing := kmsg.NewFindCoordinatorResponseCoordinator()
			missing.Key, missing.NodeID, missing.ErrorCode, missing.ErrorMessage = "txn-2", -1, 14, kmsg.StringPtr("loading") // COORDINATOR_LOAD_IN_PROGRESS
			resp.Coordinators = []kmsg.FindCoordinatorResponseCoordinator{found, missing}

			var got protocol.FindCoordinatorResponse
			kmsgDecodeResponse(t, v, resp, &got)
			if v >= 1 {
				assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			}
			if v <= 3 {
				assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code")
				assert.Equal(t, resp.NodeID, got.NodeID, "node")
				assert.Equal(t, resp.Host, got.Host, "host")
				assert.Equal(t, resp.Port, got.Port, "port")
				if v >= 1 {
					assert.Equal(t, resp.ErrorMessage, got.ErrorMessage, "error message (v1-v3)")
				} else {
					assert.Nil(t, got.ErrorMessage, "error message is v1+")
				}
				assert.Empty(t, got.Coordinators, "coordinators are v4+")
				return
			}
			assert.Zero(t, got.ErrorCode, "the single answer is v0-v3")
			require.Len(t, got.Coordinators, len(resp.Coordinators))
			for i, kc := range resp.Coordinators {
				gc := got.Coordinators[i]
				assert.Equal(t, kc.Key, gc.Key, "coordinator %d key", i)
				assert.Equal(t, kc.NodeID, gc.NodeID, "coordinator %d node", i)
				assert.Equal(t, kc.Host, gc.Host, "coordinator %d host", i)
				assert.Equal(t, kc.Port, gc.Port, "coordinator %d port", i)
				assert.Equal(t, kc.ErrorCode, gc.ErrorCode, "coordinator %d error code", i)
				assert.Equal(t, kc.ErrorMessage, gc.ErrorMessage, "coordinator %d error message", i)
			}
		})
	}
}

func TestKmsgAddPartitionsToTxnResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.AddPartitionsToTxn, new(kmsg.AddPartitionsToTxnResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrAddPartitionsToTxnResponse()
			resp.ThrottleMillis = 9
			// Up to v3: the single transaction's results by topic.
			for _, name := range []string{"orders", "audit"} {
				kt := kmsg.NewAddPartitionsToTxnResponseTopic()
				kt.Topic = name
				for i, code := range []int16{0, 53} { // 53: TRANSACTIONAL_ID_AUTHORIZATION_FAILED
					p := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					p.Partition, p.ErrorCode = int32(i*5), code
					kt.Partitions = append(kt.Partitions, p)
				}
				resp.Topics = append(resp.Topics, kt)
			}
			// From v4: results per transaction, and an error for the whole.
			resp.ErrorCode = 0
			tx := kmsg.NewAddPartitionsToTxnResponseTransaction()
			tx.TransactionalID = "txn-1"
			tt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			tt.Topic = "orders"
			tp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			tp.Partition, tp.ErrorCode = 2, 48 // INVALID_TXN_STATE
			tt.Partitions = []kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{tp}
			tx.Topics = []kmsg.AddPartitionsToTxnResponseTransactionTopic{tt}
			resp.Transactions = []kmsg.AddPartitionsToTxnResponseTransaction{tx}

			var got protocol.AddPartitionsToTxnResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			if v <= 3 {
				assert.Empty(t, got.ResultsByTransaction, "results by transaction are v4+")
				require.Len(t, got.ResultsByTopicV3AndBelow, len(resp.Topics))
				for i, kt := range resp.Topics {
					gt := got.ResultsByTopicV3AndBelow[i]
					assert.Equal(t, kt.Topic, gt.Name, "topic %d", i)
					require.Len(t, gt.ResultsByPartition, len(kt.Partitions))
					for j, kp := range kt.Partitions {
						assert.Equal(t, kp.Partition, gt.ResultsByPartition[j].PartitionIndex, "topic %d partition %d", i, j)
						assert.Equal(t, kp.ErrorCode, gt.ResultsByPartition[j].PartitionErrorCode, "topic %d partition %d error", i, j)
					}
				}
				return
			}
			assert.Empty(t, got.ResultsByTopicV3AndBelow, "results by topic are v0-v3")
			assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code (v4+)")
			require.Len(t, got.ResultsByTransaction, 1)
			gtx := got.ResultsByTransaction[0]
			assert.Equal(t, "txn-1", gtx.TransactionalID)
			require.Len(t, gtx.TopicResults, 1)
			assert.Equal(t, "orders", gtx.TopicResults[0].Name)
			require.Len(t, gtx.TopicResults[0].ResultsByPartition, 1)
			assert.Equal(t, int32(2), gtx.TopicResults[0].ResultsByPartition[0].PartitionIndex)
			assert.Equal(t, int16(48), gtx.TopicResults[0].ResultsByPartition[0].PartitionErrorCode)
		})
	}
}

func TestKmsgAddOffsetsToTxnResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.AddOffsetsToTxn, new(kmsg.AddOffsetsToTxnResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrAddOffsetsToTxnResponse()
			resp.ThrottleMillis, resp.ErrorCode = 7, 90 // PRODUCER_FENCED
			var got protocol.AddOffsetsToTxnResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code")
		})
	}
}

func TestKmsgEndTxnResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.EndTxn, new(kmsg.EndTxnResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrEndTxnResponse()
			resp.ThrottleMillis, resp.ErrorCode = 1, 0
			resp.ProducerID, resp.ProducerEpoch = 1<<40, 8 // v5: the epoch the next transaction uses
			var got protocol.EndTxnResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code")
			if v >= 5 {
				assert.Equal(t, resp.ProducerID, got.ProducerID, "producer id (v5+)")
				assert.Equal(t, resp.ProducerEpoch, got.ProducerEpoch, "producer epoch (v5+)")
			} else {
				assert.Equal(t, int64(-1), got.ProducerID, "producer id is v5+: the default")
				assert.Equal(t, int16(-1), got.ProducerEpoch, "producer epoch is v5+: the default")
			}
		})
	}
}

func TestKmsgTxnOffsetCommitResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.TxnOffsetCommit, new(kmsg.TxnOffsetCommitResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrTxnOffsetCommitResponse()
			resp.ThrottleMillis = 2
			for i, name := range []string{"input", "other"} {
				kt := kmsg.NewTxnOffsetCommitResponseTopic()
				kt.Topic = name
				p := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				p.Partition, p.ErrorCode = int32(i), int16(22*i) // 22: ILLEGAL_GENERATION
				kt.Partitions = []kmsg.TxnOffsetCommitResponseTopicPartition{p}
				resp.Topics = append(resp.Topics, kt)
			}
			var got protocol.TxnOffsetCommitResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			require.Len(t, got.Topics, len(resp.Topics))
			for i, kt := range resp.Topics {
				gt := got.Topics[i]
				assert.Equal(t, kt.Topic, gt.Name, "topic %d", i)
				require.Len(t, gt.Partitions, 1)
				assert.Equal(t, kt.Partitions[0].Partition, gt.Partitions[0].PartitionIndex, "topic %d partition", i)
				assert.Equal(t, kt.Partitions[0].ErrorCode, gt.Partitions[0].ErrorCode, "topic %d error", i)
			}
		})
	}
}

func TestKmsgSaslHandshakeResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.SaslHandshake, new(kmsg.SASLHandshakeResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrSASLHandshakeResponse()
			resp.ErrorCode = 33 // UNSUPPORTED_SASL_MECHANISM
			resp.SupportedMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}
			var got protocol.SaslHandshakeResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code")
			assert.Equal(t, resp.SupportedMechanisms, got.Mechanisms, "mechanisms")
		})
	}
}

func TestKmsgSaslAuthenticateResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.SaslAuthenticate, new(kmsg.SASLAuthenticateResponse).MaxVersion()) {
		for _, failed := range []bool{false, true} {
			t.Run(fmt.Sprintf("v%d/failed=%v", v, failed), func(t *testing.T) {
				resp := kmsg.NewPtrSASLAuthenticateResponse()
				resp.SASLAuthBytes = []byte("r=nonce,s=c2FsdA==,i=4096")
				resp.SessionLifetimeMillis = 3_600_000
				if failed {
					resp.ErrorCode, resp.ErrorMessage, resp.SASLAuthBytes = 58, kmsg.StringPtr("Authentication failed"), []byte{} // SASL_AUTHENTICATION_FAILED
				}
				var got protocol.SaslAuthenticateResponse
				kmsgDecodeResponse(t, v, resp, &got)
				assert.Equal(t, resp.ErrorCode, got.ErrorCode, "error code")
				assert.Equal(t, resp.ErrorMessage, got.ErrorMessage, "error message")
				assert.Equal(t, string(resp.SASLAuthBytes), string(got.AuthBytes), "auth bytes")
				if v >= 1 {
					assert.Equal(t, resp.SessionLifetimeMillis, got.SessionLifetimeMs, "session lifetime (KIP-368)")
				} else {
					assert.Zero(t, got.SessionLifetimeMs, "session lifetime is v1+")
				}
			})
		}
	}
}

func TestKmsgCreateTopicsResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.CreateTopics, new(kmsg.CreateTopicsResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrCreateTopicsResponse()
			resp.ThrottleMillis = 5
			created := kmsg.NewCreateTopicsResponseTopic()
			created.Topic, created.TopicID = "orders", [16]byte{1, 15: 2}
			created.NumPartitions, created.ReplicationFactor = 6, 3
			retention := kmsg.NewCreateTopicsResponseTopicConfig()
			retention.Name, retention.Value, retention.Source = "retention.ms", kmsg.StringPtr("604800000"), 5
			secret := kmsg.NewCreateTopicsResponseTopicConfig()
			secret.Name, secret.ReadOnly, secret.IsSensitive = "sasl.jaas.config", true, true
			created.Configs = []kmsg.CreateTopicsResponseTopicConfig{retention, secret}
			undescribed := kmsg.NewCreateTopicsResponseTopic()
			undescribed.Topic, undescribed.ConfigErrorCode = "secret", 29 // TOPIC_AUTHORIZATION_FAILED, tag 0
			undescribed.Configs = nil
			exists := kmsg.NewCreateTopicsResponseTopic()
			exists.Topic, exists.ErrorCode, exists.ErrorMessage = "old", 36, kmsg.StringPtr("Topic 'old' already exists.") // TOPIC_ALREADY_EXISTS
			exists.Configs = []kmsg.CreateTopicsResponseTopicConfig{}
			resp.Topics = []kmsg.CreateTopicsResponseTopic{created, undescribed, exists}

			var got protocol.CreateTopicsResponse
			kmsgDecodeResponse(t, v, resp, &got)
			assert.Equal(t, resp.ThrottleMillis, got.ThrottleTimeMs, "throttle")
			require.Len(t, got.Topics, len(resp.Topics))
			for i, kt := range resp.Topics {
				gt := got.Topics[i]
				what := fmt.Sprintf("topic %d (%s)", i, kt.Topic)
				assert.Equal(t, kt.Topic, gt.Name, "%s name", what)
				assert.Equal(t, kt.ErrorCode, gt.ErrorCode, "%s error code", what)
				assert.Equal(t, kt.ErrorMessage, gt.ErrorMessage, "%s error message", what)
				if v >= 7 {
					assert.Equal(t, kt.TopicID, [16]byte(gt.TopicID), "%s id (v7+)", what)
				} else {
					assert.Zero(t, gt.TopicID, "%s id is v7+", what)
				}
				if v < 5 {
					assert.Equal(t, int32(-1), gt.NumPartitions, "%s partitions are v5+: the default", what)
					assert.Nil(t, gt.Configs, "%s configs are v5+", what)
					assert.Zero(t, gt.TopicConfigErrorCode, "%s config error is a v5+ tag", what)
					continue
				}
				assert.Equal(t, kt.NumPartitions, gt.NumPartitions, "%s partitions", what)
				assert.Equal(t, kt.ReplicationFactor, gt.ReplicationFactor, "%s replication factor", what)
				assert.Equal(t, kt.ConfigErrorCode, gt.TopicConfigErrorCode, "%s config error code (tag 0)", what)
				assert.Equal(t, kt.Configs == nil, gt.Configs == nil, "%s configs: null and empty stay apart", what)
				require.Len(t, gt.Configs, len(kt.Configs), what)
				for j, kc := range kt.Configs {
					gc := gt.Configs[j]
					assert.Equal(t, kc.Name, gc.Name, "%s config %d", what, j)
					assert.Equal(t, kc.Value, gc.Value, "%s config %d value", what, j)
					assert.Equal(t, kc.ReadOnly, gc.ReadOnly, "%s config %d read only", what, j)
					assert.Equal(t, kc.Source, gc.ConfigSource, "%s config %d source", what, j)
					assert.Equal(t, kc.IsSensitive, gc.IsSensitive, "%s config %d sensitive", what, j)
				}
				assert.Empty(t, gt.UnknownTags, "%s tags we should know", what)
			}
		})
	}
}
