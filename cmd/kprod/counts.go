package main

import (
	"fmt"
	"strings"
)

// plural is n things, with separators: "1 request", "2,000 requests",
// "3 retries".
func plural(n int64, thing string) string {
	return group(n) + " " + countedNoun(n, thing)
}

// countedNoun is thing as n of it are said, without n: "request" for 1,
// "requests" or "retries" for any other count. It serves the lines that
// write n without separators: a flag's value as it was given
// (--record-size), a field's decoded value in dump.
func countedNoun(n int64, thing string) string {
	switch {
	case n == 1:
		return thing
	case strings.HasSuffix(thing, "y"):
		return strings.TrimSuffix(thing, "y") + "ies"
	}
	return thing + "s"
}

// group writes n with thousands separators: 1,000,000.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
