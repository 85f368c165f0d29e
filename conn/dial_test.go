package conn

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestDialNegotiatesVersions(t *testing.T) {
	fb := newFakeBroker(t)
	// The fake broker runs on its own goroutines; a channel carries what it
	// saw to the test.
	seenCh := make(chan request, 4)
	fb.apiVersions = func(bc *brokerConn, r request) {
		seenCh <- r
		answerApiVersions([]protocol.ApiVersionsResponseKey{
			{ApiKey: int16(protocol.ApiVersions), MinVersion: 0, MaxVersion: 4},
			{ApiKey: int16(protocol.Produce), MinVersion: 0, MaxVersion: 9},   // we speak 3-12
			{ApiKey: int16(protocol.Metadata), MinVersion: 0, MaxVersion: 99}, // a future broker
			{ApiKey: int16(protocol.InitProducerId), MinVersion: 9, MaxVersion: 12},
		})(bc, r)
	}
	c := dial(t, fb, Config{ClientID: "tester", SoftwareName: "sw", SoftwareVersion: "1.2"})
	close(seenCh)
	var seen []request
	for r := range seenCh {
		seen = append(seen, r)
	}

	if len(seen) != 1 || seen[0].version != protocol.Supported(protocol.ApiVersions).Max {
		t.Fatalf("ApiVersions requests %+v, want one at our highest version", seen)
	}
	if seen[0].clientID == nil || *seen[0].clientID != "tester" {
		t.Errorf("client id %v, want tester", seen[0].clientID)
	}
	var req protocol.ApiVersionsRequest
	if err := req.ReadFrom(seen[0].body, seen[0].version); err != nil {
		t.Fatalf("decoding our ApiVersions request: %v", err)
	}
	if req.ClientSoftwareName != "sw" || req.ClientSoftwareVersion != "1.2" {
		t.Errorf("software %q %q, want sw 1.2", req.ClientSoftwareName, req.ClientSoftwareVersion)
	}

	for api, want := range map[protocol.APIKey]int16{protocol.Produce: 9, protocol.Metadata: protocol.Supported(protocol.Metadata).Max} {
		if v, err := c.Version(api); err != nil || v != want {
			t.Errorf("Version(%s) = %d, %v; want %d", api, v, err, want)
		}
	}
	for _, api := range []protocol.APIKey{protocol.InitProducerId, protocol.FindCoordinator} {
		_, err := c.Version(api)
		var ve *protocol.VersionError
		if !errors.As(err, &ve) || ve.API != api {
			t.Errorf("Version(%s) error %v, want a *protocol.VersionError naming it", api, err)
		}
	}
}

func TestDialFallsBackWhenApiVersionsIsUnsupported(t *testing.T) {
	tests := []struct {
		name      string
		listed    []protocol.ApiVersionsResponseKey // in the UNSUPPORTED_VERSION answer
		wantRetry int16
	}{
		{"retries at the version the broker names", []protocol.ApiVersionsResponseKey{{ApiKey: int16(protocol.ApiVersions), MinVersion: 0, MaxVersion: 2}}, 2},
		{"retries at v0 when the broker names none", nil, 0},
		// A broker naming the very version it refused contradicts itself;
		// retried there, the dial would fail where v0 succeeds.
		{"retries at v0 when the broker names the version it refused", []protocol.ApiVersionsResponseKey{{ApiKey: int16(protocol.ApiVersions), MinVersion: 0, MaxVersion: protocol.Supported(protocol.ApiVersions).Max}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBroker(t)
			sent := make(chan int16, 4)
			fb.apiVersions = func(bc *brokerConn, r request) {
				sent <- r.version
				if r.version > tc.wantRetry {
					// An old broker answers in v0 whatever was asked.
					resp := &protocol.ApiVersionsResponse{ErrorCode: kerr.UnsupportedVersion.Code, ApiKeys: tc.listed}
					bc.replyRaw(r.corr, r.api, r.version, resp.AppendTo(nil, 0))
					return
				}
				answerApiVersions(allVersions())(bc, r)
			}
			c := dial(t, fb, Config{})
			close(sent)
			var versions []int16
			for v := range sent {
				versions = append(versions, v)
			}
			if len(versions) != 2 || versions[1] != tc.wantRetry {
				t.Fatalf("ApiVersions sent at %v, want a retry at v%d", versions, tc.wantRetry)
			}
			if _, err := c.Version(protocol.Produce); err != nil {
				t.Errorf("Version(Produce) after fallback: %v", err)
			}
		})
	}
}

