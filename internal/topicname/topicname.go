// Package topicname holds the broker's rules for topic names, so that a
// name no broker takes is refused before anything is sent: a record's
// topic by Produce and PartitionsFor, an offset's by
// SendOffsetsToTransaction.
package topicname

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gokafka/producer/internal/badchar"
)

// Check says why the broker would refuse name, or nil if it takes it.
// The error leaves the name out: each caller names the topic, in its own
// words, once.
func Check(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic name")
	case name == "." || name == "..":
		return errors.New(`topic name cannot be "." or ".."`)
	}
	// The characters come before the length: a name that passes is ASCII,
	// so its length in bytes is its length in characters, the unit of
	// Kafka's limit. A non-ASCII name is refused for its first such
	// character, whole, where its bytes were counted as characters and
	// the first shown alone ('é' as 'Ã'); and where it is, as every
	// check of text the user gave names what it refuses (badchar).
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name has %s; allowed are ASCII letters, digits, '.', '_' and '-'", badchar.At(name, i))
		}
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters, the limit is 249", len(name))
	}
	return nil
}

// Quote is name as an error names it: quoted whole if a broker takes it,
// as the errors always named topics; else excerpted (badchar.Excerpt), so
// that a name refused as a megabyte long makes no error as long.
func Quote(name string) string {
	if Check(name) == nil {
		return strconv.Quote(name)
	}
	return badchar.Excerpt(name)
}
