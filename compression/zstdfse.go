package compression

import (
	"math"
	"math/bits"
)

// This file is the FSE (tANS) coding of zstd's sequence codes (RFC 8878,
// section 4.1): the format's predefined distributions, distributions fitted
// to a block's own codes together with the description the block carries
// for them, and the encoding tables built from either.

const (
	// fseMaxSymbols: the match-length codes, the largest alphabet.
	fseMaxSymbols = 53
	// fseMaxTableLog: the largest accuracy log the format allows for a
	// literal-length or match-length table (offsets: 8).
	fseMaxTableLog = 9
	fseMinTableLog = 5 // the smallest a table description can give
)

// The predefined distributions (section 3.1.1.3.2.2): the normalized count
// of each code, out of 2^accuracy log; -1 is "less than one", which takes
// one cell as a count of 1 does.
var (
	llPredefinedCounts = []int16{4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
		2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1}
	mlPredefinedCounts = []int16{1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		-1, -1, -1, -1, -1, -1, -1}
	ofPredefinedCounts = []int16{1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1}

	llPredefined = predefinedFSE(6, llPredefinedCounts)
	mlPredefined = predefinedFSE(6, mlPredefinedCounts)
	ofPredefined = predefinedFSE(5, ofPredefinedCounts)
)

func predefinedFSE(tableLog uint8, counts []int16) *fseEncoder {
	e := new(fseEncoder)
	e.build(tableLog, counts)
	return e
}

// An fseEncoder is the encoding table of one FSE distribution: the
// decoder's table turned around, so that from a state and the next symbol
// (the previous one to the decoder) the encoder finds the bits to write and
// the next state.
type fseEncoder struct {
	tableLog uint8
	// next holds the states (offset by the table size) grouped by the
	// symbol they decode, in order.
	next    [1 << fseMaxTableLog]uint16
	symbols [fseMaxSymbols]fseSymbol
	// symbolAt is build's scratch: the symbol of each decoding state.
	symbolAt [1 << fseMaxTableLog]uint8
}

// An fseSymbol tells how to encode a symbol: with the state offset by
// deltaBits in the high 16 bits, the top half of those say how many
// low bits of the state to write; deltaState finds, among the symbol's
// states in next, the one to go to.
type fseSymbol struct {
	deltaBits  uint32
	deltaState int32
}

// build makes e the encoding table of a distribution, spread over the
// decoding table as the format does (section 4.1.1): "less than one"
// symbols take the last cells, the others are spread with a fixed step. A
// table of accuracy log 0, one symbol of count 1, is the RLE mode's: it
// writes no bits at all.
func (e *fseEncoder) build(tableLog uint8, counts []int16) {
	size := 1 << tableLog
	symbolAt := e.symbolAt[:size]
	var start [fseMaxSymbols + 1]int // where each symbol's states begin in next
	high := size - 1
	for s, n := range counts {
		if n == -1 {
			symbolAt[high] = uint8(s)
			high--
			n = 1
		}
		start[s+1] = start[s] + int(n)
	}
	step, mask, pos := size>>1+size>>3+3, size-1, 0
	for s, n := range counts {
		for range max(int(n), 0) {
			symbolAt[pos] = uint8(s)
			for pos = (pos + step) & mask; pos > high; pos = (pos + step) & mask {
			}
		}
	}
	fill := start
	for u, s := range symbolAt {
		e.next[fill[s]] = uint16(size + u)
		fill[s]++
	}
	e.tableLog = tableLog
	for s, n := range counts {
		switch n {
		case 0:
			e.symbols[s] = fseSymbol{}
		case -1, 1:
			e.symbols[s] = fseSymbol{uint32(tableLog)<<16 - uint32(size), int32(start[s] - 1)}
		default:
			maxBitsOut := uint32(tableLog) - uint32(bits.Len16(uint16(n-1))-1)
			minStatePlus := uint32(n) << maxBitsOut
			e.symbols[s] = fseSymbol{maxBitsOut<<16 - minStatePlus, int32(start[s] - int(n))}
		}
	}
}

