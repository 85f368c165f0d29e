package protocol

import "github.com/gokafka/producer/protocol/wire"

// AddPartitionsToTxnRequest adds partitions to a producer's open transaction
// before it first produces to them, so the coordinator knows where to write
// the commit or abort markers.
//
// The request has two shapes. Up to v3 it carries one transaction, in the
// V3AndBelow fields; that is the form clients send. From v4 it batches many
// transactions (KIP-890): brokers send it to the coordinator to verify, for
// the producers they serve, that partitions are in a transaction. The schema
// reserves v4+ for broker-to-broker use, but both forms are implemented so
// that either can be decoded and written back.
type AddPartitionsToTxnRequest struct {
	Transactions              []AddPartitionsToTxnRequestTransaction // v4+
	V3AndBelowTransactionalID string                                 // v0-v3
	V3AndBelowProducerID      int64                                  // v0-v3
	V3AndBelowProducerEpoch   int16                                  // v0-v3
	V3AndBelowTopics          []AddPartitionsToTxnRequestTopic       // v0-v3
	UnknownTags               []wire.TaggedField
}

// AddPartitionsToTxnRequestTransaction is one transaction of a batched
// (v4+) request.
type AddPartitionsToTxnRequestTransaction struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	VerifyOnly      bool // check that the partitions are in the transaction; add nothing
	Topics          []AddPartitionsToTxnRequestTopic
	UnknownTags     []wire.TaggedField
}

// AddPartitionsToTxnRequestTopic names one topic's partitions; both shapes
// of the request use it.
type AddPartitionsToTxnRequestTopic struct {
	Name        string
	Partitions  []int32
	UnknownTags []wire.TaggedField
}

// AddPartitionsToTxnResponse reports, per partition, whether it was added:
// for the single transaction up to v3, per transaction from v4.
type AddPartitionsToTxnResponse struct {
	ThrottleTimeMs           int32
	ErrorCode                int16                                   // v4+: an error for the whole request
	ResultsByTransaction     []AddPartitionsToTxnResponseTransaction // v4+
	ResultsByTopicV3AndBelow []AddPartitionsToTxnResponseTopic       // v0-v3
	UnknownTags              []wire.TaggedField
}

// AddPartitionsToTxnResponseTransaction is one transaction's results (v4+).
type AddPartitionsToTxnResponseTransaction struct {
	TransactionalID string
	TopicResults    []AddPartitionsToTxnResponseTopic
	UnknownTags     []wire.TaggedField
}

// AddPartitionsToTxnResponseTopic groups one topic's partition results.
type AddPartitionsToTxnResponseTopic struct {
	Name               string
	ResultsByPartition []AddPartitionsToTxnResponsePartition
	UnknownTags        []wire.TaggedField
}

// AddPartitionsToTxnResponsePartition is one partition's result.
type AddPartitionsToTxnResponsePartition struct {
	PartitionIndex     int32
	PartitionErrorCode int16
	UnknownTags        []wire.TaggedField
}

// Key implements Message.
func (*AddPartitionsToTxnRequest) Key() APIKey { return AddPartitionsToTxn }

// ResponseKind implements Request.
func (*AddPartitionsToTxnRequest) ResponseKind() Response {
	return new(AddPartitionsToTxnResponse)
}

