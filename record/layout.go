// Package record owns the step from a producer's records to the RecordBatch
// v2 bytes that a ProduceRequest carries as opaque data: Builder writes
// records straight into a pooled buffer and closes them into a batch
// (compressed, length, idempotence fields and CRC-32C filled in),
// StampProducer writes the idempotence fields again into a closed batch,
// and DecodeBatch reads batches back for tests and tools.
//
// The layout is Kafka's "magic 2" format (docs/implementation.html, 5.3):
//
//	offset  size  field
//	     0     8  baseOffset            (0 from producers; the broker assigns)
//	     8     4  batchLength           (bytes after this field)
//	    12     4  partitionLeaderEpoch  (-1 from producers)
//	    16     1  magic = 2
//	    17     4  crc                   (CRC-32C of bytes 21..end)
//	    21     2  attributes            (codec bits 0-2, timestamp type bit 3,
//	                                     transactional bit 4, control bit 5)
//	    23     4  lastOffsetDelta
//	    27     8  baseTimestamp
//	    35     8  maxTimestamp
//	    43     8  producerId
//	    51     2  producerEpoch
//	    53     4  baseSequence
//	    57     4  recordsCount
//	    61     -  records, compressed as a whole when a codec is set
package record

// BatchHeaderSize is the size of the fixed RecordBatch v2 header, the bytes
// before the first record.
const BatchHeaderSize = 61

// Magic is the RecordBatch format version this package reads and writes.
const Magic = 2

// Field offsets in the batch header.
const (
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // the CRC covers everything from here on
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// lengthFieldEnd is where batchLength starts counting.
	lengthFieldEnd = offLeaderEpoch
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 1 << 3
	attrTransactional = 1 << 4
	attrControl       = 1 << 5
)

// Values producers write when they are not idempotent.
const (
	NoProducerID    int64 = -1
	NoProducerEpoch int16 = -1
	NoSequence      int32 = -1

	// noLeaderEpoch is what clients write in partitionLeaderEpoch; the
	// broker fills in its own.
	noLeaderEpoch int32 = -1
)
