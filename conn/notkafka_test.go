package conn

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A peer that answers with another protocol is called what it is, not
// "a response size of 1213486160 bytes".
func TestAnswerFromSomethingNotKafka(t *testing.T) {
	for _, tc := range []struct {
		name, answer, want string
	}{
		{"an HTTP server", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", `text beginning "HTTP`},
		{"a TLS listener", "\x15\x03\x03\x00\x02\x02\x46", "TLS record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBroker(t)
			c := dial(t, fb, Config{})
			bc := fb.conn(t)
			o := newOutcome()
			c.Send(context.Background(), metadataRequest(), o.done)
			bc.next(t)
			bc.write([]byte(tc.answer))
			res := o.wait(t, "request answered by "+tc.name)
			if !errors.Is(res.err, ErrNotKafka) || !errors.Is(res.err, ErrDisconnected) {
				t.Fatalf("error %v, want ErrNotKafka and ErrDisconnected", res.err)
			}
			if !strings.Contains(res.err.Error(), tc.want) || strings.Contains(res.err.Error(), "response size") {
				t.Errorf("error %q, want it to say %q", res.err, tc.want)
			}
		})
	}
}
