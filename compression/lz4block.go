package compression

import "encoding/binary"

// This file is an LZ4 block compressor for the default (fast) level, written
// from the LZ4 block format specification (lz4/lz4, doc/lz4_Block_format.md).
//
// It exists for speed on the batches the producer's benchmarks and the race
// send: records whose values are random bytes, where only a few bytes of
// framing per record repeat. On such a 64 KiB batch
// (BenchmarkCompressRandomValues/lz4) pierrec/lz4's Writer at its Fast
// level takes 245 µs (255 MiB/s) to reach a ratio of 0.991; this
// compressor finds that the batch will not shrink and stores it as it is,
// in 26 µs. On record-like text (BenchmarkCompress/lz4) it is 13% faster
// and 2.5% smaller. What it does: one 8-byte load serves the lookups of two
// positions, a lookup compares the bytes kept in the table rather than
// reading the input again, the search step grows with the literals since
// the last match (LZ4's acceleration), short sequences are written with
// fixed-size stores, and a block that would not come out smaller is given
// up on as soon as that is certain. See lz4frame.go for the frame around
// the blocks.
//
// The block format, in short: a block is a run of sequences, each a token
// byte (literal count in the high 4 bits, match length minus 4 in the low
// 4 bits; 15 in either means "more length bytes follow": 255s and a final
// byte below 255), the literals, a 2-byte little-endian offset back to the
// match, and the match length's extra bytes. The last sequence has
// literals only. Decoders written for speed (LZ4's own, hence lz4-java's
// in Kafka's broker) rely on two rules at the end of a block: the last 5
// bytes are literals, and the last match starts at least 12 bytes before
// the end; so a block under 13 bytes holds literals only.

const (
	lz4MinMatch = 4
	// lz4LastLiterals: the last 5 bytes of a block are always literals.
	lz4LastLiterals = 5
	// lz4MatchStartLimit: the last match starts at least 12 bytes before the
	// end of the block.
	lz4MatchStartLimit = 12

	// lz4ShortSequenceMax is the room compressBlock's fast path needs: a
	// token and 16 bytes of literals (up to 14 real ones), then 2 bytes
	// of offset.
	lz4ShortSequenceMax = 1 + 16 + 2

	// lz4SkipShift sets the acceleration: the search step grows by one
	// byte for every 2^5 bytes of literals since the last match, so
	// incompressible data is skimmed rather than hashed byte by byte.
	// LZ4's reference compressor grows it every 64 lookups, which is
	// slower still. Where matches are rare, a lookup almost always misses:
	// against 2^6, 2^5 compresses batches of 100-byte random values
	// (randomValueRecords, seeds 1-64) in 30 µs instead of 101 on average,
	// storing two in three as they are (a ratio of 1.000 instead of 0.991);
	// record-like text and Go source come out at most 0.2% larger than at
	// 2^6, JSON with UUIDs 0.5% smaller. TestLZ4RandomValuesRatio and
	// TestLZ4FastRatio hold the price: 2^4 left 80-byte random values 1.2%
	// larger than pierrec's Fast level, and 2^3 left Go source 5% larger.
	lz4SkipShift = 5
)

// lz4BlockCompressor holds the hash table (matchtable.go), reused from block
// to block (through lz4BlockCompressors in lz4frame.go) so that compressing
// does not allocate.
type lz4BlockCompressor struct {
	table matchTable
}

