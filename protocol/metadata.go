package protocol

import "github.com/gokafka/producer/protocol/wire"

// MetadataRequest asks for brokers and for the partitions and leaders of
// topics. A nil Topics asks for all topics (v1+); an empty one for none.
type MetadataRequest struct {
	Topics                             []MetadataRequestTopic // nil = all topics
	AllowAutoTopicCreation             bool                   // v4+; before v4 the broker decides
	IncludeClusterAuthorizedOperations bool                   // v8-v10
	IncludeTopicAuthorizedOperations   bool                   // v8+
	UnknownTags                        []wire.TaggedField
}

// MetadataRequestTopic names one topic; by name here (TopicID is v10+ and
// zero when asking by name).
type MetadataRequestTopic struct {
	TopicID     wire.UUID // v10+
	Name        *string   // nullable from v10
	UnknownTags []wire.TaggedField
}

// MetadataResponse describes the cluster's brokers and the requested topics.
type MetadataResponse struct {
	ThrottleTimeMs              int32 // v3+
	Brokers                     []MetadataResponseBroker
	ClusterID                   *string // v2+
	ControllerID                int32   // v1+, -1 default
	Topics                      []MetadataResponseTopic
	ClusterAuthorizedOperations int32 // v8-v10, math.MinInt32 default
	UnknownTags                 []wire.TaggedField
}

// MetadataResponseBroker is one broker's address.
type MetadataResponseBroker struct {
	NodeID      int32
	Host        string
	Port        int32
	Rack        *string // v1+
	UnknownTags []wire.TaggedField
}

// MetadataResponseTopic is one topic's state.
type MetadataResponseTopic struct {
	ErrorCode                 int16
	Name                      *string   // nullable from v12 (topics asked for by id)
	TopicID                   wire.UUID // v10+
	IsInternal                bool      // v1+
	Partitions                []MetadataResponsePartition
	TopicAuthorizedOperations int32 // v8+, math.MinInt32 default
	UnknownTags               []wire.TaggedField
}

// MetadataResponsePartition is one partition's leader and replicas.
type MetadataResponsePartition struct {
	ErrorCode       int16
	PartitionIndex  int32
	LeaderID        int32
	LeaderEpoch     int32 // v7+, -1 default
	ReplicaNodes    []int32
	IsrNodes        []int32
	OfflineReplicas []int32 // v5+
	UnknownTags     []wire.TaggedField
}
