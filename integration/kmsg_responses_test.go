package integration

// Responses encoded by kmsg, as a broker would send them, decoded by our
// protocol package at every version both implement and compared field by
// field. Fields a version does not carry must read as the schema's defaults.

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/protocol"
)

// kmsgInt32s compares broker id lists; ours decodes an empty list as nil.
func kmsgInt32s(t *testing.T, want, got []int32, what string) {
	t.Helper()
	if len(want) == 0 {
		assert.Empty(t, got, what)
		return
	}
	assert.Equal(t, want, got, what)
}

func TestKmsgProduceResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.Produce, new(kmsg.ProduceResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrProduceResponse()
			resp.Version = v
			resp.ThrottleMillis = 250

			ok := kmsg.NewProduceResponseTopicPartition()
			ok.Partition, ok.BaseOffset, ok.LogAppendTime, ok.LogStartOffset = 0, 1<<40, 1_700_000_000_123, 17

			failed := kmsg.NewProduceResponseTopicPartition()
			failed.Partition, failed.ErrorCode, failed.BaseOffset = 11, 87, -1 // INVALID_RECORD
			failed.ErrorMessage = kmsg.StringPtr("record 1 is bad")
			bad := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			bad.RelativeOffset, bad.ErrorMessage = 1, kmsg.StringPtr("null key on a compacted topic")
			nullMsg := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			nullMsg.RelativeOffset = 3
			failed.ErrorRecords = []kmsg.ProduceResponseTopicPartitionErrorRecord{bad, nullMsg}

			moved := kmsg.NewProduceResponseTopicPartition()
			moved.Partition, moved.ErrorCode, moved.BaseOffset = 2, 6, -1 // NOT_LEADER_OR_FOLLOWER
			if v >= 10 {
				// The KIP-951 hint exists from v10; kmsg would write the
				// tag at v9 too, where the schema has no such tag.
				moved.CurrentLeader.LeaderID, moved.CurrentLeader.LeaderEpoch = 3, 41
				b := kmsg.NewProduceResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = 3, "broker-3.example", 9093, kmsg.StringPtr("rack-a")
				noRack := kmsg.NewProduceResponseBroker()
				noRack.NodeID, noRack.Host, noRack.Port = 4, "127.0.0.1", 19092
				resp.Brokers = []kmsg.ProduceResponseBroker{b, noRack}
			}

			// kmsg writes the name up to v12 and the id from v13 (KIP-516).
			t1 := kmsg.NewProduceResponseTopic()
			t1.Topic, t1.TopicID = "orders", [16]byte{0: 0x0d, 15: 1}
			t1.Partitions = []kmsg.ProduceResponseTopicPartition{ok, failed}
			t2 := kmsg.NewProduceResponseTopic()
			t2.Topic, t2.TopicID = "payments", [16]byte{0: 0xfa, 15: 2}
			t2.Partitions = []kmsg.ProduceResponseTopicPartition{moved}
			if v >= 13 {
				unknown := kmsg.NewProduceResponseTopicPartition()
				unknown.Partition, unknown.ErrorCode, unknown.BaseOffset = 0, 100, -1 // UNKNOWN_TOPIC_ID
				t3 := kmsg.NewProduceResponseTopic()
				t3.TopicID = [16]byte{15: 0xee}
				t3.Partitions = []kmsg.ProduceResponseTopicPartition{unknown}
				resp.Topics = append(resp.Topics, t3)
			}
			resp.Topics = append([]kmsg.ProduceResponseTopic{t1, t2}, resp.Topics...)

			var got protocol.ProduceResponse
			require.NoError(t, got.ReadFrom(resp.AppendTo(nil), v))
			assert.Equal(t, int32(250), got.ThrottleTimeMs, "throttle")
			assert.Empty(t, got.UnknownTags, "top-level tags we should know")
			require.Len(t, got.Topics, len(resp.Topics))
			for i, kt := range resp.Topics {
				gt := got.Topics[i]
				if v >= 13 {
					assert.Equal(t, kt.TopicID, [16]byte(gt.TopicID), "topic %d id", i)
					assert.Empty(t, gt.Name, "topic %d: no name from v13", i)
				} else {
					assert.Equal(t, kt.Topic, gt.Name, "topic %d", i)
					assert.Zero(t, gt.TopicID, "topic %d: no id before v13", i)
				}
				require.Len(t, gt.Partitions, len(kt.Partitions))
				for j, kp := range kt.Partitions {
					gp := gt.Partitions[j]
					what := fmt.Sprintf("%s[%d]", kt.Topic, j)
					assert.Equal(t, kp.Partition, gp.Index, "%s index", what)
					assert.Equal(t, kp.ErrorCode, gp.ErrorCode, "%s error code", what)
					assert.Equal(t, kp.BaseOffset, gp.BaseOffset, "%s base offset", what)
					assert.Equal(t, kp.LogAppendTime, gp.LogAppendTimeMs, "%s log append time", what)
					if v >= 5 {
						assert.Equal(t, kp.LogStartOffset, gp.LogStartOffset, "%s log start offset", what)
					} else {
						assert.Equal(t, int64(-1), gp.LogStartOffset, "%s log start offset default", what)
					}
					if v >= 8 {
						assert.Equal(t, kp.ErrorMessage, gp.ErrorMessage, "%s error message", what)
						require.Len(t, gp.RecordErrors, len(kp.ErrorRecords), "%s record errors", what)
						for k, ke := range kp.ErrorRecords {
							assert.Equal(t, ke.RelativeOffset, gp.RecordErrors[k].BatchIndex, "%s record error %d index", what, k)
							assert.Equal(t, ke.ErrorMessage, gp.RecordErrors[k].BatchIndexErrorMessage, "%s record error %d message", what, k)
						}
					} else {
						assert.Nil(t, gp.ErrorMessage, "%s error message is v8+", what)
						assert.Empty(t, gp.RecordErrors, "%s record errors are v8+", what)
					}
					if kp.CurrentLeader.LeaderID >= 0 {
						require.NotNil(t, gp.CurrentLeader, "%s current leader (KIP-951 tag 0)", what)
						assert.Equal(t, kp.CurrentLeader.LeaderID, gp.CurrentLeader.LeaderID, "%s current leader id", what)
						assert.Equal(t, kp.CurrentLeader.LeaderEpoch, gp.CurrentLeader.LeaderEpoch, "%s current leader epoch", what)
					} else {
						assert.Nil(t, gp.CurrentLeader, "%s current leader absent", what)
					}
					assert.Empty(t, gp.UnknownTags, "%s tags we should know", what)
				}
			}
			require.Len(t, got.NodeEndpoints, len(resp.Brokers), "node endpoints (KIP-951 tag 0)")
			for i, kb := range resp.Brokers {
				ge := got.NodeEndpoints[i]
				assert.Equal(t, kb.NodeID, ge.NodeID, "endpoint %d node", i)
				assert.Equal(t, kb.Host, ge.Host, "endpoint %d host", i)
				assert.Equal(t, kb.Port, ge.Port, "endpoint %d port", i)
				assert.Equal(t, kb.Rack, ge.Rack, "endpoint %d rack", i)
			}
		})
	}
}

