package compression

import (
	"encoding/binary"
	"math/bits"
)

// This file is the hash table that both fast compressors search for
// matches: LZ4's (lz4block.go) and zstd's (zstdblock.go). Each maps a hash
// of the next 5 bytes to the last position of the block where they were
// seen, and keeps the 5 bytes beside it (matchEntry).

const (
	// Keeping the bytes in the entry means a lookup compares them without
	// reading the input at that position, a second memory access that, on
	// a 64 KiB block, misses the L1 cache as often as not. With it, a batch
	// of random values compressed in 107 µs instead of 136
	// (BenchmarkCompressRandomValues/lz4 when lz4SkipShift was 6, where
	// positions alone were kept in 2^14 entries of 2 bytes).
	// 2^13 entries, as LZ4's reference compressor has for blocks of at most
	// 64 KiB, make the table 64 KiB, cleared per block. 2^14 came out 1%
	// smaller on record-like text but took 11% longer on random values: a
	// table of 128 KiB stays in the caches less. zstd's output came out
	// larger with 2^14 and 2^15 entries (0.4% and 0.7% on record-like text,
	// 0.3% and 0.7% on random values). A small block uses between one and
	// two entries per byte (at least 2^8), so that a small batch does not
	// pay for clearing all of it.
	matchMaxTableBits = 13
	matchMinTableBits = 8
)

// A matchTable is the table of one compressor, kept in a pool between
// blocks so that compressing does not allocate.
type matchTable [1 << matchMaxTableBits]uint64

// reset clears the part of the table a block of n bytes uses, and returns
// it with the shift hash5 takes. Clearing is what keeps the output a
// function of the block alone: a cleared entry matches nothing.
func (t *matchTable) reset(n int) (table []uint64, hashShift int) {
	tableBits := min(max(bits.Len(uint(n)), matchMinTableBits), matchMaxTableBits)
	table = t[:1<<tableBits]
	clear(table)
	return table, 64 - tableBits
}

// A matchEntry is one position of the hash table: the low 16 bits are the
// position (blocks are at most 64 KiB), bit 16 says the entry is in use, and
// the top 40 bits are the 5 bytes the position was looked up with.
func matchEntry(bytes uint64, position int) uint64 {
	return bytes<<24 | 1<<16 | uint64(position)
}

// sameBytes reports whether entry is in use and was stored for the same 5
// bytes as the low 5 of bytes.
func sameBytes(entry, bytes uint64) bool {
	return entry&^0xffff == matchEntry(bytes, 0)
}

// entryPosition is the position an entry holds.
func entryPosition(entry uint64) int { return int(entry & 0xffff) }

// hash5 hashes the low 5 bytes of u, the next bytes of the input, to
// 64-hashShift bits: Fibonacci hashing (a multiplication by 2^64/φ keeps
// the well-mixed top bits). Five bytes, one more than a match needs: on
// benchInput a 4-byte hash found more but shorter matches, and was both
// 24% slower and 1% larger (ratio 0.414 against 0.408).
func hash5(u uint64, hashShift int) uint32 {
	return uint32((u << 24) * 0x9e3779b97f4a7c15 >> hashShift)
}

// commonPrefixLen returns how many leading bytes a and b share; b must be at
// least as long as a. It compares 8 bytes at a time: the lowest set bit of
// their XOR is the first byte that differs (the loads are little-endian).
func commonPrefixLen(a, b []byte) int {
	n := 0
	for ; n+8 <= len(a); n += 8 {
		if diff := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); diff != 0 {
			return n + bits.TrailingZeros64(diff)/8
		}
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}
