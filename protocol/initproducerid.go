package protocol

import "github.com/gokafka/producer/protocol/wire"

// InitProducerIdRequest asks for a producer id and epoch: from any broker for
// an idempotent producer, from the transaction coordinator for a
// transactional one. From v3 a producer that hit INVALID_PRODUCER_EPOCH can
// send its current id and epoch to have the epoch bumped instead of losing
// the id (KIP-360).
type InitProducerIdRequest struct {
	TransactionalID      *string // nil for an idempotent, non-transactional producer
	TransactionTimeoutMs int32
	ProducerID           int64 // v3+; -1 (the default) when there is no id yet, not 0
	ProducerEpoch        int16 // v3+; -1 default
	UnknownTags          []wire.TaggedField
}

// InitProducerIdResponse carries the id and epoch to stamp on record batches.
type InitProducerIdResponse struct {
	ThrottleTimeMs int32
	ErrorCode      int16
	ProducerID     int64 // -1 default
	ProducerEpoch  int16
	UnknownTags    []wire.TaggedField
}

// Key implements Message.
func (*InitProducerIdRequest) Key() APIKey { return InitProducerId }

// ResponseKind implements Request.
func (*InitProducerIdRequest) ResponseKind() Response { return new(InitProducerIdResponse) }

// AppendTo implements Message.
func (r *InitProducerIdRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(InitProducerId, v)
	dst = wire.AppendNullableStr(dst, r.TransactionalID, flex)
	dst = wire.AppendInt32(dst, r.TransactionTimeoutMs)
	if v >= 3 {
		dst = wire.AppendInt64(dst, r.ProducerID)
		dst = wire.AppendInt16(dst, r.ProducerEpoch)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Before v3 ProducerID and ProducerEpoch read as
// -1, the schema's defaults.
func (r *InitProducerIdRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(InitProducerId, v); err != nil {
		return err
	}
	*r = InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1}
	flex := IsFlexible(InitProducerId, v)
	rd := wire.NewReader(b)
	r.TransactionalID = rd.NullableStr(flex)
	r.TransactionTimeoutMs = rd.Int32()
	if v >= 3 {
		r.ProducerID = rd.Int64()
		r.ProducerEpoch = rd.Int16()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("InitProducerIdRequest")
	return decodeErr(InitProducerId, v, &rd)
}

// Key implements Message.
func (*InitProducerIdResponse) Key() APIKey { return InitProducerId }

// AppendTo implements Message.
func (r *InitProducerIdResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(InitProducerId, v)
	dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	dst = wire.AppendInt16(dst, r.ErrorCode)
	dst = wire.AppendInt64(dst, r.ProducerID)
	dst = wire.AppendInt16(dst, r.ProducerEpoch)
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *InitProducerIdResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(InitProducerId, v); err != nil {
		return err
	}
	*r = InitProducerIdResponse{}
	flex := IsFlexible(InitProducerId, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	r.ErrorCode = rd.Int16()
	r.ProducerID = rd.Int64()
	r.ProducerEpoch = rd.Int16()
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("InitProducerIdResponse")
	return decodeErr(InitProducerId, v, &rd)
}
