package protocol

import "github.com/gokafka/producer/protocol/wire"

// CreateTopicsRequest creates topics. Nothing on the produce path sends it;
// it is here for tests and tooling that set topics up. Versions 2-7 are
// implemented: v0 and v1 are deprecated, and Kafka 4 brokers refuse them.
type CreateTopicsRequest struct {
	Topics       []CreateTopicsRequestTopic
	TimeoutMs    int32 // 60000 is the schema's default
	ValidateOnly bool  // check the request, create nothing
	UnknownTags  []wire.TaggedField
}

// CreateTopicsRequestTopic is one topic to create. NumPartitions and
// ReplicationFactor are -1 when Assignments is given or, from v4, to take the
// broker's defaults (KIP-464).
type CreateTopicsRequestTopic struct {
	Name              string
	NumPartitions     int32
	ReplicationFactor int16
	Assignments       []CreateTopicsRequestAssignment // empty for automatic assignment
	Configs           []CreateTopicsRequestConfig
	UnknownTags       []wire.TaggedField
}

// CreateTopicsRequestAssignment places one partition on chosen brokers.
type CreateTopicsRequestAssignment struct {
	PartitionIndex int32
	BrokerIDs      []int32
	UnknownTags    []wire.TaggedField
}

// CreateTopicsRequestConfig is one topic configuration to set.
type CreateTopicsRequestConfig struct {
	Name        string
	Value       *string
	UnknownTags []wire.TaggedField
}

// CreateTopicsResponse reports each topic's outcome and, from v5, the
// configuration it was created with (KIP-525).
type CreateTopicsResponse struct {
	ThrottleTimeMs int32
	Topics         []CreateTopicsResponseTopic
	UnknownTags    []wire.TaggedField
}

// CreateTopicsResponseTopic is one topic's outcome.
type CreateTopicsResponseTopic struct {
	Name         string
	TopicID      wire.UUID // v7+
	ErrorCode    int16
	ErrorMessage *string
	// TopicConfigErrorCode (v5+, tag 0) says why Configs is missing when the
	// topic was created but describing its configuration failed.
	TopicConfigErrorCode int16
	NumPartitions        int32 // v5+, -1 default
	ReplicationFactor    int16 // v5+, -1 default
	// Configs (v5+) is nil when the broker sent null (no configuration
	// returned, e.g. not authorized to describe it) and empty, not nil, when
	// it sent an empty list.
	Configs     []CreateTopicsResponseConfig
	UnknownTags []wire.TaggedField
}

// CreateTopicsResponseConfig is one configuration entry of a created topic.
type CreateTopicsResponseConfig struct {
	Name         string
	Value        *string
	ReadOnly     bool
	ConfigSource int8 // -1 default (unknown)
	IsSensitive  bool
	UnknownTags  []wire.TaggedField
}

// tagTopicConfigErrorCode is the tag of CreateTopicsResponseTopic's
// TopicConfigErrorCode.
const tagTopicConfigErrorCode = 0

// Key implements Message.
func (*CreateTopicsRequest) Key() APIKey { return CreateTopics }

// ResponseKind implements Request.
func (*CreateTopicsRequest) ResponseKind() Response { return new(CreateTopicsResponse) }

// AppendTo implements Message.
func (r *CreateTopicsRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(CreateTopics, v)
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = wire.AppendStr(dst, t.Name, flex)
		dst = wire.AppendInt32(dst, t.NumPartitions)
		dst = wire.AppendInt16(dst, t.ReplicationFactor)
		dst = wire.AppendLen(dst, len(t.Assignments), flex)
		for j := range t.Assignments {
			a := &t.Assignments[j]
			dst = wire.AppendInt32(dst, a.PartitionIndex)
			dst = appendInt32s(dst, a.BrokerIDs, flex)
			if flex {
				dst = appendTagSection(dst, nil, nil, a.UnknownTags)
			}
		}
		dst = wire.AppendLen(dst, len(t.Configs), flex)
		for j := range t.Configs {
			c := &t.Configs[j]
			dst = wire.AppendStr(dst, c.Name, flex)
			dst = wire.AppendNullableStr(dst, c.Value, flex)
			if flex {
				dst = appendTagSection(dst, nil, nil, c.UnknownTags)
			}
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, t.UnknownTags)
		}
	}
	dst = wire.AppendInt32(dst, r.TimeoutMs)
	dst = wire.AppendBool(dst, r.ValidateOnly)
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *CreateTopicsRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(CreateTopics, v); err != nil {
		return err
	}
	*r = CreateTopicsRequest{}
	flex := IsFlexible(CreateTopics, v)
	rd := wire.NewReader(b)
	// Name, partition count, replication factor and two array lengths: at
	// least 10 bytes when compact, 16 when not.
	if n := readArrayLen(&rd, flex, 10, "topics"); n > 0 {
		r.Topics = make([]CreateTopicsRequestTopic, n)
		for i := range r.Topics {
			r.Topics[i].readFrom(&rd, flex)
		}
	}
	r.TimeoutMs = rd.Int32()
	r.ValidateOnly = rd.Bool()
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("CreateTopicsRequest")
	return decodeErr(CreateTopics, v, &rd)
}

