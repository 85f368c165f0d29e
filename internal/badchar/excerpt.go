package badchar

import (
	"strconv"
	"unicode/utf8"
)

// excerptBytes is how much of a text Excerpt shows: more than the names
// and ids a program gives (a Java consumer's member id is its client id
// and a UUID), so that those show whole.
const excerptBytes = 100

// Excerpt is s as a Go string literal, whole if it has at most
// excerptBytes bytes, else cut as Cut does ("\"aaa\"... (1048576 bytes)"):
// for an error that names text the user gave, not refused for a character
// At could name, which may be a megabyte long.
func Excerpt(s string) string { return Cut(s, excerptBytes) }

// Cut is s as a Go string literal, whole if it has at most n bytes, else
// its first ones (short of a character the bound would cut in two) and the
// length of the whole said after them. Errors that show text whose length
// nothing bounds cut it so; each caller picks n for its text (brokertext a
// broker's, larger).
func Cut(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:cutBefore(s, n)]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// cutBefore is where Cut ends the n bytes of s it shows: at n, or at the
// start of a character that begins before s[n] and ends after it, so that
// none shows cut in two. Only that character's bytes are stepped back
// over, at most utf8.UTFMax-1 (the bound spares a walk back over a long
// run of bytes that begin no character): bytes that are not UTF-8 show one
// by one, as escapes. When every byte that begins no character was
// stepped back over, a text of continuation bytes alone (0x80 to 0xbf)
// showed none of itself, its excerpt an empty string.
func cutBefore(s string, n int) int {
	for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if _, size := utf8.DecodeRuneInString(s[i:]); i+size > n {
				return i
			}
			return n
		}
	}
	return n
}
