package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An annotation explains one field of a byte string: where it starts, its
// place in the message, its bytes and what they mean. The walkers in
// dumpwalk.go produce one per field, in order, so that every byte of a
// message belongs to exactly one annotation (a test checks it).
type annotation struct {
	off   int    // offset of raw[0] in its space
	path  string // field path within the section, e.g. TopicData[0].Name
	raw   []byte
	value string // the decoded value and what it means

	// section, when set, starts a new section before this annotation
	// (its heading line).
	section string
	// space names the byte string offsets count in: "" for the request as
	// sent, or e.g. "decompressed records of batch 0".
	space string
}

// cursor reads fields from b and annotates them. It remembers its first
// error, after which every read returns zero values, so a walker reads
// straight through and checks err once (the wire.Reader pattern).
type cursor struct {
	b      []byte
	off    int
	base   int    // offset of b[0] in the annotated space
	space  string // copied into each annotation
	prefix string // prepended to field paths
	out    *[]annotation
	err    error

	pendingSection string
}

func newCursor(b []byte, base int, space string, out *[]annotation) *cursor {
	return &cursor{b: b, base: base, space: space, out: out}
}

// section makes the next annotation start a section with this heading.
func (c *cursor) section(heading string) { c.pendingSection = heading }

func (c *cursor) remaining() int { return len(c.b) - c.off }

// take consumes n bytes as one annotated field.
func (c *cursor) take(n int, path string, value func(raw []byte) string) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > c.remaining() {
		c.err = fmt.Errorf("%s%s at offset %d: need %d %s, %d left", c.prefix, path, c.base+c.off, n, countedNoun(int64(n), "byte"), c.remaining())
		return nil
	}
	raw := c.b[c.off : c.off+n]
	a := annotation{off: c.base + c.off, path: c.prefix + path, raw: raw, space: c.space, section: c.pendingSection}
	c.pendingSection = ""
	c.off += n
	a.value = value(raw)
	*c.out = append(*c.out, a)
	return raw
}

// The fixed-width big-endian integers of the protocol.

func (c *cursor) int8(path string, explain func(int8) string) int8 {
	var v int8
	c.take(1, path, func(b []byte) string { v = int8(b[0]); return explainInt(int64(v), explain, v) })
	return v
}

func (c *cursor) int16(path string, explain func(int16) string) int16 {
	var v int16
	c.take(2, path, func(b []byte) string {
		v = int16(binary.BigEndian.Uint16(b))
		return explainInt(int64(v), explain, v)
	})
	return v
}

func (c *cursor) int32(path string, explain func(int32) string) int32 {
	var v int32
	c.take(4, path, func(b []byte) string {
		v = int32(binary.BigEndian.Uint32(b))
		return explainInt(int64(v), explain, v)
	})
	return v
}

func (c *cursor) uint32(path string, explain func(uint32) string) uint32 {
	var v uint32
	c.take(4, path, func(b []byte) string {
		v = binary.BigEndian.Uint32(b)
		return explainInt(int64(v), explain, v)
	})
	return v
}

func (c *cursor) int64(path string, explain func(int64) string) int64 {
	var v int64
	c.take(8, path, func(b []byte) string {
		v = int64(binary.BigEndian.Uint64(b))
		return explainInt(v, explain, v)
	})
	return v
}

func explainInt[T any](v int64, explain func(T) string, typed T) string {
	s := strconv.FormatInt(v, 10)
	if explain != nil {
		if e := explain(typed); e != "" {
			s += " " + e
		}
	}
	return s
}

// The variable-length integers: unsigned varints (compact lengths, tagged
// fields) and zigzag varints (every integer inside a record), both in the
// protobuf encoding: 7 bits per byte, low groups first, high bit set on all
// bytes but the last.

// varintLen is how many bytes the varint at the cursor spans, or 0 if it
// does not end within maxBytes or the input.
func (c *cursor) varintLen(maxBytes int) int {
	for i := 0; i < maxBytes && c.off+i < len(c.b); i++ {
		if c.b[c.off+i]&0x80 == 0 {
			return i + 1
		}
	}
	return 0
}

