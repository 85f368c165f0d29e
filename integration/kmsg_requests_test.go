package integration

// Our Metadata, ApiVersions and InitProducerId requests, decoded by kmsg at
// every version both implement, compared field by field, and re-encoded by
// kmsg (header included) to the very bytes we wrote.

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
)

// kmsgRequest is one request of ours and the kmsg type to decode it into.
type kmsgRequest struct {
	ours  protocol.Request
	kmsg  kmsg.Request
	check func(t *testing.T, v int16, decoded kmsg.Request)
}

// kmsgCheckRequest encodes ours at v with its header, decodes the body with
// kmsg, runs the field checks, and requires kmsg's encoding of the decoded
// request to be our bytes.
func kmsgCheckRequest(t *testing.T, v int16, r kmsgRequest) {
	t.Helper()
	const correlationID = -7 // negative on purpose: it is an int32, not a uint32
	clientID := "client-√"
	frame := protocol.AppendRequestHeader(nil, r.ours.Key(), v, correlationID, &clientID)
	body := r.ours.AppendTo(nil, v)
	frame = append(frame, body...)

	require.Equal(t, int16(r.ours.Key()), r.kmsg.Key(), "API key")
	require.GreaterOrEqual(t, r.kmsg.MaxVersion(), v, "kmsg does not know %s v%d", r.ours.Key(), v)
	r.kmsg.SetVersion(v)
	require.NoError(t, r.kmsg.ReadFrom(body), "kmsg cannot decode our %s v%d", r.ours.Key(), v)
	assert.Equal(t, protocol.IsFlexible(r.ours.Key(), v), r.kmsg.IsFlexible(), "flexible at v%d", v)
	r.check(t, v, r.kmsg)

	want := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)).AppendRequest(nil, r.kmsg, correlationID)
	require.Equal(t, uint32(len(want)-4), binary.BigEndian.Uint32(want), "kmsg frame size")
	assert.Equal(t, want[4:], frame, "%s v%d: our header and body differ from kmsg's encoding of what it decoded", r.ours.Key(), v)
}

func TestKmsgMetadataRequest(t *testing.T) {
	require.Equal(t, protocol.VersionRange{Min: 1, Max: 13}, protocol.Supported(protocol.Metadata))
	id := wire.UUID{0: 1, 7: 0x80, 15: 0xff}
	named := func(s string) *string { return &s }

	for _, v := range kmsgVersions(t, protocol.Metadata, new(kmsg.MetadataRequest).MaxVersion()) {
		for _, c := range []struct {
			name string
			req  protocol.MetadataRequest
		}{
			{"all topics", protocol.MetadataRequest{Topics: nil, AllowAutoTopicCreation: true}},
			{"no topics", protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{}}},
			{"named topics", protocol.MetadataRequest{
				Topics: []protocol.MetadataRequestTopic{
					{Name: named("orders")}, {Name: named("a.b_c-d")}, {Name: named("")},
				},
				AllowAutoTopicCreation:             false,
				IncludeClusterAuthorizedOperations: true,
				IncludeTopicAuthorizedOperations:   true,
			}},
			{"topic ids", protocol.MetadataRequest{
				Topics:                           []protocol.MetadataRequestTopic{{TopicID: id, Name: nil}},
				AllowAutoTopicCreation:           true,
				IncludeTopicAuthorizedOperations: true,
			}},
		} {
			if c.name == "topic ids" && v < 10 {
				continue // topics are asked for by name before v10
			}
			t.Run(fmt.Sprintf("v%d/%s", v, c.name), func(t *testing.T) {
				req := c.req
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrMetadataRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.MetadataRequest)
						if req.Topics == nil {
							assert.Nil(t, got.Topics, "a nil Topics must be sent as null (all topics)")
						} else {
							assert.NotNil(t, got.Topics, "an empty Topics must not be sent as null")
						}
						require.Len(t, got.Topics, len(req.Topics))
						for i, rt := range req.Topics {
							if v >= 10 {
								assert.Equal(t, [16]byte(rt.TopicID), got.Topics[i].TopicID, "topic %d id", i)
								assert.Equal(t, rt.Name, got.Topics[i].Topic, "topic %d name", i)
							} else {
								require.NotNil(t, got.Topics[i].Topic, "topic %d name", i)
								assert.Equal(t, *rt.Name, *got.Topics[i].Topic, "topic %d name", i)
							}
						}
						if v >= 4 {
							assert.Equal(t, req.AllowAutoTopicCreation, got.AllowAutoTopicCreation, "allow auto topic creation")
						}
						if v >= 8 && v <= 10 {
							assert.Equal(t, req.IncludeClusterAuthorizedOperations, got.IncludeClusterAuthorizedOperations, "include cluster authorized operations")
						}
						if v >= 8 {
							assert.Equal(t, req.IncludeTopicAuthorizedOperations, got.IncludeTopicAuthorizedOperations, "include topic authorized operations")
						}
					}})
			})
		}
	}
}

