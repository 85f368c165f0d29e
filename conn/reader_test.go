package conn

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol"
)

// A size prefix that the bytes after it do not live up to (a corrupt
// stream, a broken proxy, a hostile peer) costs the client what arrived,
// not what was announced. Before, the reader allocated the announced
// 100 MiB at once and held it until RequestTimeout if the peer stalled. The
// peer here hangs up after its few bytes, so that the test can see what the
// reader allocated for them; a stall holds the same.
func TestAResponseThatStopsShortOfItsSizeCostsOnlyWhatArrived(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	o := newOutcome()
	c.Send(context.Background(), metadataRequest(), o.done)
	bc.next(t)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var frame [14]byte // the size prefix and 10 bytes of the body
	binary.BigEndian.PutUint32(frame[:], MaxResponseSize)
	bc.write(frame[:])
	bc.nc.Close()
	res := o.wait(t, "request answered by a response cut short")
	runtime.ReadMemStats(&after)

	want := fmt.Sprintf("reading a %d-byte response from", MaxResponseSize)
	if !errors.Is(res.err, ErrDisconnected) || !strings.Contains(res.err.Error(), want) {
		t.Fatalf("error %v, want ErrDisconnected %s", res.err, want)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("14 bytes from the broker cost the client %d MiB", grew>>20)
	}
}

// A frame is read whole and exactly, whether it fits the bound allocated at
// once or grows past it as its bytes arrive in pieces; a frame within the
// bound costs one allocation, as before.
func TestAFrameIsReadWholeAboveAndBelowTheUpfrontBound(t *testing.T) {
	for _, n := range []int{4, maxUpfrontFrame - 1, maxUpfrontFrame, maxUpfrontFrame + 1, 3*maxUpfrontFrame + 5} {
		sent := make([]byte, n)
		for i := range sent {
			sent[i] = byte(i * 7)
		}
		// Pieces of an odd size, so that reads straddle every growth.
		got, err := readResponseFrame(&piecewise{r: bytes.NewReader(sent), piece: 64<<10 + 3}, n)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, sent) || cap(got) != n {
			t.Errorf("%d bytes: read %d bytes (cap %d), not the frame sent", n, len(got), cap(got))
		}
	}
	small := make([]byte, 600)
	r := bytes.NewReader(small)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(small)
		if _, err := readResponseFrame(r, len(small)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("a %d-byte frame cost %v allocations, want 1", len(small), allocs)
	}
}

// A frame cut short fails as io.ReadFull would have over the whole frame:
// io.EOF if nothing of the body came, io.ErrUnexpectedEOF if some did,
// however many pieces had been read.
func TestAFrameCutShortFailsAsAWholeRead(t *testing.T) {
	n := 3 * maxUpfrontFrame
	for _, tc := range []struct {
		arrived int
		want    error
	}{{0, io.EOF}, {10, io.ErrUnexpectedEOF}, {maxUpfrontFrame, io.ErrUnexpectedEOF}, {n - 1, io.ErrUnexpectedEOF}} {
		_, err := readResponseFrame(bytes.NewReader(make([]byte, tc.arrived)), n)
		if err != tc.want {
			t.Errorf("%d of %d bytes: error %v, want %v", tc.arrived, n, err, tc.want)
		}
	}
}

// piecewise hands out what r holds at most piece bytes a read, as a
// socket does.
type piecewise struct {
	r     io.Reader
	piece int
}

func (p *piecewise) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.piece)]) }

// A response whose decoder panics (a bug no fuzzing found) fails its own
// request with an error naming the API and version; the connection, still
// in step since the frame was read whole, serves the next request. Before,
// the panic, on the reader goroutine where nothing can recover it, ended
// the process.
func TestAResponseWhoseDecoderPanicsFailsOnlyItsRequest(t *testing.T) {
	fb := newFakeBroker(t)
	var log bytes.Buffer
	c := dial(t, fb, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	bc := fb.conn(t)
	v, _ := c.Version(protocol.Metadata)
	o := newOutcome()
	c.Send(context.Background(), panickingRequest{metadataRequest()}, o.done)
	bc.reply(bc.next(t), metadataResponse())

	res := o.wait(t, "request whose response's decoder panics")
	if res.err == nil || res.resp != nil {
		t.Fatalf("got %v, %v; want an error", res.resp, res.err)
	}
	if !errors.Is(res.err, errDecoderPanicked) || IsRetriable(res.err) {
		t.Errorf("error %v, want errDecoderPanicked, not retriable", res.err)
	}
	for _, want := range []string{fmt.Sprintf("Metadata v%d", v), "panicked", errDecoderBug.Error()} {
		if !strings.Contains(res.err.Error(), want) {
			t.Errorf("error %q does not mention %q", res.err, want)
		}
	}
	if errors.Is(res.err, errDecoderBug) {
		t.Errorf("error %v wraps the panic's value, which could be anything", res.err)
	}
	// The log line was written before the request failed.
	if !strings.Contains(log.String(), "stack=") {
		t.Errorf("the log does not give the panic's stack: %s", log.String())
	}

	ok := newOutcome()
	c.Send(context.Background(), metadataRequest(), ok.done)
	bc.reply(bc.next(t), metadataResponse())
	if res := ok.wait(t, "request after a decoder's panic"); res.err != nil {
		t.Fatalf("connection unusable after a decoder's panic: %v", res.err)
	}
}

var errDecoderBug = errors.New("index out of range [7] with length 3")

// panickingRequest is a Metadata request whose response's decoder panics.
type panickingRequest struct{ *protocol.MetadataRequest }

func (panickingRequest) ResponseKind() protocol.Response { return new(panickingResponse) }

type panickingResponse struct{ protocol.MetadataResponse }

func (*panickingResponse) ReadFrom([]byte, int16) error { panic(errDecoderBug) }
