package main

import (
	"fmt"
	"strings"
	"testing"
)

// A line continues only when it ends in an odd number of backslashes: an
// even number are escaped backslashes, as in a Windows path, and the line
// ends there. Properties.load reads "dir=C:\\" then "acks=all" as two
// settings, the first C:\.
func TestAnEscapedBackslashAtTheEndOfALineDoesNotContinueIt(t *testing.T) {
	for in, want := range map[string]string{
		"dir=C:\\\\\nacks=all\n":        "dir|C:\\|1\nacks|all|2",
		"dir=C:\\\\\\\\\nacks=all\n":    "dir|C:\\\\|1\nacks|all|2",
		"dir=C:\\\\\\\n  tmp\nacks=1\n": "dir|C:\\tmp|1\nacks|1|3",
	} {
		props, err := readProperties(strings.NewReader(in))
		if err != nil {
			t.Fatalf("readProperties(%q): %v", in, err)
		}
		var got []string
		for _, p := range props {
			got = append(got, fmt.Sprintf("%s|%s|%d", p.name, p.value, p.line))
		}
		if strings.Join(got, "\n") != want {
			t.Errorf("readProperties(%q):\n%s\nwant:\n%s", in, strings.Join(got, "\n"), want)
		}
	}
}
