package producer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// cutOffDialer dials normally until refuseAll, which closes every
// connection it made and refuses every later dial, as crypto/tls does for
// a broker certificate of an unknown CA. A dial under way as refuseAll
// comes is refused too: dropped on the brokers' side instead
// (fakebroker's DropConnections), its connection, made just after,
// served every refresh, and no refusal came.
type cutOffDialer struct {
	mu      sync.Mutex
	refused bool
	made    []net.Conn
}

func (d *cutOffDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	refusal := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	d.mu.Lock()
	refused := d.refused
	d.mu.Unlock()
	if refused {
		return nil, refusal
	}
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refused {
		nc.Close()
		return nil, refusal
	}
	d.made = append(d.made, nc)
	return nc, nil
}

func (d *cutOffDialer) refuseAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refused = true
	for _, nc := range d.made {
		nc.Close()
	}
}

// drainedProducer is a producer for c on a fake clock whose held records
// wait for an hour (MaxBlock), dialling through d, with the record for
// partition 3 of t, which has one, produced and set aside by its drain:
// o's record 0.
func drainedProducer(t *testing.T, c *fakebroker.Cluster, d *cutOffDialer, o *outcomes) (*Producer, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Dialer = clk, d
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	learnTopic(t, p, clk, "t")
	eventually(t, "the record for partition 3 set aside", func() bool { return setAside(p, "t") == 1 })
	return p, clk
}

// refuseFromNowOn makes every broker refuse the producer, through d, and
// waits, moving clk by the metadata loop's pacing only (MaxBlock, an hour,
// stays far off), until o's record 0 has its outcome, which it returns.
func refuseFromNowOn(t *testing.T, d *cutOffDialer, clk *clock.Fake, o *outcomes) error {
	t.Helper()
	d.refuseAll()
	eventually(t, "the outcome of the record waiting for partition 3", func() bool {
		releasePacing(clk)
		return o.first.Load() == 1
	})
	o.wait(t, "the record waiting for partition 3")
	return o.one(t, 0).err
}

// A record set aside by its topic's drain, waiting for a partition the
// topic does not have yet, fails at once when every broker refuses the
// producer, as a record waiting for its topic's metadata does: no
// metadata will bring the partition. failWaiting left the records of a
// topic being drained to the drain, which, for a record set aside, only
// waits: it waited until MaxBlock, and failed as lacking its partition,
// without a word of the refusal.
func TestARecordSetAsideFailsAtOnceWhenEveryBrokerRefusesTheProducer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &cutOffDialer{}
	o := newOutcomes(1)
	p, clk := drainedProducer(t, c, d, o)

	err := refuseFromNowOn(t, d, clk, o)
	assertAuthFailure(t, err)
	require.ErrorContains(t, err, "while the record waited for partition 3 of t")
	require.Zero(t, setAside(p, "t"))
}

// A drain's record waiting for its topic's partitions, which a lagging
// broker called unknown, fails at once when every broker refuses the
// producer: the drain, woken by the refusal, no longer waits for it. It
// waited until MaxBlock.
func TestADrainsRecordWaitingForItsTopicFailsAtOnceWhenEveryBrokerRefusesTheProducer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	lagging := make(chan struct{})
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		select {
		case <-lagging:
			return fakebroker.Action{Hide: []string{"t"}}
		default:
			return fakebroker.Action{}
		}
	})
	d := &cutOffDialer{}
	o := newOutcomes(1)
	p, clk := drainedProducer(t, c, d, o)

	close(lagging)
	eventually(t, "the drain waiting for t's partitions", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["t"]
		return wt != nil && len(wt.aside) == 0 && wt.roundPos < len(wt.round) && wt.stopAppend != nil
	})

	err := refuseFromNowOn(t, d, clk, o)
	assertAuthFailure(t, err)
	require.ErrorContains(t, err, "while the record waited for partition 3 of t")
}
