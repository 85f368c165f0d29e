package topicname

import (
	"strings"
	"testing"

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
		"a/b":                    `topic name has '/'`,
		"a b":                    `topic name has ' '`,
	} {
		err := Check(name)
		require.ErrorContains(t, err, why, "%q", name)
		if len(name) > 2 {
			require.NotContains(t, err.Error(), name)
		}
	}
}
