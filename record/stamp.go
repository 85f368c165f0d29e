package record

import "encoding/binary"

// StampProducer writes the idempotence fields of a closed batch and
// recomputes its CRC. Close writes them through it, with the sequence
// numbers the accumulator's Drain gives a batch as it first drains and
// closes it; Drain calls it again only for a batch sent before whose
// partition's sequences have restarted since (KIP-360). The fields lie
// outside the compressed records, so nothing is re-encoded.
//
// batch must come from Close (at least BatchHeaderSize bytes; a shorter
// slice panics, as an out-of-range index does).
func StampProducer(batch []byte, producerID int64, epoch int16, baseSequence int32, transactional bool) {
	_ = batch[BatchHeaderSize-1] // one bounds check for all the writes below
	binary.BigEndian.PutUint64(batch[offProducerID:], uint64(producerID))
	binary.BigEndian.PutUint16(batch[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(batch[offBaseSequence:], uint32(baseSequence))
	attrs := binary.BigEndian.Uint16(batch[offAttributes:])
	if transactional {
		attrs |= attrTransactional
	} else {
		attrs &^= attrTransactional
	}
	binary.BigEndian.PutUint16(batch[offAttributes:], attrs)
	binary.BigEndian.PutUint32(batch[offCRC:], batchCRC(batch))
}
