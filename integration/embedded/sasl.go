package embedded

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AnswerWrongPlainPasswords makes the cluster answer a SASL PLAIN
// authentication whose password is not password as Kafka does, with
// SASL_AUTHENTICATION_FAILED and a message; kfake itself just closes the
// connection, which a client cannot tell from a network failure. Other
// mechanisms and the right password go on to kfake's own handling.
func (c *Cluster) AnswerWrongPlainPasswords(password string) {
	c.fake.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.fake.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		parts := bytes.Split(r.SASLAuthBytes, []byte{0}) // authzid NUL user NUL password
		if len(parts) != 3 || string(parts[2]) == password {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr("Authentication failed: Invalid username or password")
		return resp, nil, true
	})
}
