package compression

import "math/bits"

// This file writes the Sequences section of a zstd compressed block
// (RFC 8878, section 3.1.1.3.2) for zstdblock.go's sequences.
//
// A sequence is literals to copy, then a match to copy from an offset back.
// Its three numbers are each written as a code, which FSE state machines
// encode (zstdfse.go), plus extra bits, written as is. All of it goes into
// one bit stream that the decoder reads from the end: so the sequences are
// written last first, and within each, every field in the reverse of the
// order the decoder reads it.
//
// Each of the three codes is coded the way that comes out smallest for the
// block (chooseTable): with the format's predefined distribution, which
// needs no description; with one fitted to the block's codes, whose
// description the block carries; or as RLE, when every sequence has the
// same code. Fitted tables made record-like text 14% smaller than the
// predefined ones alone (ratio 0.252 against 0.292).

// A zstdSequence is one sequence of a block: litLen literals, then a match
// of matchLen bytes. offsetValue is the offset as the format writes it:
// the distance back plus 3, or 1 to 3 for the decoder's repeat offsets.
type zstdSequence struct {
	litLen, matchLen, offsetValue uint32
}

const (
	zstdMinMatch      = 3  // the shortest match the format can express
	zstdMaxOffsetCode = 31 // the largest offset code the format allows
)

// Literal-length and match-length codes: values below the tables' ends
// have a code each; larger ones share a code per power of two. The
// baselines and extra bits are the format's (section 3.1.1.3.2.1.1).
var (
	llBaselines = [36]uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
		8192, 16384, 32768, 65536}
	llExtraBits = [36]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	mlBaselines = [53]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
		19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
		35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
		4099, 8195, 16387, 32771, 65539}
	mlExtraBits = [53]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16}
)

// llCodes and mlCodes are the codes of literal lengths below 64 and of
// match lengths below 131, built from the baselines.
var llCodes, mlCodes = codesBelow(llBaselines[:], 64), codesBelow(mlBaselines[:], 131)

func codesBelow(baselines []uint32, n uint32) []uint8 {
	codes := make([]uint8, n)
	code := 0
	for v := range n {
		for code+1 < len(baselines) && baselines[code+1] <= v {
			code++
		}
		codes[v] = uint8(code)
	}
	return codes
}

// llCode is the code of a literal length: from 64 on, each code covers a
// power of two (code 25 is 64..127).
func llCode(litLen uint32) uint8 {
	if litLen < 64 {
		return llCodes[litLen]
	}
	return uint8(bits.Len32(litLen) - 1 + 19)
}

// mlCode is the code of a match length: from 131 on, each code covers a
// power of two (code 43 is 131..258).
func mlCode(matchLen uint32) uint8 {
	if matchLen < 131 {
		return mlCodes[matchLen]
	}
	return uint8(bits.Len32(matchLen-zstdMinMatch) - 1 + 36)
}

// zstdCodes are a sequence's three codes.
type zstdCodes struct{ ll, ml, of uint8 }

// Symbol compression modes (section 3.1.1.3.2.1), for each code a table
// of its own, in a block's modes byte.
const (
	fsePredefined = 0
	fseRLE        = 1
	fseCompressed = 2
)

