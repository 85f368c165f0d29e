package protocol

import "github.com/gokafka/producer/protocol/wire"

// InitProducerIdRequest asks for a producer id and epoch: from any broker for
// an idempotent producer, from the transaction coordinator for a
// transactional one. From v3 a producer that hit INVALID_PRODUCER_EPOCH can
// send its current id and epoch to have the epoch bumped instead of losing
// the id (KIP-360).
//
// v6 adds two-phase commit (KIP-939), where an external transaction manager
// decides the outcome of a prepared transaction. Kafka 4.3 still marks v6
// unstable: a broker lists it only with unstable.api.versions.enable. This
// producer does not offer 2PC, so it sends both flags false, which makes v6
// mean what v5 does.
type InitProducerIdRequest struct {
	TransactionalID      *string // nil for an idempotent, non-transactional producer
	TransactionTimeoutMs int32
	ProducerID           int64 // v3+; -1 (the default) when there is no id yet, not 0
	ProducerEpoch        int16 // v3+; -1 default
	Enable2Pc            bool  // v6+; false default: no two-phase commit
	KeepPreparedTxn      bool  // v6+; false default: abort a transaction left open
	UnknownTags          []wire.TaggedField
}

// InitProducerIdResponse carries the id and epoch to stamp on record batches.
type InitProducerIdResponse struct {
	ThrottleTimeMs int32
	ErrorCode      int16
	ProducerID     int64 // -1 default
	ProducerEpoch  int16
	// The producer id and epoch of a prepared transaction kept open by
	// KeepPreparedTxn (v6+, KIP-939); -1, the default, when there is none.
	OngoingTxnProducerID    int64
	OngoingTxnProducerEpoch int16
	UnknownTags             []wire.TaggedField
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
	if v >= 6 {
		dst = wire.AppendBool(dst, r.Enable2Pc)
		dst = wire.AppendBool(dst, r.KeepPreparedTxn)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Before v3 ProducerID and ProducerEpoch read as
// -1, the schema's defaults; before v6 the 2PC flags read as false.
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
	if v >= 6 {
		r.Enable2Pc = rd.Bool()
		r.KeepPreparedTxn = rd.Bool()
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
	if v >= 6 {
		dst = wire.AppendInt64(dst, r.OngoingTxnProducerID)
		dst = wire.AppendInt16(dst, r.OngoingTxnProducerEpoch)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Before v6 OngoingTxnProducerID and
// OngoingTxnProducerEpoch read as -1, the schema's defaults.
func (r *InitProducerIdResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(InitProducerId, v); err != nil {
		return err
	}
	*r = InitProducerIdResponse{OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
	flex := IsFlexible(InitProducerId, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	r.ErrorCode = rd.Int16()
	r.ProducerID = rd.Int64()
	r.ProducerEpoch = rd.Int16()
	if v >= 6 {
		r.OngoingTxnProducerID = rd.Int64()
		r.OngoingTxnProducerEpoch = rd.Int16()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("InitProducerIdResponse")
	return decodeErr(InitProducerId, v, &rd)
}
