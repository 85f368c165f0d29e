package record

import "hash/crc32"

// castagnoli is the CRC-32C table. crc32 recognises this table and uses the
// CPU's CRC32 instruction (SSE 4.2 on amd64, the CRC extension on arm64),
// which is what makes checksumming a batch cheap next to compressing it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchCRC is the CRC-32C of a batch from its attributes to its end; the
// partition leader epoch before it is excluded so that brokers can assign it
// without recomputing the checksum.
func batchCRC(batch []byte) uint32 {
	return crc32.Checksum(batch[offAttributes:], castagnoli)
}
