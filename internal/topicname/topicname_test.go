package topicname

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Check's reason leaves the name out, which its callers name.
func TestCheckTakesWhatTheBrokerTakesAndSaysWhyNot(t *testing.T) {
	for _, name := range []string{"t", "a.b_c-D9", strings.Repeat("a", 249), "..."} {
		require.NoError(t, Check(name), "%q", name)
	}
	for name, why := range map[string]string{
		"":                       "empty topic name",
		".":                      `topic name cannot be "." or ".."`,
		"..":                     `topic name cannot be "." or ".."`,
		strings.Repeat("a", 250): "topic name is 250 characters, the limit is 249",
		"a/b":                    `topic name has '/' at 1;`,
		"a b":                    `topic name has ' ' at 1;`,
	} {
		err := Check(name)
		require.ErrorContains(t, err, why, "%q", name)
		if len(name) > 2 {
			require.NotContains(t, err.Error(), name)
		}
	}
}

// A name that is not ASCII is refused for its first such character, shown
// whole, and where it is: the reason showed the character's first byte
// alone ("has 'Ã'" for "é"), and a name of 125 'é' was "250 characters",
// its bytes, where Kafka, which counts characters, refuses it for the
// characters.
func TestCheckShowsTheCharacterItRefuses(t *testing.T) {
	for name, why := range map[string]string{
		"é":                      `topic name has 'é' at 0; allowed are`,
		"topic-日本":               `topic name has '日' at 6;`,
		strings.Repeat("é", 125): `topic name has 'é' at 0;`,
		strings.Repeat("é", 250): `topic name has 'é' at 0;`,
		"a\xffb":                 `topic name has the byte 0xff at 1, not UTF-8;`,
		"a\tb":                   `topic name has '\t' at 1;`,
		strings.Repeat("a", 300): "topic name is 300 characters, the limit is 249",
	} {
		assert.ErrorContains(t, Check(name), why, "%q", name)
	}
}

// A name a broker takes is quoted whole, the longest too; a refused one
// of a megabyte by its start and length.
func TestQuoteCutsOnlyARefusedName(t *testing.T) {
	for _, name := range []string{"t", "a/b", "", strings.Repeat("a", 249)} {
		assert.Equal(t, strconv.Quote(name), Quote(name))
	}
	assert.Equal(t, `"`+strings.Repeat("a", 100)+`"... (1048576 bytes)`, Quote(strings.Repeat("a", 1<<20)))
}