func TestKmsgMetadataResponse(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.Metadata, new(kmsg.MetadataResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrMetadataResponse()
			resp.Version = v
			resp.ThrottleMillis = 12
			b1 := kmsg.NewMetadataResponseBroker()
			b1.NodeID, b1.Host, b1.Port, b1.Rack = 0, "127.0.0.1", 9092, kmsg.StringPtr("r1")
			b2 := kmsg.NewMetadataResponseBroker()
			b2.NodeID, b2.Host, b2.Port = 7, "broker-7.example.com", 19093
			resp.Brokers = []kmsg.MetadataResponseBroker{b1, b2}
			resp.ClusterID = kmsg.StringPtr("cluster-Ω")
			resp.ControllerID = 7
			resp.AuthorizedOperations = 0x0f0f

			good := kmsg.NewMetadataResponseTopic()
			good.Topic = kmsg.StringPtr("orders")
			good.TopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
			good.IsInternal = true
			good.AuthorizedOperations = 0x1234
			for i := range int32(3) {
				p := kmsg.NewMetadataResponseTopicPartition()
				p.Partition, p.Leader, p.LeaderEpoch = i, 7-i*7, 100+i
				p.Replicas, p.ISR = []int32{7, 0}, []int32{7}
				if i == 2 {
					p.ErrorCode, p.Leader = 5, -1 // LEADER_NOT_AVAILABLE
					p.ISR = []int32{}
					p.OfflineReplicas = []int32{0, 7}
				}
				good.Partitions = append(good.Partitions, p)
			}
			missing := kmsg.NewMetadataResponseTopic()
			missing.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			missing.Topic = kmsg.StringPtr("nope")
			resp.Topics = []kmsg.MetadataResponseTopic{good, missing}
			if v >= 12 {
				byID := kmsg.NewMetadataResponseTopic()
				byID.ErrorCode = 100 // UNKNOWN_TOPIC_ID
				byID.Topic = nil
				byID.TopicID = [16]byte{15: 9}
				resp.Topics = append(resp.Topics, byID)
			}
			if v >= 13 {
				resp.ErrorCode = -1 // UNKNOWN_SERVER_ERROR, for the whole answer (KIP-1102)
			}

			var got protocol.MetadataResponse
			require.NoError(t, got.ReadFrom(resp.AppendTo(nil), v))
			assert.Equal(t, resp.ErrorCode, got.ErrorCode, "top-level error code (v13+)")
			if v >= 3 {
				assert.Equal(t, int32(12), got.ThrottleTimeMs, "throttle")
			} else {
				assert.Zero(t, got.ThrottleTimeMs, "throttle is v3+")
			}
			require.Len(t, got.Brokers, 2)
			for i, kb := range resp.Brokers {
				gb := got.Brokers[i]
				assert.Equal(t, kb.NodeID, gb.NodeID, "broker %d id", i)
				assert.Equal(t, kb.Host, gb.Host, "broker %d host", i)
				assert.Equal(t, kb.Port, gb.Port, "broker %d port", i)
				assert.Equal(t, kb.Rack, gb.Rack, "broker %d rack", i)
			}
			if v >= 2 {
				assert.Equal(t, resp.ClusterID, got.ClusterID, "cluster id")
			} else {
				assert.Nil(t, got.ClusterID, "cluster id is v2+")
			}
			assert.Equal(t, int32(7), got.ControllerID, "controller id")
			if v >= 8 && v <= 10 {
				assert.Equal(t, int32(0x0f0f), got.ClusterAuthorizedOperations, "cluster authorized operations")
			} else {
				assert.Equal(t, int32(math.MinInt32), got.ClusterAuthorizedOperations, "cluster authorized operations default")
			}
			require.Len(t, got.Topics, len(resp.Topics))
			for i, kt := range resp.Topics {
				gt := got.Topics[i]
				what := fmt.Sprintf("topic %d", i)
				assert.Equal(t, kt.ErrorCode, gt.ErrorCode, "%s error code", what)
				assert.Equal(t, kt.Topic, gt.Name, "%s name", what)
				if v >= 10 {
					assert.Equal(t, kt.TopicID, [16]byte(gt.TopicID), "%s id", what)
				} else {
					assert.Zero(t, gt.TopicID, "%s id is v10+", what)
				}
				assert.Equal(t, kt.IsInternal, gt.IsInternal, "%s internal", what)
				if v >= 8 {
					assert.Equal(t, kt.AuthorizedOperations, gt.TopicAuthorizedOperations, "%s authorized operations", what)
				} else {
					assert.Equal(t, int32(math.MinInt32), gt.TopicAuthorizedOperations, "%s authorized operations default", what)
				}
				require.Len(t, gt.Partitions, len(kt.Partitions), what)
				for j, kp := range kt.Partitions {
					gp := gt.Partitions[j]
					what := fmt.Sprintf("%s partition %d", what, j)
					assert.Equal(t, kp.ErrorCode, gp.ErrorCode, "%s error code", what)
					assert.Equal(t, kp.Partition, gp.PartitionIndex, "%s index", what)
					assert.Equal(t, kp.Leader, gp.LeaderID, "%s leader", what)
					if v >= 7 {
						assert.Equal(t, kp.LeaderEpoch, gp.LeaderEpoch, "%s leader epoch", what)
					} else {
						assert.Equal(t, int32(-1), gp.LeaderEpoch, "%s leader epoch is v7+", what)
					}
					kmsgInt32s(t, kp.Replicas, gp.ReplicaNodes, what+" replicas")
					kmsgInt32s(t, kp.ISR, gp.IsrNodes, what+" isr")
					if v >= 5 {
						kmsgInt32s(t, kp.OfflineReplicas, gp.OfflineReplicas, what+" offline replicas")
					} else {
						assert.Empty(t, gp.OfflineReplicas, "%s offline replicas are v5+", what)
					}
				}
			}
		})
	}
}