// start is the state in which the decoder's first read gives symbol: the
// last symbol the encoder writes costs no bits.
func (e *fseEncoder) start(symbol uint8) uint32 {
	sym := e.symbols[symbol]
	nbBits := (sym.deltaBits + 1<<15) >> 16
	value := nbBits<<16 - sym.deltaBits
	return uint32(e.next[int32(value>>nbBits)+sym.deltaState])
}

// encode writes the bits that take the decoder from symbol's state to
// state's, and returns symbol's state.
func (e *fseEncoder) encode(w *bitWriter, state uint32, symbol uint8) uint32 {
	sym := e.symbols[symbol]
	nbBits := (state + sym.deltaBits) >> 16
	w.add(uint64(state), uint(nbBits))
	return uint32(e.next[int32(state>>nbBits)+sym.deltaState])
}

// fseTableLog picks the accuracy log of a table fitted to n codes, the
// largest of which is maxSymbol: no finer than n codes can use (n/8
// states), but fine enough that every code present has a cell, and within
// the format's limits. zstd's reference encoder picks it the same way.
func fseTableLog(n, maxSymbol int, maxLog uint8) uint8 {
	log := min(int(maxLog), bits.Len(uint(n-1))-3)
	log = max(log, min(bits.Len(uint(n)), bits.Len(uint(maxSymbol))+1))
	return uint8(min(max(log, fseMinTableLog), int(maxLog)))
}

// normalize scales counts (their sum is total) to norm, summing to
// 2^tableLog, each code present getting at least 1. The rounding is
// settled on the largest counts, where it matters least.
func normalize(norm []int16, counts []uint32, total int, tableLog uint8) {
	size := 1 << tableLog
	sum := 0
	for s, c := range counts {
		n := 0
		if c > 0 {
			n = max(1, (int(c)*size+total/2)/total)
		}
		norm[s] = int16(n)
		sum += n
	}
	for sum != size {
		largest := 0
		for s, n := range norm {
			if n > norm[largest] {
				largest = s
			}
		}
		// Moving the whole difference to the largest count keeps it at 1 or
		// more unless it is itself small; then it gives what it can and
		// the next largest the rest.
		d := max(size-sum, 1-int(norm[largest]))
		norm[largest] += int16(d)
		sum += d
	}
}

// fseCost estimates the bits that coding counts with the distribution norm
// (of accuracy log tableLog) takes: a code of count n out of 2^tableLog
// costs tableLog - log2(n) bits.
func fseCost(counts []uint32, norm []int16, tableLog uint8) float64 {
	bits := 0.0
	for s, c := range counts {
		if c == 0 {
			continue
		}
		n := norm[s]
		if n == -1 {
			n = 1
		}
		bits += float64(c) * (float64(tableLog) - math.Log2(float64(n)))
	}
	return bits
}

// appendFSEDescription appends the description of the distribution norm
// that a block carries for a table fitted to it (section 4.1.1): the
// accuracy log, then each count in as few bits as the counts left to
// describe allow, with runs of absent codes written as 2-bit repeat flags.
func appendFSEDescription(dst []byte, norm []int16, tableLog uint8) []byte {
	w := bitWriter{out: dst}
	w.add(uint64(tableLog-fseMinTableLog), 4)
	remaining := 1<<tableLog + 1
	threshold := 1 << tableLog
	nbBits := uint(tableLog) + 1
	previousZero := false
	for s := 0; s < len(norm) && remaining > 1; {
		if previousZero {
			start := s
			for s < len(norm) && norm[s] == 0 {
				s++
			}
			for ; s >= start+24; start += 24 {
				w.add(0xffff, 16) // eight flags of 3: 24 absent codes
			}
			for ; s >= start+3; start += 3 {
				w.add(3, 2)
			}
			w.add(uint64(s-start), 2)
		}
		n := int(norm[s])
		s++
		// Values below lowLimit take one bit less; the largest ones are
		// shifted above them.
		lowLimit := 2*threshold - 1 - remaining
		remaining -= max(n, -n)
		v := n + 1
		if v >= threshold {
			v += lowLimit
		}
		if v < lowLimit {
			w.add(uint64(v), nbBits-1)
		} else {
			w.add(uint64(v), nbBits)
		}
		previousZero = v == 1
		for remaining < threshold {
			nbBits--
			threshold >>= 1
		}
	}
	return w.flush()
}
