package protocol

import "github.com/gokafka/producer/protocol/wire"

// ProduceRequest carries record batches for partitions led by one broker.
// Versions 3-13 are implemented: v3 is the first to carry RecordBatch v2 and
// the oldest a Kafka 4 broker accepts. v12 has v11's bytes; it tells a
// transaction-v2 broker (KIP-890) to add partitions implicitly, so a
// transactional producer must not pick it unless it speaks transactions v2.
// v13 names each topic by its id instead of its name (KIP-516), in the
// request and in the response; a broker that does not know an id answers
// UNKNOWN_TOPIC_ID.
type ProduceRequest struct {
	TransactionalID *string // v3+
	Acks            int16
	TimeoutMs       int32
	Topics          []ProduceRequestTopic
	UnknownTags     []wire.TaggedField
}

// ProduceRequestTopic groups one topic's partitions. A topic goes by name up
// to v12 and by id from v13: only the field of the version sent is written,
// though a caller may fill both (the sender does), and decoding leaves the
// other at its zero value.
type ProduceRequestTopic struct {
	Name        string    // v3-v12
	TopicID     wire.UUID // v13+, the id Metadata v10+ gives the topic
	Partitions  []ProduceRequestPartition
	UnknownTags []wire.TaggedField
}

// ProduceRequestPartition carries one partition's batch, as opaque bytes.
type ProduceRequestPartition struct {
	Index       int32
	Records     []byte // one encoded RecordBatch v2, all Kafka takes at v3+; nil encodes as null
	UnknownTags []wire.TaggedField
}

// ProduceResponse reports, per partition, where the batch landed or why not.
type ProduceResponse struct {
	Topics         []ProduceResponseTopic
	ThrottleTimeMs int32                         // v1+
	NodeEndpoints  []ProduceResponseNodeEndpoint // v10+, tag 0 (KIP-951)
	UnknownTags    []wire.TaggedField
}

