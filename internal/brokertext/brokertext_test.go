package brokertext

import (
	"strings"
	"testing"
)

func TestQuoteEscapesControlCharacters(t *testing.T) {
	if got, want := Quote("\x1b[2J\nok"), `"\x1b[2J\nok"`; got != want {
		t.Errorf("Quote = %s, want %s", got, want)
	}
}

// Text up to the bound is shown whole; longer text is cut at a character's
// start, saying how long it was.
func TestQuoteCutsLongText(t *testing.T) {
	whole := strings.Repeat("a", maxShown)
	if got := Quote(whole); got != `"`+whole+`"` {
		t.Errorf("Quote of %d bytes cut: %.40s...", len(whole), got)
	}
	long := strings.Repeat("a", maxShown-1) + "é" + strings.Repeat("b", 1<<20)
	got := Quote(long)
	want := `"` + strings.Repeat("a", maxShown-1) + `"... (1049089 bytes)`
	if got != want {
		t.Errorf("Quote of %d bytes = %.40q...%q, want it cut before the é", len(long), got, got[len(got)-30:])
	}
}

// A topic name a broker takes is shown as it is; any other is the broker's
// own text, and quoted.
func TestTopicQuotesOnlyWhatIsNoTopicName(t *testing.T) {
	for name, want := range map[string]string{
		"orders.v2_a-b":          "orders.v2_a-b",
		"t\n\x1b[2J":             `"t\n\x1b[2J"`,
		"a b":                    `"a b"`,
		strings.Repeat("a", 250): `"` + strings.Repeat("a", 250) + `"`,
	} {
		if got := Topic(name); got != want {
			t.Errorf("Topic(%.40q) = %.60s, want %.60s", name, got, want)
		}
	}
}

// A host a resolver may take is used as it came; any other, which no
// resolver takes, is quoted and cut.
func TestHostPortQuotesOnlyWhatNoResolverTakes(t *testing.T) {
	long := strings.Repeat("h", 600)
	for host, want := range map[string]string{
		"b1.example":             "b1.example:9092",
		"::1":                    "[::1]:9092",
		"fe80::1%eth0":           "[fe80::1%eth0]:9092",
		"bücher.example":         "bücher.example:9092",
		"b1\n\x1b[2J":            `"b1\n\x1b[2J":9092`,
		"b1\xff":                 `"b1\xff":9092`,
		"b\u202e1":               `"b\u202e1":9092`,
		strings.Repeat("h", 255): strings.Repeat("h", 255) + ":9092",
		long:                     `"` + strings.Repeat("h", 512) + `"... (600 bytes):9092`,
	} {
		if got := HostPort(host, 9092); got != want {
			t.Errorf("HostPort(%.40q) = %.60s, want %.60s", host, got, want)
		}
	}
}