func TestKmsgApiVersionsResponse(t *testing.T) {
	ours := protocol.Supported(protocol.ApiVersions)
	for _, v := range kmsgVersions(t, protocol.ApiVersions, new(kmsg.ApiVersionsResponse).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = v
			resp.ThrottleMillis = 3
			for _, k := range [][3]int16{{0, 3, 13}, {3, 0, 13}, {18, 0, 5}, {22, 0, 6}} {
				ak := kmsg.NewApiVersionsResponseApiKey()
				ak.ApiKey, ak.MinVersion, ak.MaxVersion = k[0], k[1], k[2]
				resp.ApiKeys = append(resp.ApiKeys, ak)
			}
			if v >= 3 {
				sf := kmsg.NewApiVersionsResponseSupportedFeature()
				sf.Name, sf.MinVersion, sf.MaxVersion = "metadata.version", 1, 27
				tv := kmsg.NewApiVersionsResponseSupportedFeature()
				tv.Name, tv.MinVersion, tv.MaxVersion = "transaction.version", 0, 2
				resp.SupportedFeatures = []kmsg.ApiVersionsResponseSupportedFeature{sf, tv}
				resp.FinalizedFeaturesEpoch = 1 << 33
				ff := kmsg.NewApiVersionsResponseFinalizedFeature()
				ff.Name, ff.MaxVersionLevel, ff.MinVersionLevel = "metadata.version", 27, 27
				resp.FinalizedFeatures = []kmsg.ApiVersionsResponseFinalizedFeature{ff}
				resp.ZkMigrationReady = true
			}

			got, err := protocol.ReadApiVersionsResponse(resp.AppendTo(nil), v)
			require.NoError(t, err)
			assert.Zero(t, got.ErrorCode, "error code")
			require.Len(t, got.ApiKeys, len(resp.ApiKeys))
			for i, k := range resp.ApiKeys {
				assert.Equal(t, k.ApiKey, got.ApiKeys[i].ApiKey, "key %d", i)
				assert.Equal(t, k.MinVersion, got.ApiKeys[i].MinVersion, "key %d min", i)
				assert.Equal(t, k.MaxVersion, got.ApiKeys[i].MaxVersion, "key %d max", i)
			}
			if v >= 1 {
				assert.Equal(t, int32(3), got.ThrottleTimeMs, "throttle")
			}
			if v < 3 {
				assert.Empty(t, got.SupportedFeatures, "features are v3+ tags")
				assert.Equal(t, int64(-1), got.FinalizedFeaturesEpoch, "finalized features epoch default")
				return
			}
			require.Len(t, got.SupportedFeatures, len(resp.SupportedFeatures), "supported features (tag 0)")
			for i, f := range resp.SupportedFeatures {
				assert.Equal(t, f.Name, got.SupportedFeatures[i].Name, "feature %d", i)
				assert.Equal(t, f.MinVersion, got.SupportedFeatures[i].MinVersion, "feature %d min", i)
				assert.Equal(t, f.MaxVersion, got.SupportedFeatures[i].MaxVersion, "feature %d max", i)
			}
			assert.Equal(t, resp.FinalizedFeaturesEpoch, got.FinalizedFeaturesEpoch, "finalized features epoch (tag 1)")
			require.Len(t, got.FinalizedFeatures, 1, "finalized features (tag 2)")
			assert.Equal(t, "metadata.version", got.FinalizedFeatures[0].Name)
			assert.Equal(t, int16(27), got.FinalizedFeatures[0].MaxVersionLevel, "finalized max level")
			assert.Equal(t, int16(27), got.FinalizedFeatures[0].MinVersionLevel, "finalized min level")
			assert.True(t, got.ZkMigrationReady, "zk migration ready (tag 3)")
			assert.Empty(t, got.UnknownTags, "tags we should know")
		})
	}

	// A broker that does not speak the version asked for answers
	// UNSUPPORTED_VERSION in a v0 body listing its ApiVersions range
	// (KIP-511); it must be read at v0 whatever version was asked.
	t.Run("unsupported version answered in v0", func(t *testing.T) {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		resp.ErrorCode = 35
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = 18, 0, 2
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{ak}
		got, err := protocol.ReadApiVersionsResponse(resp.AppendTo(nil), ours.Max)
		require.NoError(t, err)
		assert.Equal(t, int16(35), got.ErrorCode)
		assert.Equal(t, int16(2), protocol.ApiVersionsRetryVersion(got), "retry at the broker's highest ApiVersions version")
	})
}
