package partitioner

import "encoding/binary"

// Murmur2 is the 32-bit MurmurHash2 exactly as the Java client's
// Utils.murmur2 computes it (seed 0x9747b28c, little-endian 4-byte blocks),
// so keyed records land on the same partition as with every other Kafka
// client that follows Java.
func Murmur2(data []byte) int32 {
	const (
		seed  uint32 = 0x9747b28c
		mix   uint32 = 0x5bd1e995
		shift        = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= mix
		k ^= k >> shift
		k *= mix
		h *= mix
		h ^= k
	}
	// The tail bytes are folded in highest first, as Java's switch with
	// fall-through does.
	switch n - i {
	case 3:
		h ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[i])
		h *= mix
	}
	h ^= h >> 13
	h *= mix
	h ^= h >> 15
	return int32(h)
}

// KeyPartition is Java's key partitioning: toPositive(murmur2(key)) % n with
// toPositive(x) = x & 0x7fffffff. Masking (not abs) matters: it maps
// negative hashes differently than abs would, and abs(MinInt32) stays
// negative. It returns NoPartition when partitions <= 0.
func KeyPartition(key []byte, partitions int32) int32 {
	if partitions <= 0 {
		return NoPartition
	}
	return (Murmur2(key) & 0x7fffffff) % partitions
}
