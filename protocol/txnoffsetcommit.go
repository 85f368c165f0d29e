package protocol

// TxnOffsetCommit, from TxnOffsetCommitRequest.json and
// TxnOffsetCommitResponse.json: v2 adds the leader epoch, v3 the group
// membership (KIP-447) and flexible encoding; v4 and v5 add no field: v4
// allows TRANSACTION_ABORTABLE, and v5 tells a transactions-v2 coordinator
// (KIP-890) to add the offsets partition itself, replacing AddOffsetsToTxn,
// so v5 is only for producers that speak transactions v2.

import "github.com/gokafka/producer/protocol/wire"

// TxnOffsetCommitRequest commits consumer offsets inside a transaction, sent
// to the group coordinator; the offsets become visible only if the
// transaction commits.
type TxnOffsetCommitRequest struct {
	TransactionalID string
	GroupID         string
	ProducerID      int64
	ProducerEpoch   int16
	// The consumer's group membership (v3+), so the group coordinator can
	// fence a zombie consumer that was rebalanced away.
	GenerationID    int32   // v3+; -1 (the default) when not a member
	MemberID        string  // v3+; "" default
	GroupInstanceID *string // v3+; nil default (no static membership)
	Topics          []TxnOffsetCommitRequestTopic
	UnknownTags     []wire.TaggedField
}

// TxnOffsetCommitRequestTopic groups one topic's offsets.
type TxnOffsetCommitRequestTopic struct {
	Name        string
	Partitions  []TxnOffsetCommitRequestPartition
	UnknownTags []wire.TaggedField
}

// TxnOffsetCommitRequestPartition is one partition's offset to commit.
type TxnOffsetCommitRequestPartition struct {
	PartitionIndex       int32
	CommittedOffset      int64
	CommittedLeaderEpoch int32   // v2+; -1 (the default) when unknown
	CommittedMetadata    *string // nullable
	UnknownTags          []wire.TaggedField
}

// TxnOffsetCommitResponse reports the outcome per partition.
type TxnOffsetCommitResponse struct {
	ThrottleTimeMs int32
	Topics         []TxnOffsetCommitResponseTopic
	UnknownTags    []wire.TaggedField
}

// TxnOffsetCommitResponseTopic groups one topic's partition results.
type TxnOffsetCommitResponseTopic struct {
	Name        string
	Partitions  []TxnOffsetCommitResponsePartition
	UnknownTags []wire.TaggedField
}

// TxnOffsetCommitResponsePartition is one partition's result.
type TxnOffsetCommitResponsePartition struct {
	PartitionIndex int32
	ErrorCode      int16
	UnknownTags    []wire.TaggedField
}

// Key implements Message.
func (*TxnOffsetCommitRequest) Key() APIKey { return TxnOffsetCommit }

// ResponseKind implements Request.
func (*TxnOffsetCommitRequest) ResponseKind() Response { return new(TxnOffsetCommitResponse) }

// AppendTo implements Message.
func (r *TxnOffsetCommitRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(TxnOffsetCommit, v)
	dst = wire.AppendStr(dst, r.TransactionalID, flex)
	dst = wire.AppendStr(dst, r.GroupID, flex)
	dst = wire.AppendInt64(dst, r.ProducerID)
	dst = wire.AppendInt16(dst, r.ProducerEpoch)
	if v >= 3 {
		dst = wire.AppendInt32(dst, r.GenerationID)
		dst = wire.AppendStr(dst, r.MemberID, flex)
		dst = wire.AppendNullableStr(dst, r.GroupInstanceID, flex)
	}
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = wire.AppendStr(dst, t.Name, flex)
		dst = wire.AppendLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = wire.AppendInt32(dst, p.PartitionIndex)
			dst = wire.AppendInt64(dst, p.CommittedOffset)
			if v >= 2 {
				dst = wire.AppendInt32(dst, p.CommittedLeaderEpoch)
			}
			dst = wire.AppendNullableStr(dst, p.CommittedMetadata, flex)
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

// ReadFrom implements Message. Fields absent at v read as the schema's
// defaults: GenerationID and CommittedLeaderEpoch -1, MemberID "",
// GroupInstanceID nil.
func (r *TxnOffsetCommitRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(TxnOffsetCommit, v); err != nil {
		return err
	}
	*r = TxnOffsetCommitRequest{GenerationID: -1}
	flex := IsFlexible(TxnOffsetCommit, v)
	rd := wire.NewReader(b)
	r.TransactionalID = rd.Str(flex)
	r.GroupID = rd.Str(flex)
	r.ProducerID = rd.Int64()
	r.ProducerEpoch = rd.Int16()
	if v >= 3 {
		r.GenerationID = rd.Int32()
		r.MemberID = rd.Str(flex)
		r.GroupInstanceID = rd.NullableStr(flex)
	}
	// A topic is at least a name length and a partition count (3 bytes when
	// compact, 6 when not).
	if n := readArrayLen(&rd, flex, 3, "topics"); n > 0 {
		r.Topics = make([]TxnOffsetCommitRequestTopic, n)
		for i := range r.Topics {
			r.Topics[i].readFrom(&rd, v, flex)
		}
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("TxnOffsetCommitRequest")
	return decodeErr(TxnOffsetCommit, v, &rd)
}

func (t *TxnOffsetCommitRequestTopic) readFrom(rd *wire.Reader, v int16, flex bool) {
	t.Name = rd.Str(flex)
	// A partition is at least its index, offset and metadata length: 14
	// bytes at v0, more later.
	if n := readArrayLen(rd, flex, 14, "partitions"); n > 0 {
		t.Partitions = make([]TxnOffsetCommitRequestPartition, n)
		for i := range t.Partitions {
			p := &t.Partitions[i]
			p.PartitionIndex = rd.Int32()
			p.CommittedOffset = rd.Int64()
			p.CommittedLeaderEpoch = -1
			if v >= 2 {
				p.CommittedLeaderEpoch = rd.Int32()
			}
			p.CommittedMetadata = rd.NullableStr(flex)
			if flex {
				p.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if flex {
		t.UnknownTags = rd.TaggedFields(nil)
	}
}

// Key implements Message.
func (*TxnOffsetCommitResponse) Key() APIKey { return TxnOffsetCommit }

// AppendTo implements Message.
func (r *TxnOffsetCommitResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(TxnOffsetCommit, v)
	dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	dst = wire.AppendLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = wire.AppendStr(dst, t.Name, flex)
		dst = wire.AppendLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = wire.AppendInt32(dst, p.PartitionIndex)
			dst = wire.AppendInt16(dst, p.ErrorCode)
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

// ReadFrom implements Message.
func (r *TxnOffsetCommitResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(TxnOffsetCommit, v); err != nil {
		return err
	}
	*r = TxnOffsetCommitResponse{}
	flex := IsFlexible(TxnOffsetCommit, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	// A topic is at least a name length and a partition count.
	if n := readArrayLen(&rd, flex, 3, "topics"); n > 0 {
		r.Topics = make([]TxnOffsetCommitResponseTopic, n)
		for i := range r.Topics {
			t := &r.Topics[i]
			t.Name = rd.Str(flex)
			// A partition is its index and error code, plus tags if flexible.
			if n := readArrayLen(&rd, flex, 6, "partitions"); n > 0 {
				t.Partitions = make([]TxnOffsetCommitResponsePartition, n)
				for j := range t.Partitions {
					p := &t.Partitions[j]
					p.PartitionIndex = rd.Int32()
					p.ErrorCode = rd.Int16()
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
	rd.Done("TxnOffsetCommitResponse")
	return decodeErr(TxnOffsetCommit, v, &rd)
}
