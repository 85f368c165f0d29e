package compression

import (
	"encoding/binary"

	"github.com/klauspost/compress/huff0"
)

// This file finds the sequences of a zstd block for the default level: the
// literals and matches that zstdseq.go and zstdframe.go then encode.
//
// It exists for the same reason as lz4block.go, and searches the same way
// (matchtable.go): on a 64 KiB batch of records with random values, the
// race's workload, klauspost's encoder at zstd's default level spent 870 µs,
// 75% of it looking for matches, about 1.4 µs a record and most of what a
// producer spends on that workload; this one takes 205 µs. The search is
// LZ4's, with the same table, and one addition: each step first tries, at
// both positions it looks up, the distance of the last match, for 4 bytes. A
// match there is written as a repeat offset, which costs a few bits, and the
// framing of records of one size repeats at one distance. zstd's own
// acceleration (the step grows every 256 bytes of literals, not 64) looked
// at more positions and came out both slower and 1% larger on random values:
// it found fewer repeats.

const (
	// zstdBlockMax is the size of the blocks a frame is cut into. The
	// format allows 128 KiB; 64 KiB keeps positions within a matchEntry,
	// and a batch of the default size within one block.
	zstdBlockMax = 64 << 10
	// zstdSkipShift sets the acceleration as lz4SkipShift does, but the
	// step grows half as fast: one byte for every 2^6 bytes of literals.
	// zstd's repeat offsets make the framing of random values worth 6%,
	// and at 2^5 the search skimmed past it and stored such a batch as it
	// is (TestZstdRatio fails).
	zstdSkipShift = 6
	// zstdMinMatched is what a block's matches must cover, beyond one
	// byte in 64 of it, for its sequences to be worth writing; below it the
	// block is all literals (klauspost's encoder draws the same line).
	zstdMinMatched = 16
)

// A zstdBlockEncoder holds what compressing a block needs, reused through
// zstdBlockEncoders so that compressing does not allocate.
type zstdBlockEncoder struct {
	table matchTable
	seqs  []zstdSequence
	lits  []byte
	huff  huff0.Scratch
	// The sequences' codes, and the tables fitted to them.
	codes                     []zstdCodes
	llTable, mlTable, ofTable fseEncoder
	norm                      [fseMaxSymbols]int16
	// rep is the decoder's first repeat offset, which carries over from
	// block to block within a frame.
	rep uint32
}

// findSequences sets e.seqs and e.lits to the sequences of block and their
// literals, and returns how many bytes the matches cover. The literals
// after the last match are in e.lits but in no sequence: the decoder
// copies them at the end of the block.
func (e *zstdBlockEncoder) findSequences(block []byte) (matched int) {
	e.seqs, e.lits = e.seqs[:0], e.lits[:0]
	// A lookup loads 8 bytes; a block too short for one is all literals.
	searchLimit := len(block) - 8
	if searchLimit < 1 {
		e.lits = append(e.lits, block...)
		return 0
	}
	table, hashShift := e.table.reset(len(block))
	first := binary.LittleEndian.Uint64(block)
	table[hash5(first, hashShift)] = matchEntry(first, 0)

	anchor := 0 // first byte of block not yet in a sequence
	s := 1      // position to look up
	rep := int(e.rep)
	for {
		// As in lz4block.go: look up s and s+1 from one load, remember
		// them, and step on until one finds its 5 bytes. (The lookup is
		// written out in both loops: as a function of its own it is too
		// large for the compiler to inline, and the call made LZ4 1.9
		// times slower on random values.) Before that, both
		// are tried at the last match's distance, for 4 bytes: a repeat
		// offset costs a few bits, so a match there pays from 4 bytes on.
		var candidate int
		for {
			if s > searchLimit {
				e.lits = append(e.lits, block[anchor:]...)
				return matched
			}
			here := binary.LittleEndian.Uint64(block[s:])
			if s >= rep {
				back := binary.LittleEndian.Uint64(block[s-rep:])
				if uint32(here) == uint32(back) {
					candidate = s - rep
					break
				}
				if uint32(here>>8) == uint32(back>>8) {
					s++
					candidate = s - rep
					break
				}
			}
			h0 := hash5(here, hashShift)
			h1 := hash5(here>>8, hashShift)
			e0, e1 := table[h0], table[h1]
			table[h0] = matchEntry(here, s)
			table[h1] = matchEntry(here>>8, s+1)
			if sameBytes(e0, here) {
				candidate = entryPosition(e0)
				break
			}
			if sameBytes(e1, here>>8) {
				// s+1 is at most searchLimit+1, so its 5 bytes are in
				// the block.
				candidate = entryPosition(e1)
				s++
				break
			}
			s += 2 + (s-anchor)>>zstdSkipShift
		}
		for s > anchor && candidate > 0 && block[s-1] == block[candidate-1] {
			s--
			candidate--
		}
		matchLen := commonPrefixLen(block[s:], block[candidate:])
		litLen, offset := uint32(s-anchor), uint32(s-candidate)
		// Offset value 1 is the first repeat offset, but only after
		// literals: without them it means the second.
		offsetValue := offset + 3
		if litLen > 0 && offset == e.rep {
			offsetValue = 1
		}
		e.rep, rep = offset, int(offset)
		e.seqs = append(e.seqs, zstdSequence{litLen: litLen, matchLen: uint32(matchLen), offsetValue: offsetValue})
		e.lits = append(e.lits, block[anchor:s]...)
		matched += matchLen
		s += matchLen
		anchor = s
	}
}