// ProduceResponseTopic groups one topic's partition results, keyed like the
// request's topics: by name up to v12, by id from v13.
type ProduceResponseTopic struct {
	Name        string    // v3-v12
	TopicID     wire.UUID // v13+
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

// Key implements Message.
func (*ProduceRequest) Key() APIKey { return Produce }

// ResponseKind implements Request. A request with Acks 0 gets no response
// at all; the caller must not wait for one.
func (*ProduceRequest) ResponseKind() Response { return new(ProduceResponse) }

// AppendTo implements Message. It allocates nothing beyond growing dst,
// which the connection takes from a pool. It copies the batches, most of
// the bytes, into dst: a connection that can write several buffers at once
// (plain TCP) encodes with AppendSplicedTo instead, and AppendTo serves the
// others (TLS).
func (r *ProduceRequest) AppendTo(dst []byte, v int16) []byte {
	return r.appendTo(dst, v, nil)
}

// A Splice is bytes an encoding leaves out, to be written where they
// belong: after the first At bytes of the encoding.
type Splice struct {
	At    int
	Bytes []byte
}

// AppendSplicedTo is AppendTo without the record batches: it appends each
// partition's records length, and lists the records themselves in splices
// at the offset of dst they would start at. Writing dst and the splices in
// turn (writev) sends the request without copying every batch into it.
func (r *ProduceRequest) AppendSplicedTo(dst []byte, v int16, splices []Splice) ([]byte, []Splice) {
	dst = r.appendTo(dst, v, &splices)
	return dst, splices
}

// appendTo is AppendTo, and AppendSplicedTo when splices is not nil.
func (r *ProduceRequest) appendTo(dst []byte, v int16, splices *[]Splice) []byte {
	flex := IsFlexible(Produce, v)
	dst = wire.AppendNullableStr(dst, r.TransactionalID, flex)
	dst = wire.AppendInt16(dst, r.Acks)
	dst = wire.AppendInt32(dst, r.TimeoutMs)
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendTopicNameOrID(dst, t.Name, t.TopicID, v, flex)
		dst = wire.AppendLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = wire.AppendInt32(dst, p.Index)
			if splices != nil {
				dst = wire.AppendNullableByteSliceLen(dst, p.Records, flex)
				if len(p.Records) > 0 {
					*splices = append(*splices, Splice{At: len(dst), Bytes: p.Records})
				}
			} else {
				dst = wire.AppendNullableByteSlice(dst, p.Records, flex)
			}
			if flex {
				dst = appendTagSection(dst, nil, nil, p.UnknownTags)
			}
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, t.UnknownTags)
		}
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Records alias b.
func (r *ProduceRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(Produce, v); err != nil {
		return err
	}
	*r = ProduceRequest{}
	flex := IsFlexible(Produce, v)
	rd := wire.NewReader(b)
	r.TransactionalID = rd.NullableStr(flex)
	r.Acks = rd.Int16()
	r.TimeoutMs = rd.Int32()
	// A topic is at least its name length (its id from v13) and partition count.
	if n := readArrayLen(&rd, flex, 2, "topics"); n > 0 {
		r.Topics = make([]ProduceRequestTopic, n)
		for i := range r.Topics {
			t := &r.Topics[i]
			t.Name, t.TopicID = readTopicNameOrID(&rd, v, flex)
			// A partition is at least its index and records length.
			if n := readArrayLen(&rd, flex, 5, "partitions"); n > 0 {
				t.Partitions = make([]ProduceRequestPartition, n)
				for j := range t.Partitions {
					p := &t.Partitions[j]
					p.Index = rd.Int32()
					p.Records = rd.NullableByteSlice(flex)
					if flex {
						p.UnknownTags = rd.TaggedFields(nil)
					}
				}
			}
			if flex {
				t.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("ProduceRequest")
	return decodeErr(Produce, v, &rd)
}

// ProduceTopicIDVersion is the first Produce version that names topics by
// id (KIP-516). A client sends it only when it knows the id of every topic
// in the request, and otherwise the version before, which has the same
// fields with names.
const ProduceTopicIDVersion int16 = 13

// appendTopicNameOrID writes how a Produce request or response at v names a
// topic: its name up to v12, its id from v13 (KIP-516).
func appendTopicNameOrID(dst []byte, name string, id wire.UUID, v int16, flex bool) []byte {
	if v >= ProduceTopicIDVersion {
		return wire.AppendUUID(dst, id)
	}
	return wire.AppendStr(dst, name, flex)
}

// readTopicNameOrID reads what appendTopicNameOrID writes; the field the
// version lacks is left zero.
func readTopicNameOrID(rd *wire.Reader, v int16, flex bool) (name string, id wire.UUID) {
	if v >= ProduceTopicIDVersion {
		return "", rd.UUID()
	}
	return rd.Str(flex), id
}

// The tags of ProduceResponse (KIP-951): NodeEndpoints at the top level and
// CurrentLeader in each partition share tag number 0.
const (
	tagNodeEndpoints = 0
	tagCurrentLeader = 0
)

// Key implements Message.
func (*ProduceResponse) Key() APIKey { return Produce }

// AppendTo implements Message.
func (r *ProduceResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(Produce, v)
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendTopicNameOrID(dst, t.Name, t.TopicID, v, flex)
		dst = wire.AppendLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			dst = t.Partitions[j].appendTo(dst, v, flex)
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, t.UnknownTags)
		}
	}
	if v >= 1 {
		dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	}
	if flex {
		var set [1]uint32
		known := set[:0]
		if v >= 10 && len(r.NodeEndpoints) > 0 {
			known = append(known, tagNodeEndpoints)
		}
		dst = appendTagSection(dst, known, r.appendTag, r.UnknownTags)
	}
	return dst
}

func (r *ProduceResponse) appendTag(dst []byte, _ uint32) []byte {
	dst = wire.AppendCompactArrayLen(dst, len(r.NodeEndpoints))
	for i := range r.NodeEndpoints {
		e := &r.NodeEndpoints[i]
		dst = wire.AppendInt32(dst, e.NodeID)
		dst = wire.AppendCompactString(dst, e.Host)
		dst = wire.AppendInt32(dst, e.Port)
		dst = wire.AppendCompactNullableString(dst, e.Rack)
		dst = appendTagSection(dst, nil, nil, e.UnknownTags)
	}
	return dst
}

