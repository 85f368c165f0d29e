package badchar

import (
	"strings"
	"testing"
)

func TestFirstNotUTF8FindsTheFirstByteThatBeginsNoCharacter(t *testing.T) {
	for s, want := range map[string]int{
		"":                              0,
		"key":                           3,
		"jos\u00e9":                     5,
		"\xff":                          0,
		"a\xffb\xfe":                    1,
		"\u00e9\xc3":                    2, // a character cut short
		"a\xed\xa0\x80":                 1, // a surrogate, which UTF-8 has not
		"\ufffd\xff":                    3, // U+FFFD written out is a character
		strings.Repeat("é", 3) + "\x80": 6,
	} {
		if got := FirstNotUTF8(s); got != want {
			t.Errorf("FirstNotUTF8(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestAtNamesTheCharacterOrTheByteAndWhere(t *testing.T) {
	for _, tc := range []struct {
		s    string
		i    int
		want string
	}{
		{"a/b", 1, `'/' at 1`},
		{"jos\u00e9", 3, `'é' at 3`},
		{"a\x00b", 1, `'\x00' at 1`},
		{"a\tb", 1, `'\t' at 1`},
		{"a\xffb", 1, "the byte 0xff at 1, not UTF-8"},
		{"\u00e9\xc3", 2, "the byte 0xc3 at 2, not UTF-8"},
	} {
		if got := At(tc.s, tc.i); got != tc.want {
			t.Errorf("At(%q, %d) = %s, want %s", tc.s, tc.i, got, tc.want)
		}
	}
}

// The words name one character, never the text: a megabyte of it makes
// no longer an answer.
func TestAtIsShortHoweverLongTheText(t *testing.T) {
	long := strings.Repeat("\x01", 1<<20) + "\xff" + strings.Repeat("\x02", 1<<20)
	if got := At(long, 1<<20); len(got) > 40 {
		t.Fatalf("At of a byte in 2 MiB is %d bytes: %.80s...", len(got), got)
	}
}

// A name or id shows whole, as the errors always showed it; a megabyte of
// one shows its start and its length.
func TestExcerptShowsTheStartOfALongText(t *testing.T) {
	for s, want := range map[string]string{
		"":                            `""`,
		"consumer-g-1":                `"consumer-g-1"`,
		strings.Repeat("a", 100):      `"` + strings.Repeat("a", 100) + `"`,
		strings.Repeat("a", 1<<20):    `"` + strings.Repeat("a", 100) + `"... (1048576 bytes)`,
		strings.Repeat("é", 1<<20):    `"` + strings.Repeat("é", 50) + `"... (2097152 bytes)`,
		"a" + strings.Repeat("é", 50): `"a` + strings.Repeat("é", 49) + `"... (101 bytes)`,
	} {
		if got := Excerpt(s); got != want {
			t.Errorf("Excerpt of %d bytes = %.200s, want %.200s", len(s), got, want)
		}
	}
}

// Cut steps back over the bytes of a character it would cut in two, and
// only over those: bytes that are not UTF-8 show as escapes, up to the
// bound. It stepped back over every byte that begins no character, and
// showed nothing of a text of continuation bytes.
func TestCutCutsNoCharacterInTwoAndShowsBytesThatAreNotUTF8(t *testing.T) {
	a := strings.Repeat("a", 96)
	for _, tc := range []struct {
		s    string
		want string
	}{
		{strings.Repeat("\x80", 200), `"` + strings.Repeat(`\x80`, 100) + `"... (200 bytes)`},
		{"ab" + strings.Repeat("\xbf", 200), `"ab` + strings.Repeat(`\xbf`, 98) + `"... (202 bytes)`},
		{a + "aa\U0001F600b", `"` + a + `aa"... (103 bytes)`},        // 😀 at 98-101
		{a + "\U0001F600b", `"` + a + `😀"... (101 bytes)`},           // 😀 ends at the bound
		{a + "aa\xe2\x82bb", `"` + a + `aa\xe2\x82"... (102 bytes)`}, // a character cut short already
	} {
		if got := Cut(tc.s, 100); got != tc.want {
			t.Errorf("Cut(%.40q..., 100) = %s, want %s", tc.s, got, tc.want)
		}
	}
}

func TestNotUTF8NamesTheFirstBadByteOrNothing(t *testing.T) {
	for s, want := range map[string]string{
		"":           "",
		"héllo":      "",
		"k\xff":      "the byte 0xff at 1, not UTF-8",
		"é\xc3(\xff": "the byte 0xc3 at 2, not UTF-8",
	} {
		if got := NotUTF8(s); got != want {
			t.Errorf("NotUTF8(%q) = %q, want %q", s, got, want)
		}
	}
}
