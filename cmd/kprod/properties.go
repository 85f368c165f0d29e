package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// property is one name=value pair of a Java .properties file, with its
// line number for error messages.
type property struct {
	name, value string
	line        int
}

// readProperties reads a Java .properties file, as the Java producer's
// --producer.config does (java.util.Properties.load): "name=value",
// "name: value" or "name value"; lines end at \n, \r or \r\n; blank lines
// and lines starting with # or ! are skipped; a line ending in an odd
// number of backslashes continues on the next, whose leading blanks are
// dropped (a lone backslash before a blank line or a comment is skipped
// too); \t \n \r \f \uXXXX and \X (any other character, itself) are
// escapes.
func readProperties(r io.Reader) ([]property, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	sc.Split(scanPropertyLines)
	var props []property
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		first := n
		for continues(line) && sc.Scan() {
			n++
			line = line[:len(line)-1]
			next := strings.TrimLeft(sc.Text(), " \t\f")
			if line == "" && next != "" && (next[0] == '#' || next[0] == '!') {
				// Still empty, the logical line reads a comment as a line
				// of its own does, and a comment does not continue.
				next = ""
			}
			line += next
		}
		if continues(line) {
			line = line[:len(line)-1] // a continuation at the end of the file
		}
		if line == "" {
			// A continuation onto a blank line: Properties.load skips
			// the empty logical line as it skips a blank one.
			continue
		}
		rawName, rawValue := splitProperty(line)
		// The errors name the line and the setting, never quote what was
		// written: a file the Java clients share holds the SASL password
		// in sasl.jaas.config, and Java's own refusal quotes nothing.
		name, err := unescapeProperty(rawName)
		if err != nil {
			return nil, fmt.Errorf("line %d: the setting's name: %w", first, err)
		}
		value, err := unescapeProperty(rawValue)
		if err != nil {
			return nil, fmt.Errorf("line %d: the value of %q: %w", first, name, err)
		}
		props = append(props, property{name: name, value: value, line: first})
	}
	return props, sc.Err()
}

// scanPropertyLines is a bufio.SplitFunc for the lines of a properties
// file: Properties.load ends a line at \n, \r or \r\n, where bufio.ScanLines
// does not end one at a lone \r (a file from a classic Mac, or one a tool
// wrote with \r alone, would read "a=1\rb=2" as one setting).
func scanPropertyLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil // the last line, without an end
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil // \r\n
	case i+1 < len(data) || atEOF:
		return i + 1, data[:i], nil // a lone \r
	}
	return 0, nil, nil // a \r at the end of what was read: a \n may follow
}

// continues reports whether a line ends in an odd number of backslashes.
func continues(line string) bool {
	k := len(line) - len(strings.TrimRight(line, `\`))
	return k%2 == 1
}

// splitProperty splits a logical line at the first unescaped '=', ':' or
// blank, skipping the blanks around the separator.
func splitProperty(line string) (name, value string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	i = min(i, len(line))
	name, rest := line[:i], strings.TrimLeft(line[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return name, rest
}

// hex4 reads the four hex digits of a \u escape at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	r, err := strconv.ParseUint(s[i:i+4], 16, 16)
	return rune(r), err == nil
}

// unescapeProperty resolves the escapes of a properties file.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", errors.New(`malformed \u escape: want four hex digits after \u`)
			}
			i += 4
			// Java's strings are UTF-16: a character beyond the Basic
			// Multilingual Plane is written as two escapes, a surrogate
			// pair, which Properties.load reads back as that one character.
			if utf16.IsSurrogate(r) && strings.HasPrefix(s[i+1:], `\u`) {
				if low, ok := hex4(s, i+3); ok {
					if pair := utf16.DecodeRune(r, low); pair != unicode.ReplacementChar {
						r = pair
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
