// Package badchar names the character a check of text the user gave
// refuses (a header key, a topic name, a client id, a SASL name) by what
// it is and where, so that the error points at it rather than quote the
// text: the caller has the text, which may be a megabyte long, or not
// print, and an error quoting it whole was as long. Text an error names
// for another reason, or refused for its length, it excerpts (Excerpt).
package badchar

import (
	"fmt"
	"unicode/utf8"
)

// NotUTF8 names the first byte of s that begins no character in UTF-8,
// as At does ("the byte 0xff at 1, not UTF-8"), or is "" if s is UTF-8:
// the check of an id or a header key that Kafka's broker would decode as
// another, and what its error says.
func NotUTF8(s string) string {
	if utf8.ValidString(s) {
		return ""
	}
	return At(s, FirstNotUTF8(s))
}

// FirstNotUTF8 is the index of the first byte of s that does not begin a
// character in UTF-8; len(s) if every one does.
func FirstNotUTF8(s string) int {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(s)
}

// At names the character that starts at s[i] and its offset, quoted
// ("'é' at 3", "'\x00' at 1"), or the byte there if it begins none ("the
// byte 0xff at 1, not UTF-8"): a few bytes, however long s.
func At(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("the byte %#x at %d, not UTF-8", s[i], i)
	}
	return fmt.Sprintf("%q at %d", r, i)
}
