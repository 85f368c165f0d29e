package protocol

import "github.com/gokafka/producer/protocol/wire"

// EndTxnRequest commits or aborts the producer's open transaction. v5
// belongs to transactions v2 (KIP-890 part 2), where the coordinator bumps
// the epoch at every commit and returns the new one, so a producer sends v5
// only to a broker that finalized transaction.version 2.
type EndTxnRequest struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	Committed       bool // true to commit, false to abort
	UnknownTags     []wire.TaggedField
}

// EndTxnResponse reports the outcome of an EndTxnRequest; from v5 it also
// carries the producer id and epoch the next transaction must use.
type EndTxnResponse struct {
	ThrottleTimeMs int32
	ErrorCode      int16
	ProducerID     int64 // v5+, -1 default
	ProducerEpoch  int16 // v5+, -1 default
	UnknownTags    []wire.TaggedField
}

// Key implements Message.
func (*EndTxnRequest) Key() APIKey { return EndTxn }

// ResponseKind implements Request.
func (*EndTxnRequest) ResponseKind() Response { return new(EndTxnResponse) }

// AppendTo implements Message.
func (r *EndTxnRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(EndTxn, v)
	dst = wire.AppendStr(dst, r.TransactionalID, flex)
	dst = wire.AppendInt64(dst, r.ProducerID)
	dst = wire.AppendInt16(dst, r.ProducerEpoch)
	dst = wire.AppendBool(dst, r.Committed)
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *EndTxnRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(EndTxn, v); err != nil {
		return err
	}
	*r = EndTxnRequest{}
	flex := IsFlexible(EndTxn, v)
	rd := wire.NewReader(b)
	r.TransactionalID = rd.Str(flex)
	r.ProducerID = rd.Int64()
	r.ProducerEpoch = rd.Int16()
	r.Committed = rd.Bool()
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("EndTxnRequest")
	return decodeErr(EndTxn, v, &rd)
}

// Key implements Message.
func (*EndTxnResponse) Key() APIKey { return EndTxn }

// AppendTo implements Message.
func (r *EndTxnResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(EndTxn, v)
	dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	dst = wire.AppendInt16(dst, r.ErrorCode)
	if v >= 5 {
		dst = wire.AppendInt64(dst, r.ProducerID)
		dst = wire.AppendInt16(dst, r.ProducerEpoch)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. Before v5 ProducerID and ProducerEpoch read as
// -1: the broker did not say, and the producer keeps what it has.
func (r *EndTxnResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(EndTxn, v); err != nil {
		return err
	}
	*r = EndTxnResponse{ProducerID: -1, ProducerEpoch: -1}
	flex := IsFlexible(EndTxn, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	r.ErrorCode = rd.Int16()
	if v >= 5 {
		r.ProducerID = rd.Int64()
		r.ProducerEpoch = rd.Int16()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("EndTxnResponse")
	return decodeErr(EndTxn, v, &rd)
}
