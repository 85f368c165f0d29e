package producer

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/internal/testcerts"
)

// stallingTLSProxy ends TLS for the producer's connections and relays them
// to a fake broker, which speaks none. The producer's side of each is a
// net.Pipe, which buffers nothing: once stalled, the proxy reads nothing
// more from the producer, which then can write nothing more, as with a
// broker whose socket buffers are full.
type stallingTLSProxy struct {
	ca  *testcerts.CA
	cfg *tls.Config

	mu    sync.Mutex
	ends  []net.Conn // the proxy's pipe ends
	conns []net.Conn // every pipe end and upstream connection
	wg    sync.WaitGroup
}

func newStallingTLSProxy(t *testing.T) *stallingTLSProxy {
	t.Helper()
	ca, err := testcerts.NewCA("producer test CA", time.Hour)
	require.NoError(t, err)
	cert, err := ca.Issue(testcerts.Valid("broker", time.Hour, "127.0.0.1"))
	require.NoError(t, err)
	p := &stallingTLSProxy{ca: ca, cfg: &tls.Config{Certificates: []tls.Certificate{cert}}}
	t.Cleanup(p.close)
	return p
}

// clientConfig is the producer's TLS configuration, trusting the proxy.
func (p *stallingTLSProxy) clientConfig() *tls.Config { return &tls.Config{RootCAs: p.ca.Pool()} }

func (p *stallingTLSProxy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	upstream, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	client, end := net.Pipe()
	p.mu.Lock()
	p.ends = append(p.ends, end)
	p.conns = append(p.conns, end, client, upstream)
	p.mu.Unlock()
	ts := tls.Server(end, p.cfg)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		io.Copy(ts, upstream)
	}()
	go func() {
		defer p.wg.Done()
		io.Copy(upstream, ts) // until stall's deadline ends the read
	}()
	return client, nil
}

// stall stops reading from the producer: a read in progress ends at its
// deadline, before it takes anything more.
func (p *stallingTLSProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, end := range p.ends {
		end.SetReadDeadline(time.Now())
	}
}

func (p *stallingTLSProxy) close() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Closing a TLS connection sends a close_notify alert, which crypto/tls
// gives 5s to be written: a broker that had stopped reading held Close
// that long for each connection to it, one after the other, whatever
// Close's ctx. Close must end within its ctx and within closeWithin, both
// under those 5s, so that they catch the bug, and far above what Close
// takes without it, so that a loaded machine does not fail the test.
func TestCloseDoesNotWaitForACloseNotifyTheBrokerDoesNotRead(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	proxy := newStallingTLSProxy(t)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Dialer = proxy
		cfg.TLS = proxy.clientConfig()
	})
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
	proxy.stall()

	const closeCtxTimeout, closeWithin = 3 * time.Second, 4 * time.Second
	closeCtx, cancel := context.WithTimeout(context.Background(), closeCtxTimeout)
	defer cancel()
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- p.Close(closeCtx) }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(closeWithin):
		select {
		case <-closed:
		case <-time.After(waitFor):
		}
		t.Fatalf("Close, with a ctx of %v, took %v", closeCtxTimeout, time.Since(start).Round(time.Millisecond))
	}
}