// uvarint reads an unsigned varint of the protocol: a length+1, a count,
// a tag or a size, none past an int32's range, as the Java broker reads
// them into an int. One past it is an error: five bytes hold 35 bits, and
// the walk's int of such a length would wrap where an int has 32 bits.
func (c *cursor) uvarint(path string, explain func(uint64) string) uint64 {
	n := c.varintLen(5)
	if n == 0 && c.err == nil {
		c.err = fmt.Errorf("%s%s at offset %d: malformed unsigned varint", c.prefix, path, c.base+c.off)
	}
	start := c.off
	var v uint64
	c.take(n, path, func(b []byte) string {
		v, _ = binary.Uvarint(b)
		s := strconv.FormatUint(v, 10)
		if explain != nil {
			s += " " + explain(v)
		}
		return s + " [unsigned varint]"
	})
	if c.err == nil && v > math.MaxInt32 {
		c.err = fmt.Errorf("%s%s at offset %d: %d is past an int32's range", c.prefix, path, c.base+start, v)
		return 0
	}
	return v
}

// varint reads a zigzag varint (varint for an int32, varlong for an int64:
// maxBytes 5 or 10). A varint past an int32's range is an error: its five
// bytes hold 35 bits, and the walk's int of such a length or count would
// wrap where an int has 32 bits.
func (c *cursor) varint(path string, maxBytes int, explain func(int64) string) int64 {
	n := c.varintLen(maxBytes)
	if n == 0 && c.err == nil {
		c.err = fmt.Errorf("%s%s at offset %d: malformed varint", c.prefix, path, c.base+c.off)
	}
	start := c.off
	var v int64
	kind := "varint"
	if maxBytes > 5 {
		kind = "varlong"
	}
	c.take(n, path, func(b []byte) string {
		v, _ = binary.Varint(b)
		s := strconv.FormatInt(v, 10)
		if explain != nil {
			if e := explain(v); e != "" {
				s += " " + e
			}
		}
		return s + " [zigzag " + kind + "]"
	})
	if c.err == nil && maxBytes <= 5 && v != int64(int32(v)) {
		c.err = fmt.Errorf("%s%s at offset %d: %d is past an int32's range", c.prefix, path, c.base+start, v)
		return 0
	}
	return v
}

// data consumes n bytes of a string or byte field's content.
func (c *cursor) data(n int, path string) []byte {
	return c.take(n, path, describeBytes)
}

// describeBytes shows a byte string as a quoted string when it is printable
// UTF-8, else as its size.
func describeBytes(b []byte) string {
	const maxShown = 60
	if utf8.Valid(b) && printable(string(b)) {
		s := string(b)
		if utf8.RuneCountInString(s) > maxShown {
			return strconv.Quote(string([]rune(s)[:maxShown])) + fmt.Sprintf("... (%d bytes)", len(b))
		}
		return strconv.Quote(s)
	}
	return fmt.Sprintf("(%d %s of binary data)", len(b), countedNoun(int64(len(b)), "byte"))
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// bytesPerLine is how many raw bytes one output line shows; longer fields
// continue on further lines.
const bytesPerLine = 8

// writeAnnotations prints the annotations as aligned columns: offset, field,
// raw bytes in hex, decoded value. A field longer than bytesPerLine continues
// on further lines that show only the offset and the bytes.
func writeAnnotations(w io.Writer, as []annotation) error {
	pathWidth := len("field")
	for _, a := range as {
		pathWidth = max(pathWidth, len(a.path))
	}
	hexWidth := bytesPerLine*3 - 1
	var b strings.Builder
	line := func(off, path, raw, value string) {
		row := fmt.Sprintf("%6s  %-*s  %-*s  %s", off, pathWidth, path, hexWidth, raw, value)
		b.WriteString(strings.TrimRight(row, " "))
		b.WriteByte('\n')
	}
	line("offset", "field", "bytes", "value")
	space := ""
	for _, a := range as {
		if a.section != "" {
			fmt.Fprintf(&b, "\n# %s\n", a.section)
		}
		if a.space != space {
			space = a.space
			if space != "" {
				fmt.Fprintf(&b, "# (offsets below count within the %s)\n", space)
			} else {
				b.WriteString("# (offsets below count within the request again)\n")
			}
		}
		first := min(len(a.raw), bytesPerLine)
		line(strconv.Itoa(a.off), a.path, spacedHex(a.raw[:first]), a.value)
		for i := first; i < len(a.raw); i += bytesPerLine {
			line(strconv.Itoa(a.off+i), "", spacedHex(a.raw[i:min(i+bytesPerLine, len(a.raw))]), "")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// spacedHex is "00 0b ff".
func spacedHex(b []byte) string {
	s := hex.EncodeToString(b)
	var out strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(s[i : i+2])
	}
	return out.String()
}
