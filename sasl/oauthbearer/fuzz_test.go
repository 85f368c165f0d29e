package oauthbearer

import (
	"regexp"
	"strings"
	"testing"
)

// brokerResponse is the client response as Kafka's broker parses it
// (OAuthBearerClientInitialResponse), the whole message matched: its
// saslname, [\x01-\x7F&&[^=,]] in Java's syntax, is written as ranges here.
var brokerResponse = regexp.MustCompile(`^n,(?:a=((?:[\x01-\x2B\x2D-\x3C\x3E-\x7F]|=2C|=3D)+))?,` + kvsep +
	`((?:[A-Za-z]+=[\x21-\x7E \t\r\n]+` + kvsep + `)*)` + kvsep + `$`)

// brokerSaslname is the authzid the broker's pattern takes.
var brokerSaslname = regexp.MustCompile(`^(?:[\x01-\x2B\x2D-\x3C\x3E-\x7F]|=2C|=3D)+$`)

// An accepted token, extension and authzid make a message that the broker
// parses back into exactly them: nothing the caller gives can forge another
// key=value pair or move the authzid's end. An authzid the broker reads
// alike is accepted, save one with the escapes it leaves undecoded.
func FuzzInitialResponse(f *testing.F) {
	f.Add(jwt, "logicalCluster", "lkc-1", "")
	f.Add("a b", "auth", "x", "")
	f.Add("tok", "x", "a\x01b", "")
	f.Add(jwt, "x", "y", "user-1")
	f.Add(jwt, "x", "y", "a\x01auth=Bearer x\x01")
	f.Add(jwt, "x", "y", "a,b")
	f.Add(jwt, "x", "y", "a=2Cb")
	f.Add(jwt, "x", "y", "jos\u00e9")
	f.Add(jwt, "x", "y", "a\x00b")
	f.Fuzz(func(t *testing.T, token, name, value, authzid string) {
		ext := map[string]string{name: value}
		if _, err := initialResponse(Token{Value: token, Extensions: ext}); err != nil {
			return // the token or the extension is refused, whatever the authzid
		}
		msg, err := initialResponse(Token{Value: token, Extensions: ext, AuthzID: authzid})
		if err != nil {
			if authzid == "" || brokerSaslname.MatchString(authzid) && !strings.Contains(authzid, "=") {
				t.Fatalf("authzid %q, which the broker reads as it is, refused: %v", authzid, err)
			}
			return
		}
		m := brokerResponse.FindStringSubmatch(string(msg))
		if m == nil {
			t.Fatalf("message %q (authzid %q) does not match the broker's pattern", msg, authzid)
		}
		if m[1] != authzid {
			t.Fatalf("the broker reads the authzid %q, want %q", m[1], authzid)
		}
		parts := strings.Split(m[2], kvsep)
		want := []string{"auth=Bearer " + token, name + "=" + value, ""}
		if len(parts) != len(want) {
			t.Fatalf("key=value pairs %q have %d parts, want %d", m[2], len(parts), len(want))
		}
		for i := range want {
			if parts[i] != want[i] {
				t.Fatalf("part %d is %q, want %q", i, parts[i], want[i])
			}
		}
	})
}
