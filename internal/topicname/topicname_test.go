package topicname

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckTakesWhatTheBrokerTakesAndSaysWhyNot(t *testing.T) {
	for _, name := range []string{"t", "a.b_c-D9", strings.Repeat("a", 249), "..."} {
		require.NoError(t, Check(name), "%q", name)
	}
	for name, why := range map[string]string{
		"":                       "empty topic name",
		".":                      `topic name "." is not allowed`,
		"..":                     `topic name ".." is not allowed`,
		strings.Repeat("a", 250): "topic name is 250 characters, the limit is 249",
		"a/b":                    `topic name "a/b" has '/'`,
		"a b":                    `topic name "a b" has ' '`,
	} {
		require.ErrorContains(t, Check(name), why, "%q", name)
	}
}