func (p *ProduceResponsePartition) appendTo(dst []byte, v int16, flex bool) []byte {
	dst = wire.AppendInt32(dst, p.Index)
	dst = wire.AppendInt16(dst, p.ErrorCode)
	dst = wire.AppendInt64(dst, p.BaseOffset)
	if v >= 2 {
		dst = wire.AppendInt64(dst, p.LogAppendTimeMs)
	}
	if v >= 5 {
		dst = wire.AppendInt64(dst, p.LogStartOffset)
	}
	if v >= 8 {
		dst = wire.AppendLen(dst, len(p.RecordErrors), flex)
		for i := range p.RecordErrors {
			e := &p.RecordErrors[i]
			dst = wire.AppendInt32(dst, e.BatchIndex)
			dst = wire.AppendNullableStr(dst, e.BatchIndexErrorMessage, flex)
			if flex {
				dst = appendTagSection(dst, nil, nil, e.UnknownTags)
			}
		}
		dst = wire.AppendNullableStr(dst, p.ErrorMessage, flex)
	}
	if flex {
		var set [1]uint32
		known := set[:0]
		if v >= 10 && p.CurrentLeader != nil {
			known = append(known, tagCurrentLeader)
		}
		dst = appendTagSection(dst, known, p.appendTag, p.UnknownTags)
	}
	return dst
}

func (p *ProduceResponsePartition) appendTag(dst []byte, _ uint32) []byte {
	dst = wire.AppendInt32(dst, p.CurrentLeader.LeaderID)
	dst = wire.AppendInt32(dst, p.CurrentLeader.LeaderEpoch)
	return appendTagSection(dst, nil, nil, p.CurrentLeader.UnknownTags)
}

// ReadFrom implements Message. Fields absent at v read as the schema's
// defaults: LogAppendTimeMs and LogStartOffset -1, ErrorMessage null,
// CurrentLeader nil.
func (r *ProduceResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(Produce, v); err != nil {
		return err
	}
	*r = ProduceResponse{}
	flex := IsFlexible(Produce, v)
	rd := wire.NewReader(b)
	// A topic is at least its name length (its id from v13) and partition count.
	if n := readArrayLen(&rd, flex, 2, "topics"); n > 0 {
		r.Topics = make([]ProduceResponseTopic, n)
		for i := range r.Topics {
			t := &r.Topics[i]
			t.Name, t.TopicID = readTopicNameOrID(&rd, v, flex)
			// A partition is at least its index, error code and base offset.
			if n := readArrayLen(&rd, flex, 14, "partitions"); n > 0 {
				t.Partitions = make([]ProduceResponsePartition, n)
				for j := range t.Partitions {
					t.Partitions[j].readFrom(&rd, v, flex)
				}
			}
			if flex {
				t.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if v >= 1 {
		r.ThrottleTimeMs = rd.Int32()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(func(tag uint32, field *wire.Reader) bool {
			if v < 10 || tag != tagNodeEndpoints {
				return false
			}
			// An endpoint is at least its node id, host length, port and rack length.
			if n := readArrayLen(field, true, 10, "node endpoints"); n > 0 {
				r.NodeEndpoints = make([]ProduceResponseNodeEndpoint, n)
				for i := range r.NodeEndpoints {
					e := &r.NodeEndpoints[i]
					e.NodeID = field.Int32()
					e.Host = field.CompactString()
					e.Port = field.Int32()
					e.Rack = field.CompactNullableString()
					e.UnknownTags = field.TaggedFields(nil)
				}
			}
			return true
		})
	}
	rd.Done("ProduceResponse")
	return decodeErr(Produce, v, &rd)
}

func (p *ProduceResponsePartition) readFrom(rd *wire.Reader, v int16, flex bool) {
	p.LogAppendTimeMs = -1
	p.LogStartOffset = -1
	p.Index = rd.Int32()
	p.ErrorCode = rd.Int16()
	p.BaseOffset = rd.Int64()
	if v >= 2 {
		p.LogAppendTimeMs = rd.Int64()
	}
	if v >= 5 {
		p.LogStartOffset = rd.Int64()
	}
	if v >= 8 {
		// A record error is at least its batch index and message length.
		if n := readArrayLen(rd, flex, 5, "record errors"); n > 0 {
			p.RecordErrors = make([]ProduceResponseRecordError, n)
			for i := range p.RecordErrors {
				e := &p.RecordErrors[i]
				e.BatchIndex = rd.Int32()
				e.BatchIndexErrorMessage = rd.NullableStr(flex)
				if flex {
					e.UnknownTags = rd.TaggedFields(nil)
				}
			}
		}
		p.ErrorMessage = rd.NullableStr(flex)
	}
	if flex {
		p.UnknownTags = rd.TaggedFields(func(tag uint32, field *wire.Reader) bool {
			if v < 10 || tag != tagCurrentLeader {
				return false
			}
			p.CurrentLeader = &ProduceResponseLeader{
				LeaderID:    field.Int32(),
				LeaderEpoch: field.Int32(),
				UnknownTags: field.TaggedFields(nil),
			}
			return true
		})
	}
}
