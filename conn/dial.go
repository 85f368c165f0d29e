package conn

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Dial connects to addr within DialTimeout, negotiates API versions and runs
// cfg.Authenticate. The handshake requests are bounded by ctx and by
// RequestTimeout each. Connection failures wrap ErrDisconnected.
//
// Negotiation sends ApiVersions at the highest version this client speaks.
// A broker that does not speak it answers UNSUPPORTED_VERSION in a v0
// response listing the ApiVersions versions it does speak (KIP-511); Dial
// retries once at the best common one, or at v0, which every broker since
// 0.10 speaks.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	dialCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	nc, err := cfg.Dial(dialCtx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: dialing %s: %w", ErrDisconnected, addr, err)
	}
	c := newConn(nc, addr, cfg)
	if err := c.negotiate(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if cfg.Authenticate != nil {
		if err := cfg.Authenticate(ctx, c); err != nil {
			c.Close()
			return nil, fmt.Errorf("authenticating to %s: %w", addr, err)
		}
	}
	c.log.Debug("kafka connection established", "apis", len(c.versions))
	return c, nil
}

// negotiate runs the ApiVersions exchange and stores the broker's ranges.
func (c *Conn) negotiate(ctx context.Context) error {
	req := &protocol.ApiVersionsRequest{
		ClientSoftwareName:    c.cfg.SoftwareName,
		ClientSoftwareVersion: c.cfg.SoftwareVersion,
	}
	v := protocol.Supported(protocol.ApiVersions).Max
	for retried := false; ; retried = true {
		resp, err := c.RequestVersion(ctx, req, v)
		if err != nil {
			return fmt.Errorf("ApiVersions v%d to %s: %w", v, c.addr, err)
		}
		av := resp.(*protocol.ApiVersionsResponse)
		if av.ErrorCode == 0 {
			c.versions = protocol.NewBrokerVersions(av)
			return nil
		}
		if av.ErrorCode == kerr.UnsupportedVersion.Code && !retried && v > 0 {
			next := protocol.ApiVersionsRetryVersion(av)
			if next >= v {
				next = 0 // the broker contradicts itself; fall back all the way
			}
			c.log.Debug("broker rejected ApiVersions version, retrying", "version", v, "retry", next)
			v = next
			continue
		}
		return fmt.Errorf("ApiVersions v%d to %s: %w", v, c.addr, kerr.ForCode(av.ErrorCode))
	}
}