// compressBlock writes src (at most 64 KiB) as an LZ4 block into out and
// returns the number of bytes written. It fails (ok false) as soon as the
// block does not fit in out: the frame passes an out one byte shorter than
// src, so that failing means "store this block uncompressed", and an
// incompressible block is given up on early instead of compressed in full.
func (c *lz4BlockCompressor) compressBlock(out, src []byte) (n int, ok bool) {
	if len(src) <= lz4MatchStartLimit {
		return writeLastLiterals(out, 0, src)
	}
	table, hashShift := c.table.reset(len(src))
	first := binary.LittleEndian.Uint64(src)
	table[hash5(first, hashShift)] = matchEntry(first, 0)

	matchEndLimit := len(src) - lz4LastLiterals
	matchStartLimit := len(src) - lz4MatchStartLimit
	d := 0      // bytes written to out
	anchor := 0 // first byte of src not yet written, the next literals
	s := 1      // position to look up; position 0 has nothing to match
	for {
		// Look up s, remember s, and move on until the 5 bytes at s equal
		// those at the position last seen with the same hash. Each round
		// looks up s and s+1 from one 8-byte load, then steps further the
		// longer the literals since the last match have grown.
		var candidate int
		for {
			if s > matchStartLimit {
				return writeLastLiterals(out, d, src[anchor:])
			}
			here := binary.LittleEndian.Uint64(src[s:])
			h0 := hash5(here, hashShift)
			h1 := hash5(here>>8, hashShift)
			// Both entries are read before either is replaced: with h0 ==
			// h1, s+1 is then looked up where s was, not found at s.
			e0, e1 := table[h0], table[h1]
			table[h0] = matchEntry(here, s)
			table[h1] = matchEntry(here>>8, s+1)
			if sameBytes(e0, here) {
				candidate = entryPosition(e0)
				break
			}
			if sameBytes(e1, here>>8) {
				candidate = entryPosition(e1)
				s++
				if s > matchStartLimit {
					return writeLastLiterals(out, d, src[anchor:])
				}
				break
			}
			s += 2 + (s-anchor)>>lz4SkipShift
		}
		// Table entries are earlier positions of this block, which is at
		// most 64 KiB, so the offset fits its 2 bytes and is never 0.
		// Extend the match back over the pending literals, then forward
		// as far as the end rules allow.
		for s > anchor && candidate > 0 && src[s-1] == src[candidate-1] {
			s--
			candidate--
		}
		matchLen := lz4MinMatch + commonPrefixLen(src[s+lz4MinMatch:matchEndLimit], src[candidate+lz4MinMatch:])
		if literals, matchCode := s-anchor, matchLen-lz4MinMatch; literals < 15 && matchCode < 15 &&
			d+lz4ShortSequenceMax <= len(out) && anchor+16 <= len(src) {
			// The common case, short literals and a short match, written
			// with fixed-size stores: the 16 bytes copied from anchor
			// hold the literals, and what lies past them is overwritten
			// by the offset and the next sequence.
			out[d] = byte(literals<<4 | matchCode)
			binary.LittleEndian.PutUint64(out[d+1:], binary.LittleEndian.Uint64(src[anchor:]))
			binary.LittleEndian.PutUint64(out[d+9:], binary.LittleEndian.Uint64(src[anchor+8:]))
			d += 1 + literals
			binary.LittleEndian.PutUint16(out[d:], uint16(s-candidate))
			d += 2
		} else if d, ok = writeSequence(out, d, src[anchor:s], s-candidate, matchLen); !ok {
			return d, false
		}
		s += matchLen
		anchor = s
	}
}

// writeSequence writes at out[d:] a sequence of literals followed by a match
// of matchLen bytes offset bytes back, and returns the new d; ok is false,
// with nothing written, when out has no room for it.
func writeSequence(out []byte, d int, literals []byte, offset, matchLen int) (int, bool) {
	matchCode := matchLen - lz4MinMatch
	size := 1 + extraLengthBytes(len(literals)) + len(literals) + 2 + extraLengthBytes(matchCode)
	if size > len(out)-d {
		return d, false
	}
	token := &out[d]
	d++
	*token = byte(min(len(literals), 15) << 4)
	if len(literals) >= 15 {
		d = writeExtraLength(out, d, len(literals)-15)
	}
	d += copy(out[d:], literals)
	binary.LittleEndian.PutUint16(out[d:], uint16(offset))
	d += 2
	*token |= byte(min(matchCode, 15))
	if matchCode >= 15 {
		d = writeExtraLength(out, d, matchCode-15)
	}
	return d, true
}

// writeLastLiterals writes at out[d:] the block's last sequence, literals
// only, and returns the block's size; ok is false when out has no room.
func writeLastLiterals(out []byte, d int, literals []byte) (int, bool) {
	if 1+extraLengthBytes(len(literals))+len(literals) > len(out)-d {
		return d, false
	}
	out[d] = byte(min(len(literals), 15) << 4)
	d++
	if len(literals) >= 15 {
		d = writeExtraLength(out, d, len(literals)-15)
	}
	return d + copy(out[d:], literals), true
}

// extraLengthBytes is how many bytes follow the token for a length whose
// token field holds min(n, 15).
func extraLengthBytes(n int) int {
	if n < 15 {
		return 0
	}
	return (n-15)/255 + 1
}

// writeExtraLength writes the part of a length beyond the token's 15: as
// many 255s as fit, then the remainder (possibly 0).
func writeExtraLength(out []byte, d, n int) int {
	for ; n >= 255; n -= 255 {
		out[d] = 255
		d++
	}
	out[d] = byte(n)
	return d + 1
}
