package conn

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
)

// TestStuckWriteTimesOut covers a broker that stops reading: a write then
// blocks for good, and only the request timeout can end it. net.Pipe has no
// buffer, so a write blocks until the other side reads, which after the
// handshake it never does.
func TestStuckWriteTimesOut(t *testing.T) {
	for _, acks := range []int16{-1, 0} {
		t.Run(map[int16]string{-1: "acks=all", 0: "acks=0"}[acks], func(t *testing.T) {
			fake := clock.NewFake(time.Unix(1000, 0))
			client, server := net.Pipe()
			defer server.Close()
			go answerHandshakeOnly(t, server)
			cfg := Config{Clock: fake, RequestTimeout: time.Second,
				Dial: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
			c, err := Dial(context.Background(), "pipe", cfg)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()

			o := newOutcome()
			go c.SendVersion(context.Background(), &protocol.ProduceRequest{Acks: acks, TimeoutMs: 1}, 9, o.done)
			// Advance until the watcher, whose timer the blocked write arms,
			// gives up on it; each step is a full timeout, so the first one
			// after the write began suffices.
			deadline := time.Now().Add(waitTime)
			for {
				fake.Advance(time.Second)
				select {
				case res := <-o.ch:
					if !errors.Is(res.err, ErrRequestTimeout) || !IsRetriable(res.err) {
						t.Fatalf("stuck write ended with %v, want a retriable ErrRequestTimeout", res.err)
					}
					waitClosed(t, c.Done(), "Done after a stuck write")
					return
				case <-time.After(5 * time.Millisecond): // paces the fake clock only
				}
				if time.Now().After(deadline) {
					t.Fatal("a stuck write never timed out")
				}
			}
		})
	}
}

// answerHandshakeOnly answers the ApiVersions request on a pipe and then
// stops reading.
func answerHandshakeOnly(t *testing.T, nc net.Conn) {
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, frame); err != nil {
		return
	}
	_, v, corr, _, _, err := protocol.ReadRequestHeader(frame)
	if err != nil {
		t.Errorf("handshake request: %v", err)
		return
	}
	resp := &protocol.ApiVersionsResponse{ApiKeys: allVersions(), FinalizedFeaturesEpoch: -1}
	nc.Write(responseFrame(corr, protocol.ApiVersions, v, resp.AppendTo(nil, v)))
}
