package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// Reading a Java .properties file, as --producer-config does
// (readProperties, properties.go).

// shown is props one per line as name|value|line, for a test to compare.
func shown(props []property) string {
	lines := make([]string, 0, len(props))
	for _, p := range props {
		lines = append(lines, fmt.Sprintf("%s|%s|%d", p.name, p.value, p.line))
	}
	return strings.Join(lines, "\n")
}

// requireReadAs reads each file of cases and compares the settings read,
// shown, with the file's entry.
func requireReadAs(t *testing.T, cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		props, err := readProperties(strings.NewReader(in))
		if err != nil {
			t.Fatalf("readProperties(%q): %v", in, err)
		}
		got := shown(props)
		if got != want {
			t.Errorf("readProperties(%q):\n%s\nwant:\n%s", in, got, want)
		}
	}
}

func TestReadProperties(t *testing.T) {
	in := "# a comment\n! another\n\n  linger.ms = 10\nacks:all\r\nclient.id kprod\\u0021\n" +
		"bootstrap.servers=a:1,\\\n    b:2\nkey\\=with\\:seps=v\\tw\nempty=\n"
	props, err := readProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := shown(props)
	want := []string{"linger.ms|10|4", "acks|all|5", "client.id|kprod!|6", "bootstrap.servers|a:1,b:2|7",
		"key=with:seps|v\tw|9", "empty||10"}
	if got != strings.Join(want, "\n") {
		t.Errorf("properties:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if _, err := readProperties(strings.NewReader("a=\\u12\n")); err == nil {
		t.Error("a malformed \\u escape was accepted")
	}
}

// A character beyond the Basic Multilingual Plane is escaped as a UTF-16
// surrogate pair, which Properties.load reads back as one character; a
// lone surrogate stays what Go makes of it, U+FFFD.
func TestReadPropertiesJoinsASurrogatePair(t *testing.T) {
	for in, want := range map[string]string{
		"client.id=app-\\uD83D\\uDE00\n":   "app-\U0001F600",
		"client.id=app-\\ud83d\\ude00-x\n": "app-\U0001F600-x",
		"client.id=app-\\uD83D-x\n":        "app-\uFFFD-x",
		"client.id=app-\\uD83D\\u0041\n":   "app-\uFFFDA",
		"client.id=app-\\uDE00\\uD83D\n":   "app-\uFFFD\uFFFD",
	} {
		props, err := readProperties(strings.NewReader(in))
		if err != nil || len(props) != 1 || props[0].value != want {
			t.Errorf("readProperties(%q) = %+v, %v; want the value %q", in, props, err, want)
		}
	}
}

// Lines end at \n, \r or \r\n, as Properties.load ends them: a lone \r
// ended none, and "q1=x\rr1=y" was the one setting q1="x\rr1=y". Read a
// byte at a time too, where a \r ends what was read before its \n.
func TestPropertiesLinesEndAtALoneCR(t *testing.T) {
	in := "q1=x\rr1=y\r\ns1=1,\\\r  2\r#c\rt1=z\r"
	want := "q1|x|1\nr1|y|2\ns1|1,2|3\nt1|z|6"
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		props, err := readProperties(r)
		if err != nil {
			t.Fatal(err)
		}
		got := shown(props)
		if got != want {
			t.Errorf("properties:\n%s\nwant:\n%s", got, want)
		}
	}
}

// A line that continues onto a blank line makes an empty logical line,
// which Properties.load skips as it skips a blank line: it was the setting
// "", refused as unknown. A line that a continuation leaves empty reads a
// comment as a line of its own does, and a comment does not continue: it
// was read as a setting named "#" or "!". At the end of the file, where
// Properties.load would keep the setting "" (the Java producer warns that
// it knows no such setting), kprod skips it too.
func TestReadPropertiesSkipsALogicalLineLeftEmptyByItsContinuation(t *testing.T) {
	requireReadAs(t, map[string]string{
		"acks=all\n\\\n\nlinger.ms=5\n":      "acks|all|1\nlinger.ms|5|4",
		"acks=all\n  \\\n   \nlinger.ms=5\n": "acks|all|1\nlinger.ms|5|4",
		"acks=all\n\\\n":                     "acks|all|1",
		"\\\n# a comment\nacks=all\n":        "acks|all|3",
		"acks=all\n  \\\n  ! bang\n":         "acks|all|1",
		"\\\n#c\\\nlinger.ms=5\n":            "linger.ms|5|3",
		"a=1\\\n#x\n":                        "a|1#x|1",
	})
}

// A properties file is often the one the Java clients use, with the SASL
// password in sasl.jaas.config: a malformed \u escape there (a password
// with "\user" in it) is refused naming its line and setting, never
// quoting the value, as Java's Properties.load refuses it ("Malformed
// \uxxxx encoding") without quoting it either.
func TestAMalformedEscapeInAPropertiesFileDoesNotShowTheValue(t *testing.T) {
	file := filepath.Join(t.TempDir(), "client.properties")
	jaas := `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="C:\users\s3cret";`
	if err := os.WriteFile(file, []byte("acks=all\n"+jaas+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runKprod(t, "", "perf", "--brokers", "127.0.0.1:1", "--producer-config", file)
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want exit %d and one line", r.code, r.stderr, exitUsage)
	}
	if strings.Contains(r.stderr, "s3cret") || strings.Contains(r.stderr, "alice") {
		t.Errorf("stderr %q shows the setting's value", r.stderr)
	}
	if !strings.Contains(r.stderr, "line 2") || !strings.Contains(r.stderr, "sasl.jaas.config") {
		t.Errorf("stderr %q does not name line 2 and its setting", r.stderr)
	}
}

// A line continues only when it ends in an odd number of backslashes: an
// even number are escaped backslashes, as in a Windows path, and the line
// ends there. Properties.load reads "dir=C:\\" then "acks=all" as two
// settings, the first C:\.
func TestAnEscapedBackslashAtTheEndOfALineDoesNotContinueIt(t *testing.T) {
	requireReadAs(t, map[string]string{
		"dir=C:\\\\\nacks=all\n":        "dir|C:\\|1\nacks|all|2",
		"dir=C:\\\\\\\\\nacks=all\n":    "dir|C:\\\\|1\nacks|all|2",
		"dir=C:\\\\\\\n  tmp\nacks=1\n": "dir|C:\\tmp|1\nacks|1|3",
	})
}