func TestDialFailsOnApiVersionsError(t *testing.T) {
	fb := newFakeBroker(t)
	fb.apiVersions = func(bc *brokerConn, r request) {
		bc.reply(r, &protocol.ApiVersionsResponse{ErrorCode: kerr.InvalidRequest.Code, FinalizedFeaturesEpoch: -1})
	}
	_, err := Dial(context.Background(), fb.addr(), Config{})
	if !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("Dial error %v, want INVALID_REQUEST", err)
	}
	waitNoConnGoroutines(t, "after a failed Dial")
}

func TestDialFailureIsRetriable(t *testing.T) {
	fb := newFakeBroker(t)
	addr := fb.addr()
	fb.close() // nothing listens there now
	_, err := Dial(context.Background(), addr, Config{})
	if !errors.Is(err, ErrDisconnected) || !IsRetriable(err) {
		t.Fatalf("Dial to a closed port: %v, want a retriable ErrDisconnected", err)
	}
}

// The connection setup timeout runs on Config.Clock, as every other
// timeout of the connection does (RequestTimeout, SASL's steps, the
// reconnect backoff): a dial that never completes fails once that clock
// has passed DialTimeout, as no answer within the setup timeout. It ran on
// the wall clock, which a test on the fake clock cannot move.
func TestTheConnectionSetupTimeoutRunsOnTheConfiguredClock(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	dialing := make(chan struct{})
	cfg := Config{
		Clock:       fake,
		DialTimeout: 10 * time.Second,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			close(dialing)
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	dialPastTheSetupTimeout(t, fake, cfg, dialing)
}

// dialPastTheSetupTimeout dials with cfg, whose Dial closes dialing as it
// starts, moves fake past DialTimeout, and checks that the dial then fails
// as one with no answer within the setup timeout, within waitTime of wall
// time.
func dialPastTheSetupTimeout(t *testing.T, fake *clock.Fake, cfg Config, dialing <-chan struct{}) {
	t.Helper()
	failed := make(chan error, 1)
	go func() {
		_, err := Dial(context.Background(), "127.0.0.1:9", cfg)
		failed <- err
	}()
	<-dialing
	fake.Advance(cfg.DialTimeout)
	select {
	case err := <-failed:
		if !errors.Is(err, ErrDisconnected) || !errors.Is(err, os.ErrDeadlineExceeded) ||
			!strings.Contains(err.Error(), "no answer within the connection setup timeout (10s)") {
			t.Fatalf("dial failed with %v; want no answer within the connection setup timeout", err)
		}
	case <-time.After(waitTime):
		t.Fatalf("the clock passed DialTimeout and the dial still waited after %v of wall time", waitTime)
	}
}

// A Dialer that ignores its ctx (an SSH tunnel's Dial, which takes none)
// fails the dial at DialTimeout all the same, as one that watches it does,
// and the connection it makes after that is closed rather than leaked.
// Before, the dial waited for the Dialer, and with it the Broker's Close,
// and so the producer's.
func TestADialerThatIgnoresItsCtxFailsTheDialAtTheSetupTimeout(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	dialing := make(chan struct{})
	release := make(chan struct{})
	client, server := net.Pipe()
	t.Cleanup(func() { server.Close() })
	cfg := Config{
		Clock:       fake,
		DialTimeout: 10 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			close(dialing)
			<-release
			return client, nil
		},
	}
	dialPastTheSetupTimeout(t, fake, cfg, dialing)
	close(release)
	assertClosed(t, server, "the connection the Dialer made after the dial gave up")
}

// A Dialer that returns tls.DialWithDialer's results as they come gives a
// nil *tls.Conn beside its error: the dial fails with the error, retriably,
// and leaves that non-connection alone. A version that closed whatever
// came beside an error dereferenced it, and the panic ended the process.
func TestADialerReturningANilTLSConnWithItsErrorFailsTheDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the dial is refused
	cfg := Config{
		DialTimeout: 10 * time.Second,
		Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{}, network, addr, &tls.Config{})
		},
	}
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("the dial panicked: %v", v)
		}
	}()
	_, err = Dial(context.Background(), addr, cfg)
	if !IsRetriable(err) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("dial failed with %v; want a retriable connection refused", err)
	}
}

// assertClosed fails t unless the far end of server was closed: a read
// finds EOF, within waitTime.
func assertClosed(t *testing.T, server net.Conn, what string) {
	t.Helper()
	server.SetReadDeadline(time.Now().Add(waitTime))
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: read %v, want EOF as it is closed", what, err)
	}
}
