package protocol

import "github.com/gokafka/producer/protocol/wire"

// ProduceRequest carries record batches for partitions led by one broker.
// Versions 3-12 are implemented: v3 is the first to carry RecordBatch v2 and
// the oldest a Kafka 4 broker accepts. v12 has v11's bytes; it tells a
// transaction-v2 broker (KIP-890) to add partitions implicitly, so a
// transactional producer must not pick it unless it speaks transactions v2.
type ProduceRequest struct {
	TransactionalID *string // v3+
	Acks            int16
	TimeoutMs       int32
	Topics          []ProduceRequestTopic
	UnknownTags     []wire.TaggedField
}

// ProduceRequestTopic groups one topic's partitions.
type ProduceRequestTopic struct {
	Name        string
	Partitions  []ProduceRequestPartition
	UnknownTags []wire.TaggedField
}

// ProduceRequestPartition carries one partition's batch, as opaque bytes.
type ProduceRequestPartition struct {
	Index       int32
	Records     []byte // one or more encoded RecordBatch v2; nil encodes as null
	UnknownTags []wire.TaggedField
}

// ProduceResponse reports, per partition, where the batch landed or why not.
type ProduceResponse struct {
	Topics         []ProduceResponseTopic
	ThrottleTimeMs int32                         // v1+
	NodeEndpoints  []ProduceResponseNodeEndpoint // v10+, tag 0 (KIP-951)
	UnknownTags    []wire.TaggedField
}

// ProduceResponseTopic groups one topic's partition results.
type ProduceResponseTopic struct {
	Name        string
	Partitions  []ProduceResponsePartition
	UnknownTags []wire.TaggedField
}

// ProduceResponsePartition is one partition's result.
type ProduceResponsePartition struct {
	Index           int32
	ErrorCode       int16
	BaseOffset      int64
	LogAppendTimeMs int64                        // v2+, -1 default (CreateTime topics)
	LogStartOffset  int64                        // v5+, -1 default
	RecordErrors    []ProduceResponseRecordError // v8+ (KIP-467)
	ErrorMessage    *string                      // v8+
	// CurrentLeader is the KIP-951 hint sent with NOT_LEADER_OR_FOLLOWER
	// (v10+, tag 0); nil when absent.
	CurrentLeader *ProduceResponseLeader
	UnknownTags   []wire.TaggedField
}

// ProduceResponseRecordError names one record that made the batch fail.
type ProduceResponseRecordError struct {
	BatchIndex             int32
	BatchIndexErrorMessage *string
	UnknownTags            []wire.TaggedField
}

// ProduceResponseLeader is a partition's current leader as the broker knows it.
type ProduceResponseLeader struct {
	LeaderID    int32 // -1 when unknown
	LeaderEpoch int32 // -1 when unknown
	UnknownTags []wire.TaggedField
}

// ProduceResponseNodeEndpoint is the address of a leader named in a
// CurrentLeader hint, so the client can connect without a metadata round trip.
type ProduceResponseNodeEndpoint struct {
	NodeID      int32
	Host        string
	Port        int32
	Rack        *string
	UnknownTags []wire.TaggedField
}
