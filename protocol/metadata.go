package protocol

import (
	"math"

	"github.com/gokafka/producer/protocol/wire"
)

// MetadataRequest asks for brokers and for the partitions and leaders of
// topics. A nil Topics asks for all topics (v1+); an empty one for none.
// Versions 1-13 are implemented. v0, where an empty list meant all topics,
// is left out: every broker that speaks Produce v3 speaks Metadata v1.
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
	// ErrorCode (v13+) is an error for the whole response, such as
	// REBOOTSTRAP_REQUIRED (KIP-1102): when it is set, the brokers and
	// topics describe nothing and must not be applied.
	ErrorCode   int16
	UnknownTags []wire.TaggedField
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

// Key implements Message.
func (*MetadataRequest) Key() APIKey { return Metadata }

// ResponseKind implements Request.
func (*MetadataRequest) ResponseKind() Response { return new(MetadataResponse) }

// AppendTo implements Message. Before v10 a topic name cannot be null, so a
// nil Name is sent as the empty string there. AllowAutoTopicCreation is not
// sent before v4, where the broker's own setting decides.
func (r *MetadataRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(Metadata, v)
	if r.Topics == nil {
		dst = wire.AppendNullArray(dst, flex)
	} else {
		dst = wire.AppendLen(dst, len(r.Topics), flex)
	}
	for i := range r.Topics {
		t := &r.Topics[i]
		if v >= 10 {
			dst = wire.AppendUUID(dst, t.TopicID)
			dst = wire.AppendNullableStr(dst, t.Name, flex)
		} else {
			dst = wire.AppendStr(dst, nonNullString(t.Name), flex)
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, t.UnknownTags)
		}
	}
	if v >= 4 {
		dst = wire.AppendBool(dst, r.AllowAutoTopicCreation)
	}
	if v >= 8 && v <= 10 {
		dst = wire.AppendBool(dst, r.IncludeClusterAuthorizedOperations)
	}
	if v >= 8 {
		dst = wire.AppendBool(dst, r.IncludeTopicAuthorizedOperations)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Topics stays nil only for a null array: an
// empty one asks for no topics and decodes as an empty, non-nil slice.
func (r *MetadataRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(Metadata, v); err != nil {
		return err
	}
	*r = MetadataRequest{AllowAutoTopicCreation: true}
	flex := IsFlexible(Metadata, v)
	rd := wire.NewReader(b)
	if n := readNullableArrayLen(&rd, flex, 2, "topics"); n >= 0 {
		r.Topics = make([]MetadataRequestTopic, n)
		for i := range r.Topics {
			t := &r.Topics[i]
			if v >= 10 {
				t.TopicID = rd.UUID()
				t.Name = rd.NullableStr(flex)
			} else {
				name := rd.Str(flex)
				t.Name = &name
			}
			if flex {
				t.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if v >= 4 {
		r.AllowAutoTopicCreation = rd.Bool()
	}
	if v >= 8 && v <= 10 {
		r.IncludeClusterAuthorizedOperations = rd.Bool()
	}
	if v >= 8 {
		r.IncludeTopicAuthorizedOperations = rd.Bool()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("MetadataRequest")
	return decodeErr(Metadata, v, &rd)
}

// Key implements Message.
func (*MetadataResponse) Key() APIKey { return Metadata }

// AppendTo implements Message. Before v12 a topic name cannot be null, so a
// nil Name is sent as the empty string there.
func (r *MetadataResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(Metadata, v)
	if v >= 3 {
		dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	}
	dst = wire.AppendLen(dst, len(r.Brokers), flex)
	for i := range r.Brokers {
		br := &r.Brokers[i]
		dst = wire.AppendInt32(dst, br.NodeID)
		dst = wire.AppendStr(dst, br.Host, flex)
		dst = wire.AppendInt32(dst, br.Port)
		if v >= 1 {
			dst = wire.AppendNullableStr(dst, br.Rack, flex)
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, br.UnknownTags)
		}
	}
	if v >= 2 {
		dst = wire.AppendNullableStr(dst, r.ClusterID, flex)
	}
	if v >= 1 {
		dst = wire.AppendInt32(dst, r.ControllerID)
	}
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		dst = r.Topics[i].appendTo(dst, v, flex)
	}
	if v >= 8 && v <= 10 {
		dst = wire.AppendInt32(dst, r.ClusterAuthorizedOperations)
	}
	if v >= 13 {
		dst = wire.AppendInt16(dst, r.ErrorCode)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

func (t *MetadataResponseTopic) appendTo(dst []byte, v int16, flex bool) []byte {
	dst = wire.AppendInt16(dst, t.ErrorCode)
	if v >= 12 {
		dst = wire.AppendNullableStr(dst, t.Name, flex)
	} else {
		dst = wire.AppendStr(dst, nonNullString(t.Name), flex)
	}
	if v >= 10 {
		dst = wire.AppendUUID(dst, t.TopicID)
	}
	if v >= 1 {
		dst = wire.AppendBool(dst, t.IsInternal)
	}
	dst = wire.AppendLen(dst, len(t.Partitions), flex)
	for i := range t.Partitions {
		p := &t.Partitions[i]
		dst = wire.AppendInt16(dst, p.ErrorCode)
		dst = wire.AppendInt32(dst, p.PartitionIndex)
		dst = wire.AppendInt32(dst, p.LeaderID)
		if v >= 7 {
			dst = wire.AppendInt32(dst, p.LeaderEpoch)
		}
		dst = appendInt32s(dst, p.ReplicaNodes, flex)
		dst = appendInt32s(dst, p.IsrNodes, flex)
		if v >= 5 {
			dst = appendInt32s(dst, p.OfflineReplicas, flex)
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, p.UnknownTags)
		}
	}
	if v >= 8 {
		dst = wire.AppendInt32(dst, t.TopicAuthorizedOperations)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, t.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Fields absent at v read as the schema's
// defaults: ControllerID and LeaderEpoch -1, authorized operations
// math.MinInt32 ("not requested"), Rack and ClusterID null.
func (r *MetadataResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(Metadata, v); err != nil {
		return err
	}
	*r = MetadataResponse{ControllerID: -1, ClusterAuthorizedOperations: math.MinInt32}
	flex := IsFlexible(Metadata, v)
	rd := wire.NewReader(b)
	if v >= 3 {
		r.ThrottleTimeMs = rd.Int32()
	}
	// A broker is at least its node id, host length and port.
	if n := readArrayLen(&rd, flex, 9, "brokers"); n > 0 {
		r.Brokers = make([]MetadataResponseBroker, n)
		for i := range r.Brokers {
			br := &r.Brokers[i]
			br.NodeID = rd.Int32()
			br.Host = rd.Str(flex)
			br.Port = rd.Int32()
			if v >= 1 {
				br.Rack = rd.NullableStr(flex)
			}
			if flex {
				br.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if v >= 2 {
		r.ClusterID = rd.NullableStr(flex)
	}
	if v >= 1 {
		r.ControllerID = rd.Int32()
	}
	// A topic is at least its error code, name length and partition count.
	if n := readArrayLen(&rd, flex, 4, "topics"); n > 0 {
		r.Topics = make([]MetadataResponseTopic, n)
		for i := range r.Topics {
			r.Topics[i].readFrom(&rd, v, flex)
		}
	}
	if v >= 8 && v <= 10 {
		r.ClusterAuthorizedOperations = rd.Int32()
	}
	if v >= 13 {
		r.ErrorCode = rd.Int16()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("MetadataResponse")
	return decodeErr(Metadata, v, &rd)
}

func (t *MetadataResponseTopic) readFrom(rd *wire.Reader, v int16, flex bool) {
	t.TopicAuthorizedOperations = math.MinInt32
	t.ErrorCode = rd.Int16()
	if v >= 12 {
		t.Name = rd.NullableStr(flex)
	} else {
		name := rd.Str(flex)
		t.Name = &name
	}
	if v >= 10 {
		t.TopicID = rd.UUID()
	}
	if v >= 1 {
		t.IsInternal = rd.Bool()
	}
	// A partition is at least its error code, index, leader and two lists.
	if n := readArrayLen(rd, flex, 12, "partitions"); n > 0 {
		t.Partitions = make([]MetadataResponsePartition, n)
		for i := range t.Partitions {
			p := &t.Partitions[i]
			p.ErrorCode = rd.Int16()
			p.PartitionIndex = rd.Int32()
			p.LeaderID = rd.Int32()
			p.LeaderEpoch = -1
			if v >= 7 {
				p.LeaderEpoch = rd.Int32()
			}
			p.ReplicaNodes = readInt32s(rd, flex, "replica nodes")
			p.IsrNodes = readInt32s(rd, flex, "isr nodes")
			if v >= 5 {
				p.OfflineReplicas = readInt32s(rd, flex, "offline replicas")
			}
			if flex {
				p.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if v >= 8 {
		t.TopicAuthorizedOperations = rd.Int32()
	}
	if flex {
		t.UnknownTags = rd.TaggedFields(nil)
	}
}
