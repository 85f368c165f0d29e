package conn

import (
	"context"
	"errors"
	"testing"

	"github.com/gokafka/producer/protocol"
)

// FuzzConnAnswer answers a Metadata request, sent at a version sel picks,
// with whatever the fuzzer writes: a well-framed response whose body is
// data, or, when not framed, data alone on the stream and then the end of
// the connection, so that the size prefix and the header are the fuzzer's
// too. The request must get exactly one outcome, never a panic on the
// reader goroutine (nothing would recover it). A body that does not decode
// must fail its request with a *protocol.DecodeError naming Metadata, the
// version sent and an offset inside data, which is what the user reads,
// and leave the connection usable, since the frame was read whole: a
// second request on it is answered. Anything else on a stream fails the
// connection (ErrDisconnected).
func FuzzConnAnswer(f *testing.F) {
	r := protocol.Supported(protocol.Metadata)
	maxSel := byte(r.Max - r.Min) // sel for the highest version
	const corr = 1                // the first request after ApiVersions
	f.Add(maxSel, true, metadataResponse().AppendTo(nil, r.Max))
	f.Add(byte(0), true, metadataResponse().AppendTo(nil, r.Min))
	f.Add(maxSel, true, []byte{})
	f.Add(maxSel, false, responseFrame(corr, protocol.Metadata, r.Max, metadataResponse().AppendTo(nil, r.Max)))
	f.Add(byte(0), false, []byte{0, 0, 0, 4, 0, 0, 0, corr})
	f.Add(byte(0), false, []byte("HTTP/1.1 400 Bad Request"))
	f.Fuzz(func(t *testing.T, sel byte, framed bool, data []byte) {
		v := r.Min + int16(int(sel)%int(r.Max-r.Min+1))
		pl := newPipeListener()
		fb := newFakeBrokerOn(t, pl)
		c := dial(t, fb, Config{Dial: pl.dial})
		bc := fb.conn(t)

		first := newOutcome()
		c.SendVersion(context.Background(), metadataRequest(), v, first.done)
		req := bc.next(t)
		if framed {
			bc.replyRaw(req.corr, req.api, req.version, data)
		} else {
			bc.write(data)
			bc.nc.Close()
		}
		res := first.wait(t, "the request")
		if res.err != nil {
			var de *protocol.DecodeError
			if errors.As(res.err, &de) {
				if de.API != protocol.Metadata || de.Version != v || de.Offset < 0 || de.Offset > len(data) {
					t.Fatalf("v%d, %d bytes: error names %s v%d at byte %d: %v", v, len(data), de.API, de.Version, de.Offset, res.err)
				}
			} else if framed || !errors.Is(res.err, ErrDisconnected) {
				t.Fatalf("v%d, %d bytes (framed %v): %v", v, len(data), framed, res.err)
			}
		} else if res.resp == nil {
			t.Fatalf("v%d: neither an error nor a response", v)
		}

		if framed {
			second := newOutcome()
			c.SendVersion(context.Background(), metadataRequest(), v, second.done)
			bc.reply(bc.next(t), metadataResponse())
			if res := second.wait(t, "the request after it"); res.err != nil {
				t.Fatalf("v%d: the connection is unusable after the answer: %v", v, res.err)
			}
		}
		c.Close()
		if n := first.calls.Load(); n != 1 {
			t.Fatalf("v%d: the request had %d outcomes", v, n)
		}
	})
}
