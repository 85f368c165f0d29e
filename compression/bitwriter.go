package compression

// A bitWriter appends a bit stream to a byte slice, low bits first, as
// zstd's bit streams are: the sequences, which decoders read backwards
// from the last byte, and table descriptions, read forwards.
type bitWriter struct {
	out   []byte
	bits  uint64
	nBits uint
}

// add writes the low n bits of v (n at most 32).
func (w *bitWriter) add(v uint64, n uint) {
	w.bits |= (v & (1<<n - 1)) << w.nBits
	w.nBits += n
	if w.nBits >= 32 {
		w.out = append(w.out, byte(w.bits), byte(w.bits>>8), byte(w.bits>>16), byte(w.bits>>24))
		w.bits >>= 32
		w.nBits -= 32
	}
}

// close ends a stream read backwards with a 1 bit, which tells the decoder
// where the stream starts, and writes the last partial byte.
func (w *bitWriter) close() []byte {
	w.add(1, 1)
	return w.flush()
}

// flush writes the bits not yet written, the last byte filled with zeros.
func (w *bitWriter) flush() []byte {
	for ; w.nBits > 0; w.nBits -= min(w.nBits, 8) {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
	}
	return w.out
}
