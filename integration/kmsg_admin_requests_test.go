package integration

// Our SASL and CreateTopics requests, decoded by kmsg at every version both
// implement, compared field by field, and re-encoded by kmsg (header
// included) to the very bytes we wrote.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/protocol"
)

func TestKmsgSaslHandshakeRequest(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.SaslHandshake, new(kmsg.SASLHandshakeRequest).MaxVersion()) {
		for _, mech := range []string{"PLAIN", "SCRAM-SHA-512", "OAUTHBEARER"} {
			t.Run(fmt.Sprintf("v%d/%s", v, mech), func(t *testing.T) {
				req := protocol.SaslHandshakeRequest{Mechanism: mech}
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrSASLHandshakeRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						assert.Equal(t, mech, d.(*kmsg.SASLHandshakeRequest).Mechanism, "mechanism")
					}})
			})
		}
	}
}

func TestKmsgSaslAuthenticateRequest(t *testing.T) {
	binary := make([]byte, 300) // past one byte of compact length
	for i := range binary {
		binary[i] = byte(i)
	}
	for _, v := range kmsgVersions(t, protocol.SaslAuthenticate, new(kmsg.SASLAuthenticateRequest).MaxVersion()) {
		for name, token := range map[string][]byte{"empty": {}, "plain": []byte("\x00user\x00pässword"), "binary": binary} {
			t.Run(fmt.Sprintf("v%d/%s", v, name), func(t *testing.T) {
				req := protocol.SaslAuthenticateRequest{AuthBytes: token}
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrSASLAuthenticateRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.SASLAuthenticateRequest).SASLAuthBytes
						assert.Len(t, got, len(token), "auth bytes")
						assert.Equal(t, string(token), string(got), "auth bytes")
					}})
			})
		}
	}
}

func TestKmsgCreateTopicsRequest(t *testing.T) {
	retention, null := "86400000", (*string)(nil)
	for _, v := range kmsgVersions(t, protocol.CreateTopics, new(kmsg.CreateTopicsRequest).MaxVersion()) {
		for _, validate := range []bool{false, true} {
			t.Run(fmt.Sprintf("v%d/validate=%v", v, validate), func(t *testing.T) {
				req := protocol.CreateTopicsRequest{
					TimeoutMs:    45_000,
					ValidateOnly: validate,
					Topics: []protocol.CreateTopicsRequestTopic{
						{Name: "auto", NumPartitions: 12, ReplicationFactor: 3, Configs: []protocol.CreateTopicsRequestConfig{
							{Name: "retention.ms", Value: &retention}, {Name: "cleanup.policy", Value: null},
						}},
						{Name: "placed", NumPartitions: -1, ReplicationFactor: -1, Assignments: []protocol.CreateTopicsRequestAssignment{
							{PartitionIndex: 0, BrokerIDs: []int32{1, 2}}, {PartitionIndex: 1, BrokerIDs: []int32{2, 3}},
						}},
						{Name: "defaults", NumPartitions: -1, ReplicationFactor: -1},
					},
				}
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrCreateTopicsRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.CreateTopicsRequest)
						assert.Equal(t, req.TimeoutMs, got.TimeoutMillis, "timeout")
						assert.Equal(t, req.ValidateOnly, got.ValidateOnly, "validate only")
						require.Len(t, got.Topics, len(req.Topics))
						for i, wt := range req.Topics {
							gt := got.Topics[i]
							assert.Equal(t, wt.Name, gt.Topic, "topic %d name", i)
							assert.Equal(t, wt.NumPartitions, gt.NumPartitions, "topic %d partitions", i)
							assert.Equal(t, wt.ReplicationFactor, gt.ReplicationFactor, "topic %d replication factor", i)
							require.Len(t, gt.ReplicaAssignment, len(wt.Assignments), "topic %d assignments", i)
							for j, wa := range wt.Assignments {
								assert.Equal(t, wa.PartitionIndex, gt.ReplicaAssignment[j].Partition, "topic %d assignment %d", i, j)
								assert.Equal(t, wa.BrokerIDs, gt.ReplicaAssignment[j].Replicas, "topic %d assignment %d brokers", i, j)
							}
							require.Len(t, gt.Configs, len(wt.Configs), "topic %d configs", i)
							for j, wc := range wt.Configs {
								assert.Equal(t, wc.Name, gt.Configs[j].Name, "topic %d config %d", i, j)
								assert.Equal(t, wc.Value, gt.Configs[j].Value, "topic %d config %d value (null stays null)", i, j)
							}
						}
					}})
			})
		}
	}
}

// TestKmsgCoversEveryRequest keeps this suite honest: every API the
// protocol package implements has its requests checked against kmsg
// above, and its responses in kmsg_*responses_test.go. Adding an API to
// protocol/ without those checks fails here.
func TestKmsgCoversEveryRequest(t *testing.T) {
	covered := map[protocol.APIKey]bool{
		protocol.Produce: true, protocol.Metadata: true, protocol.ApiVersions: true, protocol.InitProducerId: true,
		protocol.FindCoordinator: true, protocol.AddPartitionsToTxn: true, protocol.AddOffsetsToTxn: true,
		protocol.EndTxn: true, protocol.TxnOffsetCommit: true,
		protocol.SaslHandshake: true, protocol.SaslAuthenticate: true, protocol.CreateTopics: true,
	}
	for key := range int16(200) {
		api := protocol.APIKey(key)
		if r := protocol.Supported(api); r.Min <= r.Max {
			assert.True(t, covered[api], "%s (key %d) has no kmsg check of its requests and responses", api, key)
		}
	}
}
