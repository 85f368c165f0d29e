package protocol

// AddOffsetsToTxn, from AddOffsetsToTxnRequest.json and
// AddOffsetsToTxnResponse.json: versions 0-4 carry the same fields; v2 and
// v4 only allow new error codes (PRODUCER_FENCED, TRANSACTION_ABORTABLE), v3
// is the first flexible version.

import "github.com/gokafka/producer/protocol/wire"

// AddOffsetsToTxnRequest tells the transaction coordinator that the
// transaction will commit consumer offsets for a group, so the coordinator
// adds the group's __consumer_offsets partition to the transaction. It
// precedes TxnOffsetCommit in transactions v1; with transactions v2 (KIP-890)
// TxnOffsetCommit v5 does both.
type AddOffsetsToTxnRequest struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	GroupID         string
	UnknownTags     []wire.TaggedField
}

// AddOffsetsToTxnResponse reports whether the group was added.
type AddOffsetsToTxnResponse struct {
	ThrottleTimeMs int32
	ErrorCode      int16
	UnknownTags    []wire.TaggedField
}

// Key implements Message.
func (*AddOffsetsToTxnRequest) Key() APIKey { return AddOffsetsToTxn }

// ResponseKind implements Request.
func (*AddOffsetsToTxnRequest) ResponseKind() Response { return new(AddOffsetsToTxnResponse) }

// AppendTo implements Message.
func (r *AddOffsetsToTxnRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(AddOffsetsToTxn, v)
	dst = wire.AppendStr(dst, r.TransactionalID, flex)
	dst = wire.AppendInt64(dst, r.ProducerID)
	dst = wire.AppendInt16(dst, r.ProducerEpoch)
	dst = wire.AppendStr(dst, r.GroupID, flex)
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *AddOffsetsToTxnRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(AddOffsetsToTxn, v); err != nil {
		return err
	}
	*r = AddOffsetsToTxnRequest{}
	flex := IsFlexible(AddOffsetsToTxn, v)
	rd := wire.NewReader(b)
	r.TransactionalID = rd.Str(flex)
	r.ProducerID = rd.Int64()
	r.ProducerEpoch = rd.Int16()
	r.GroupID = rd.Str(flex)
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("AddOffsetsToTxnRequest")
	return decodeErr(AddOffsetsToTxn, v, &rd)
}

// Key implements Message.
func (*AddOffsetsToTxnResponse) Key() APIKey { return AddOffsetsToTxn }

// AppendTo implements Message.
func (r *AddOffsetsToTxnResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(AddOffsetsToTxn, v)
	dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	dst = wire.AppendInt16(dst, r.ErrorCode)
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *AddOffsetsToTxnResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(AddOffsetsToTxn, v); err != nil {
		return err
	}
	*r = AddOffsetsToTxnResponse{}
	flex := IsFlexible(AddOffsetsToTxn, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	r.ErrorCode = rd.Int16()
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("AddOffsetsToTxnResponse")
	return decodeErr(AddOffsetsToTxn, v, &rd)
}