func (t *CreateTopicsRequestTopic) readFrom(rd *wire.Reader, flex bool) {
	t.Name = rd.Str(flex)
	t.NumPartitions = rd.Int32()
	t.ReplicationFactor = rd.Int16()
	// A partition index and a broker count, plus tags if flexible.
	if n := readArrayLen(rd, flex, 5, "assignments"); n > 0 {
		t.Assignments = make([]CreateTopicsRequestAssignment, n)
		for i := range t.Assignments {
			a := &t.Assignments[i]
			a.PartitionIndex = rd.Int32()
			a.BrokerIDs = readInt32s(rd, flex, "broker ids")
			if flex {
				a.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	// A name length and a value length, plus tags if flexible.
	if n := readArrayLen(rd, flex, 2, "configs"); n > 0 {
		t.Configs = make([]CreateTopicsRequestConfig, n)
		for i := range t.Configs {
			c := &t.Configs[i]
			c.Name = rd.Str(flex)
			c.Value = rd.NullableStr(flex)
			if flex {
				c.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if flex {
		t.UnknownTags = rd.TaggedFields(nil)
	}
}

// Key implements Message.
func (*CreateTopicsResponse) Key() APIKey { return CreateTopics }

// AppendTo implements Message. TopicConfigErrorCode is written only when it
// is not 0, as Kafka writes tagged fields only when they differ from their
// defaults.
func (r *CreateTopicsResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(CreateTopics, v)
	dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		dst = r.Topics[i].appendTo(dst, v, flex)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

func (t *CreateTopicsResponseTopic) appendTo(dst []byte, v int16, flex bool) []byte {
	dst = wire.AppendStr(dst, t.Name, flex)
	if v >= 7 {
		dst = wire.AppendUUID(dst, t.TopicID)
	}
	dst = wire.AppendInt16(dst, t.ErrorCode)
	dst = wire.AppendNullableStr(dst, t.ErrorMessage, flex)
	if v >= 5 {
		dst = wire.AppendInt32(dst, t.NumPartitions)
		dst = wire.AppendInt16(dst, t.ReplicationFactor)
		if t.Configs == nil {
			dst = wire.AppendNullArray(dst, flex)
		} else {
			dst = wire.AppendLen(dst, len(t.Configs), flex)
		}
		for i := range t.Configs {
			c := &t.Configs[i]
			dst = wire.AppendStr(dst, c.Name, flex)
			dst = wire.AppendNullableStr(dst, c.Value, flex)
			dst = wire.AppendBool(dst, c.ReadOnly)
			dst = wire.AppendInt8(dst, c.ConfigSource)
			dst = wire.AppendBool(dst, c.IsSensitive)
			dst = appendTagSection(dst, nil, nil, c.UnknownTags)
		}
	}
	if flex {
		var set [1]uint32
		known := set[:0]
		if t.TopicConfigErrorCode != 0 {
			known = append(known, tagTopicConfigErrorCode)
		}
		dst = appendTagSection(dst, known, t.appendTag, t.UnknownTags)
	}
	return dst
}

func (t *CreateTopicsResponseTopic) appendTag(dst []byte, _ uint32) []byte {
	return wire.AppendInt16(dst, t.TopicConfigErrorCode)
}

// ReadFrom implements Message. Fields absent at v read as the schema's
// defaults: NumPartitions and ReplicationFactor -1, Configs nil.
func (r *CreateTopicsResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(CreateTopics, v); err != nil {
		return err
	}
	*r = CreateTopicsResponse{}
	flex := IsFlexible(CreateTopics, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	// A name length, an error code and a message length: at least 4 bytes.
	if n := readArrayLen(&rd, flex, 4, "topics"); n > 0 {
		r.Topics = make([]CreateTopicsResponseTopic, n)
		for i := range r.Topics {
			r.Topics[i].readFrom(&rd, v, flex)
		}
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("CreateTopicsResponse")
	return decodeErr(CreateTopics, v, &rd)
}

func (t *CreateTopicsResponseTopic) readFrom(rd *wire.Reader, v int16, flex bool) {
	t.NumPartitions, t.ReplicationFactor = -1, -1
	t.Name = rd.Str(flex)
	if v >= 7 {
		t.TopicID = rd.UUID()
	}
	t.ErrorCode = rd.Int16()
	t.ErrorMessage = rd.NullableStr(flex)
	if v >= 5 {
		t.NumPartitions = rd.Int32()
		t.ReplicationFactor = rd.Int16()
		// Name, value, three one-byte fields and tags: at least 6 bytes.
		if n := readNullableArrayLen(rd, flex, 6, "configs"); n >= 0 {
			t.Configs = make([]CreateTopicsResponseConfig, n)
			for i := range t.Configs {
				c := &t.Configs[i]
				c.Name = rd.Str(flex)
				c.Value = rd.NullableStr(flex)
				c.ReadOnly = rd.Bool()
				c.ConfigSource = rd.Int8()
				c.IsSensitive = rd.Bool()
				c.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if flex {
		t.UnknownTags = rd.TaggedFields(t.readTag)
	}
}

func (t *CreateTopicsResponseTopic) readTag(tag uint32, field *wire.Reader) bool {
	if tag != tagTopicConfigErrorCode {
		return false
	}
	t.TopicConfigErrorCode = field.Int16()
	return true
}