// AppendTo implements Message. Only the shape of version v is written; the
// other shape's fields are ignored.
func (r *AddPartitionsToTxnRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(AddPartitionsToTxn, v)
	if v >= 4 {
		dst = wire.AppendLen(dst, len(r.Transactions), flex)
		for i := range r.Transactions {
			tx := &r.Transactions[i]
			dst = wire.AppendStr(dst, tx.TransactionalID, flex)
			dst = wire.AppendInt64(dst, tx.ProducerID)
			dst = wire.AppendInt16(dst, tx.ProducerEpoch)
			dst = wire.AppendBool(dst, tx.VerifyOnly)
			dst = appendAddPartitionsToTxnTopics(dst, tx.Topics, flex)
			dst = appendTagSection(dst, nil, nil, tx.UnknownTags)
		}
	} else {
		dst = wire.AppendStr(dst, r.V3AndBelowTransactionalID, flex)
		dst = wire.AppendInt64(dst, r.V3AndBelowProducerID)
		dst = wire.AppendInt16(dst, r.V3AndBelowProducerEpoch)
		dst = appendAddPartitionsToTxnTopics(dst, r.V3AndBelowTopics, flex)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

func appendAddPartitionsToTxnTopics(dst []byte, topics []AddPartitionsToTxnRequestTopic, flex bool) []byte {
	dst = wire.AppendLen(dst, len(topics), flex)
	for i := range topics {
		t := &topics[i]
		dst = wire.AppendStr(dst, t.Name, flex)
		dst = appendInt32s(dst, t.Partitions, flex)
		if flex {
			dst = appendTagSection(dst, nil, nil, t.UnknownTags)
		}
	}
	return dst
}

// ReadFrom implements Message.
func (r *AddPartitionsToTxnRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(AddPartitionsToTxn, v); err != nil {
		return err
	}
	*r = AddPartitionsToTxnRequest{}
	flex := IsFlexible(AddPartitionsToTxn, v)
	rd := wire.NewReader(b)
	if v >= 4 {
		// Id, producer id and epoch, flag, topic count and tags: at least
		// 14 bytes in the compact form every v4+ message uses.
		if n := readArrayLen(&rd, flex, 14, "transactions"); n > 0 {
			r.Transactions = make([]AddPartitionsToTxnRequestTransaction, n)
			for i := range r.Transactions {
				tx := &r.Transactions[i]
				tx.TransactionalID = rd.Str(flex)
				tx.ProducerID = rd.Int64()
				tx.ProducerEpoch = rd.Int16()
				tx.VerifyOnly = rd.Bool()
				tx.Topics = readAddPartitionsToTxnTopics(&rd, flex)
				tx.UnknownTags = rd.TaggedFields(nil)
			}
		}
	} else {
		r.V3AndBelowTransactionalID = rd.Str(flex)
		r.V3AndBelowProducerID = rd.Int64()
		r.V3AndBelowProducerEpoch = rd.Int16()
		r.V3AndBelowTopics = readAddPartitionsToTxnTopics(&rd, flex)
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("AddPartitionsToTxnRequest")
	return decodeErr(AddPartitionsToTxn, v, &rd)
}

func readAddPartitionsToTxnTopics(rd *wire.Reader, flex bool) []AddPartitionsToTxnRequestTopic {
	// A topic is at least a name length and a partition count.
	n := readArrayLen(rd, flex, 3, "topics")
	if n == 0 {
		return nil
	}
	topics := make([]AddPartitionsToTxnRequestTopic, n)
	for i := range topics {
		t := &topics[i]
		t.Name = rd.Str(flex)
		t.Partitions = readInt32s(rd, flex, "partitions")
		if flex {
			t.UnknownTags = rd.TaggedFields(nil)
		}
	}
	return topics
}

// Key implements Message.
func (*AddPartitionsToTxnResponse) Key() APIKey { return AddPartitionsToTxn }

// AppendTo implements Message. Only the shape of version v is written.
func (r *AddPartitionsToTxnResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(AddPartitionsToTxn, v)
	dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	if v >= 4 {
		dst = wire.AppendInt16(dst, r.ErrorCode)
		dst = wire.AppendLen(dst, len(r.ResultsByTransaction), flex)
		for i := range r.ResultsByTransaction {
			tx := &r.ResultsByTransaction[i]
			dst = wire.AppendStr(dst, tx.TransactionalID, flex)
			dst = appendAddPartitionsToTxnResults(dst, tx.TopicResults, flex)
			dst = appendTagSection(dst, nil, nil, tx.UnknownTags)
		}
	} else {
		dst = appendAddPartitionsToTxnResults(dst, r.ResultsByTopicV3AndBelow, flex)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

func appendAddPartitionsToTxnResults(dst []byte, topics []AddPartitionsToTxnResponseTopic, flex bool) []byte {
	dst = wire.AppendLen(dst, len(topics), flex)
	for i := range topics {
		t := &topics[i]
		dst = wire.AppendStr(dst, t.Name, flex)
		dst = wire.AppendLen(dst, len(t.ResultsByPartition), flex)
		for j := range t.ResultsByPartition {
			p := &t.ResultsByPartition[j]
			dst = wire.AppendInt32(dst, p.PartitionIndex)
			dst = wire.AppendInt16(dst, p.PartitionErrorCode)
			if flex {
				dst = appendTagSection(dst, nil, nil, p.UnknownTags)
			}
		}
		if flex {
			dst = appendTagSection(dst, nil, nil, t.UnknownTags)
		}
	}
	return dst
}

// ReadFrom implements Message.
func (r *AddPartitionsToTxnResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(AddPartitionsToTxn, v); err != nil {
		return err
	}
	*r = AddPartitionsToTxnResponse{}
	flex := IsFlexible(AddPartitionsToTxn, v)
	rd := wire.NewReader(b)
	r.ThrottleTimeMs = rd.Int32()
	if v >= 4 {
		r.ErrorCode = rd.Int16()
		// An id length, a topic count and tags, all compact from v4.
		if n := readArrayLen(&rd, flex, 3, "transaction results"); n > 0 {
			r.ResultsByTransaction = make([]AddPartitionsToTxnResponseTransaction, n)
			for i := range r.ResultsByTransaction {
				tx := &r.ResultsByTransaction[i]
				tx.TransactionalID = rd.Str(flex)
				tx.TopicResults = readAddPartitionsToTxnResults(&rd, flex)
				tx.UnknownTags = rd.TaggedFields(nil)
			}
		}
	} else {
		r.ResultsByTopicV3AndBelow = readAddPartitionsToTxnResults(&rd, flex)
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("AddPartitionsToTxnResponse")
	return decodeErr(AddPartitionsToTxn, v, &rd)
}

func readAddPartitionsToTxnResults(rd *wire.Reader, flex bool) []AddPartitionsToTxnResponseTopic {
	// A topic is at least a name length and a partition count.
	n := readArrayLen(rd, flex, 3, "topic results")
	if n == 0 {
		return nil
	}
	topics := make([]AddPartitionsToTxnResponseTopic, n)
	for i := range topics {
		t := &topics[i]
		t.Name = rd.Str(flex)
		// A partition is its index and error code, plus tags if flexible.
		if n := readArrayLen(rd, flex, 6, "partition results"); n > 0 {
			t.ResultsByPartition = make([]AddPartitionsToTxnResponsePartition, n)
			for j := range t.ResultsByPartition {
				p := &t.ResultsByPartition[j]
				p.PartitionIndex = rd.Int32()
				p.PartitionErrorCode = rd.Int16()
				if flex {
					p.UnknownTags = rd.TaggedFields(nil)
				}
			}
		}
		if flex {
			t.UnknownTags = rd.TaggedFields(nil)
		}
	}
	return topics
}
