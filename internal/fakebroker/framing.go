package fakebroker

import (
	"encoding/binary"

	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// Kafka's framing of a partition's records (its ByteBufferLogInputStream),
// which reads a batch's length and magic before anything else of it.
const (
	logOverhead    = 12 // the base offset and the length field
	minBatchLength = 14 // the smallest length it reads: a v0 message's overhead
	offMagic       = 16
)

// validateRecords refuses what Kafka refuses of a partition's records at
// Produce v3+, every version the fake speaks, once it knows the partition
// and before it asks whether it leads it (ProduceRequest.validateRecords):
// anything but exactly one batch of magic 2 is INVALID_RECORD, and a length
// or magic its framing cannot read is CORRUPT_MESSAGE. Only the framing is
// read here, as Kafka does; the batch itself is decoded later.
func validateRecords(data []byte) *kerr.Error {
	size, magic, err := nextBatch(data)
	switch {
	case err != nil:
		return err
	case size == 0, magic != record.Magic:
		return kerr.InvalidRecord
	}
	switch next, _, err := nextBatch(data[size:]); {
	case err != nil:
		return err
	case next > 0:
		return kerr.InvalidRecord
	}
	return nil
}

// nextBatch reads the framing of the batch at the start of data as Kafka
// does: its size with the base offset and length field, 0 if data holds no
// whole batch, and its magic.
func nextBatch(data []byte) (size int, magic int8, err *kerr.Error) {
	if len(data) < logOverhead {
		return 0, 0, nil
	}
	length := int32(binary.BigEndian.Uint32(data[logOverhead-4:]))
	if length < minBatchLength {
		return 0, 0, kerr.CorruptMessage
	}
	if len(data) <= offMagic {
		return 0, 0, nil
	}
	magic = int8(data[offMagic])
	if magic < 0 || magic > record.Magic {
		return 0, 0, kerr.CorruptMessage
	}
	if len(data)-logOverhead < int(length) {
		return 0, magic, nil
	}
	return logOverhead + int(length), magic, nil
}