// appendSequences appends the Sequences section for e.seqs to out.
func (e *zstdBlockEncoder) appendSequences(out []byte) []byte {
	seqs := e.seqs
	switch n := len(seqs); {
	case n < 128:
		out = append(out, byte(n))
	case n < 0x7f00:
		out = append(out, byte(n>>8)+0x80, byte(n))
	default:
		out = append(out, 0xff, byte(n-0x7f00), byte((n-0x7f00)>>8))
	}
	if len(seqs) == 0 {
		return out
	}
	var llCounts [len(llBaselines)]uint32
	var mlCounts [len(mlBaselines)]uint32
	var ofCounts [zstdMaxOffsetCode + 1]uint32
	codes := e.codes[:0]
	for _, seq := range seqs {
		c := zstdCodes{llCode(seq.litLen), mlCode(seq.matchLen), uint8(bits.Len32(seq.offsetValue) - 1)}
		llCounts[c.ll]++
		mlCounts[c.ml]++
		ofCounts[c.of]++
		codes = append(codes, c)
	}
	e.codes = codes

	modes := len(out)
	out = append(out, 0)
	var llMode, ofMode, mlMode byte
	var ll, of, ml *fseEncoder
	out, ll, llMode = e.chooseTable(out, &e.llTable, llCounts[:], llPredefined, llPredefinedCounts, fseMaxTableLog)
	out, of, ofMode = e.chooseTable(out, &e.ofTable, ofCounts[:], ofPredefined, ofPredefinedCounts, 8)
	out, ml, mlMode = e.chooseTable(out, &e.mlTable, mlCounts[:], mlPredefined, mlPredefinedCounts, fseMaxTableLog)
	out[modes] = llMode<<6 | ofMode<<4 | mlMode<<2

	w := bitWriter{out: out}
	last := len(seqs) - 1
	c := codes[last]
	mlState, ofState, llState := ml.start(c.ml), of.start(c.of), ll.start(c.ll)
	w.addExtraBits(seqs[last], c)
	for i := last - 1; i >= 0; i-- {
		c := codes[i]
		ofState = of.encode(&w, ofState, c.of)
		mlState = ml.encode(&w, mlState, c.ml)
		llState = ll.encode(&w, llState, c.ll)
		w.addExtraBits(seqs[i], c)
	}
	// The decoder's first states, read in the order literal length,
	// offset, match length.
	w.add(uint64(mlState), uint(ml.tableLog))
	w.add(uint64(ofState), uint(of.tableLog))
	w.add(uint64(llState), uint(ll.tableLog))
	return w.close()
}

// chooseTable picks how one of the three codes is coded in this block, by
// the estimated size: a single code is RLE (one byte, no bits per
// sequence); otherwise the predefined distribution, or one fitted to
// counts and built in table, whose description it appends to out.
func (e *zstdBlockEncoder) chooseTable(out []byte, table *fseEncoder, counts []uint32,
	predefined *fseEncoder, predefinedCounts []int16, maxLog uint8) ([]byte, *fseEncoder, byte) {
	total, largest, present := 0, 0, 0
	for s, c := range counts {
		if c > 0 {
			total += int(c)
			largest = s
			present++
		}
	}
	norm := e.norm[:largest+1]
	if present == 1 {
		clear(norm)
		norm[largest] = 1
		table.build(0, norm)
		return append(out, byte(largest)), table, fseRLE
	}
	counts = counts[:largest+1]
	tableLog := fseTableLog(total, largest, maxLog)
	normalize(norm, counts, total, tableLog)
	start := len(out)
	out = appendFSEDescription(out, norm, tableLog)
	fitted := float64(8*(len(out)-start)) + fseCost(counts, norm, tableLog)
	// The predefined offset distribution stops at code 28 (offsets up to
	// 256 MiB), which no match here reaches; checked all the same.
	if largest < len(predefinedCounts) && fitted >= fseCost(counts, predefinedCounts, predefined.tableLog) {
		return out[:start], predefined, fsePredefined
	}
	table.build(tableLog, norm)
	return out, table, fseCompressed
}

// addExtraBits writes a sequence's extra bits, which the decoder reads
// offset first.
func (w *bitWriter) addExtraBits(seq zstdSequence, c zstdCodes) {
	w.add(uint64(seq.litLen-llBaselines[c.ll]), uint(llExtraBits[c.ll]))
	w.add(uint64(seq.matchLen-mlBaselines[c.ml]), uint(mlExtraBits[c.ml]))
	// The offset code is the value's top bit: the bits below it follow.
	w.add(uint64(seq.offsetValue), uint(c.of))
}
