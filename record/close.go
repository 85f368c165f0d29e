package record

import (
	"encoding/binary"
	"errors"
	"sync"

	"github.com/gokafka/producer/compression"
)

// ErrEmptyBatch is returned by Close for a batch without records: brokers
// reject a RecordBatch whose record count is zero.
var ErrEmptyBatch = errors.New("record: closing a batch with no records")

// errNotReset is returned by Close on a Builder that Reset never set up.
var errNotReset = errors.New("record: Close on a Builder without Reset")

// CloseOptions are the batch-wide fields Close fills in.
type CloseOptions struct {
	// Codec compresses the records section; Level is its level
	// (compression.DefaultLevel for the codec's default).
	Codec compression.Codec
	Level int

	// ProducerID, ProducerEpoch and BaseSequence are NoProducerID,
	// NoProducerEpoch and NoSequence (-1 each) unless the producer is
	// idempotent. StampProducer changes them in a closed batch.
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32

	// Transactional sets attribute bit 4.
	Transactional bool
}

// Close finishes the batch in place and returns it; the result aliases the
// buffer given to Reset. It compresses the records section when a codec is
// set, then fills in the header: length, last offset delta, timestamps,
// producer fields, attributes, record count and finally the CRC-32C.
// Timestamps are always CreateTime (attribute bit 3 clear): producers never
// write LogAppendTime.
//
// The compressed form must fit the buffer's capacity. If it does not
// (incompressible records in a buffer sized to them), the batch is kept
// uncompressed and its attributes say codec none: the buffer's memory is
// accounted exactly by the producer's buffer pool, and growing it would
// allocate memory the pool never granted. Brokers accept uncompressed
// batches whatever the topic's compression.
//
// A second Close returns the batch closed by the first and ignores opts.
// Reset before appending again.
func (b *Builder) Close(opts CloseOptions) ([]byte, error) {
	if !b.open {
		if len(b.buf) < BatchHeaderSize {
			return nil, errNotReset // never Reset: no header to fill in
		}
		return b.buf, nil
	}
	if b.numRecords == 0 {
		return nil, ErrEmptyBatch
	}
	if err := compression.CheckLevel(opts.Codec, opts.Level); err != nil {
		return nil, err
	}
	codec := opts.Codec
	if codec != compression.None {
		buf, err := compressRecords(b.buf, codec, opts.Level)
		if err != nil {
			return nil, err
		}
		if buf == nil {
			codec = compression.None
		} else {
			b.buf = buf
		}
	}

	batch := b.buf
	binary.BigEndian.PutUint64(batch, 0) // baseOffset: the broker assigns offsets
	binary.BigEndian.PutUint32(batch[offBatchLength:], uint32(len(batch)-lengthFieldEnd))
	putInt32(batch[offLeaderEpoch:], noLeaderEpoch)
	batch[offMagic] = Magic
	binary.BigEndian.PutUint16(batch[offAttributes:], uint16(codec))
	binary.BigEndian.PutUint32(batch[offLastOffsetDelta:], uint32(b.numRecords-1))
	binary.BigEndian.PutUint64(batch[offBaseTimestamp:], uint64(b.firstTs))
	binary.BigEndian.PutUint64(batch[offMaxTimestamp:], uint64(b.maxTs))
	binary.BigEndian.PutUint32(batch[offRecordCount:], uint32(b.numRecords))
	// StampProducer writes the producer fields, the transactional bit and
	// the CRC, exactly as it does when it re-stamps the batch later.
	StampProducer(batch, opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional)
	b.open = false
	return batch, nil
}

// scratchPool holds buffers that receive compressed records before they are
// copied back over the uncompressed ones: compressors cannot write over
// their own input.
var scratchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 64<<10)
	return &b
}}

// maxPooledScratch keeps one unusually large batch from pinning its scratch
// buffer in the pool.
const maxPooledScratch = 16 << 20

// compressRecords replaces the records section of buf with its compressed
// form, or returns nil when that form does not fit cap(buf).
func compressRecords(buf []byte, codec compression.Codec, level int) ([]byte, error) {
	scratch := scratchPool.Get().(*[]byte)
	out, err := compression.Compress((*scratch)[:0], codec, level, buf[BatchHeaderSize:])
	if err == nil && BatchHeaderSize+len(out) <= cap(buf) {
		buf = append(buf[:BatchHeaderSize], out...)
	} else {
		buf = nil
	}
	if cap(out) <= maxPooledScratch {
		*scratch = out[:0]
		scratchPool.Put(scratch)
	}
	return buf, err
}

// putInt32 writes v big-endian; a function so that negative constants can be
// passed without overflowing a constant conversion.
func putInt32(b []byte, v int32) { binary.BigEndian.PutUint32(b, uint32(v)) }
