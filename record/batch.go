package record

import (
	"encoding/binary"
	"fmt"

	"github.com/gokafka/producer/compression"
)

// Header is a record header. Its key is a string in the protocol, which
// Java's clients decode as UTF-8; this package writes and reads its bytes as
// they are, and the producer refuses a key that is not UTF-8. A nil Value
// is written as length -1 and stays nil when decoded, distinct from an
// empty one.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded record. Key and Value are nil for length -1 (a nil
// value is a tombstone) and non-nil when empty. They alias the input given to
// DecodeBatch, or a decompression buffer for compressed batches.
type Record struct {
	Attributes     int8 // unused by Kafka so far; kept as read
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte
	Headers        []Header
}

// Batch is a decoded RecordBatch v2; the fields are in wire order.
type Batch struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // as read; DecodeBatch has verified it
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64 // baseTimestamp
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	Records              []Record
}

// Codec is the compression codec named by the attributes.
func (b Batch) Codec() compression.Codec { return compression.Codec(b.Attributes & attrCodecMask) }

// CodecOf is the codec of a batch from Close, read from its attributes
// without decoding it: Close may have stored a batch that would not shrink
// uncompressed, so the producer's setting alone does not say. batch must be
// at least BatchHeaderSize bytes, as StampProducer's is.
func CodecOf(batch []byte) compression.Codec {
	return compression.Codec(int16(binary.BigEndian.Uint16(batch[offAttributes:])) & attrCodecMask)
}

// Transactional reports attribute bit 4: the records belong to a transaction.
func (b Batch) Transactional() bool { return b.Attributes&attrTransactional != 0 }

// IsControl reports attribute bit 5: the batch holds a transaction marker,
// not application records.
func (b Batch) IsControl() bool { return b.Attributes&attrControl != 0 }

// TimestampType reports attribute bit 3.
func (b Batch) TimestampType() TimestampType {
	if b.Attributes&attrLogAppendTime != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// TimestampType says who set a batch's timestamps.
type TimestampType int8

const (
	// CreateTime timestamps were set by the producer. Producers always
	// write this type.
	CreateTime TimestampType = 0
	// LogAppendTime timestamps were set by the broker when it appended the
	// batch (topic config message.timestamp.type=LogAppendTime).
	LogAppendTime TimestampType = 1
)

func (t TimestampType) String() string {
	switch t {
	case CreateTime:
		return "CreateTime"
	case LogAppendTime:
		return "LogAppendTime"
	}
	return fmt.Sprintf("TimestampType(%d)", int8(t))
}