func TestKmsgApiVersionsRequest(t *testing.T) {
	require.Equal(t, protocol.VersionRange{Min: 0, Max: 4}, protocol.Supported(protocol.ApiVersions))
	for _, v := range kmsgVersions(t, protocol.ApiVersions, new(kmsg.ApiVersionsRequest).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			req := protocol.ApiVersionsRequest{ClientSoftwareName: "gokafka-producer", ClientSoftwareVersion: "1.2.3-rc.1"}
			kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrApiVersionsRequest(),
				check: func(t *testing.T, v int16, d kmsg.Request) {
					got := d.(*kmsg.ApiVersionsRequest)
					if v >= 3 {
						assert.Equal(t, req.ClientSoftwareName, got.ClientSoftwareName, "client software name")
						assert.Equal(t, req.ClientSoftwareVersion, got.ClientSoftwareVersion, "client software version")
					} else {
						assert.Empty(t, got.ClientSoftwareName, "v0-v2 have an empty body")
						assert.Empty(t, got.ClientSoftwareVersion, "v0-v2 have an empty body")
					}
				}})
		})
	}
}

func TestKmsgInitProducerIdRequest(t *testing.T) {
	// v6 (KIP-939) is newer than kmsg; protocol's golden bytes check it.
	require.Equal(t, protocol.VersionRange{Min: 0, Max: 6}, protocol.Supported(protocol.InitProducerId))
	txn := "txn-1"
	for _, v := range kmsgVersions(t, protocol.InitProducerId, new(kmsg.InitProducerIDRequest).MaxVersion()) {
		for _, c := range []struct {
			name string
			req  protocol.InitProducerIdRequest
		}{
			{"idempotent", protocol.InitProducerIdRequest{TransactionalID: nil, TransactionTimeoutMs: -1, ProducerID: -1, ProducerEpoch: -1}},
			{"transactional, epoch bump", protocol.InitProducerIdRequest{TransactionalID: &txn, TransactionTimeoutMs: 60_000, ProducerID: 1 << 50, ProducerEpoch: 32_000}},
		} {
			t.Run(fmt.Sprintf("v%d/%s", v, c.name), func(t *testing.T) {
				req := c.req
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrInitProducerIDRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.InitProducerIDRequest)
						assert.Equal(t, req.TransactionalID, got.TransactionalID, "transactional id")
						assert.Equal(t, req.TransactionTimeoutMs, got.TransactionTimeoutMillis, "transaction timeout")
						if v >= 3 {
							assert.Equal(t, req.ProducerID, got.ProducerID, "producer id")
							assert.Equal(t, req.ProducerEpoch, got.ProducerEpoch, "producer epoch")
						} else {
							assert.Equal(t, int64(-1), got.ProducerID, "producer id is v3+: kmsg's default")
							assert.Equal(t, int16(-1), got.ProducerEpoch, "producer epoch is v3+: kmsg's default")
						}
					}})
			})
		}
	}
}
