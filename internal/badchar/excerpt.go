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
// its first ones (cut at a character's start) and the length of the whole
// said after them. Errors that show text whose length nothing bounds cut it
// so; each caller picks n for its text (brokertext a broker's, larger).
func Cut(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
