package oauthbearer

import (
	"strings"
	"testing"
)

// An accepted token and extension make a message that splits back into
// exactly them: nothing the caller gives can forge another key=value pair.
func FuzzInitialResponse(f *testing.F) {
	f.Add(jwt, "logicalCluster", "lkc-1")
	f.Add("a b", "auth", "x")
	f.Add("tok", "x", "a\x01b")
	f.Fuzz(func(t *testing.T, token, name, value string) {
		msg, err := initialResponse(Token{Value: token, Extensions: map[string]string{name: value}})
		if err != nil {
			return
		}
		parts := strings.Split(string(msg), kvsep)
		want := []string{"n,,", "auth=Bearer " + token, name + "=" + value, "", ""}
		if len(parts) != len(want) {
			t.Fatalf("message %q has %d parts, want %d", msg, len(parts), len(want))
		}
		for i := range want {
			if parts[i] != want[i] {
				t.Fatalf("part %d is %q, want %q", i, parts[i], want[i])
			}
		}
	})
}
