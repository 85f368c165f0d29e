package producer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
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

// admitAll dials normally again, as after a certificate rotated.
func (d *cutOffDialer) admitAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refused = false
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

// heldUpProducer is a producer for c on a fake clock whose held records
// wait for an hour (MaxBlock), dialling through d, and whose partitioner
// waits for release on the record keyed "waits", closing entered: the
// drain round that takes such a record is held up there, as by a record
// waiting for memory. It logs to log, if not nil.
func heldUpProducer(t *testing.T, c *fakebroker.Cluster, d *cutOffDialer, log *heldLog) (p *Producer, clk *clock.Fake, entered <-chan struct{}, release func()) {
	t.Helper()
	enteredCh, released := make(chan struct{}), make(chan struct{})
	enter := sync.OnceFunc(func() { close(enteredCh) }) // a second call must not panic
	part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
		if string(key) == "waits" {
			enter()
			<-released
		}
		return 0
	})
	clk = clock.NewFake(heldClockStart)
	p = newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Dialer, cfg.Partitioner = clk, d, part
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
		if log != nil {
			cfg.Logger = slog.New(log)
		}
	})
	// Before the producer's Close, which waits for the drain and the
	// metadata loop.
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	if log != nil {
		t.Cleanup(log.letGo)
	}
	return p, clk, enteredCh, release
}

// A record set aside while its drain's round is held up (here in the
// partitioner) fails at once when every broker refuses the producer, as
// one whose drain waits for metadata does, counted as failing once, for
// Flush, and its memory given back once: the drain looks at the records
// set aside again only once its round is done.
func TestARecordSetAsideBehindAHeldUpRoundFailsAtOnceWhenEveryBrokerRefusesTheProducer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	d := &cutOffDialer{}
	p, clk, entered, _ := heldUpProducer(t, c, d, nil)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits")}, o.cb(1))
	require.Equal(t, int64(2), p.held.count.Load(), "the records held for t, unknown yet")
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the round did not reach the record behind the one for partition 3")
	require.Equal(t, 1, setAside(p, "t"), "the record for partition 3")

	d.refuseAll()
	eventually(t, "the outcome of the record set aside", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		return o.has(0)
	})
	err := o.snapshot()[0][0].err
	assertAuthFailure(t, err)
	require.ErrorContains(t, err, "while the record waited for partition 3 of t")
	require.Zero(t, setAside(p, "t"))
	eventually(t, "the failure counted as delivered", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		return p.held.failing == 0 && p.held.unbooked == 0
	})
	// The round's memory went back to the pool as it began: none is in use.
	require.Equal(t, int(p.cfg.BufferMemory), p.pool.Available())
}

// Of the records a drain takes after every broker refused the producer,
// those held before the refusal that would wait for metadata fail with it,
// as the records of topics without a drain do, and those held since wait
// for the next answer; a record whose partition is known is appended, its
// batch left to fail if its leader refuses the producer too. The metadata
// loop is held in its log of the refusal, so that no later refresh is
// refused, or succeeds, before the drain has taken the records.
func TestADrainFailsWithARefusalOnlyTheRecordsHeldBeforeItThatWouldWait(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	d := &cutOffDialer{}
	loopHeld := holdLog(func(rec slog.Record) bool {
		return rec.Message == "metadata refresh failed" && cluster.Refusal(logged(rec, "err")) != nil
	})
	p, clk, entered, release := heldUpProducer(t, c, d, loopHeld)
	o := newOutcomes(4)
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("before")}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("fits")}, o.cb(2))
	require.Equal(t, int64(3), p.held.count.Load(), "the records held for t, unknown yet")
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the drain did not reach its first record")

	d.refuseAll()
	awaitHeld(t, p, clk, loopHeld, "the metadata loop held in its log of a refusal by every broker")
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("after")}, o.cb(3))
	release()
	eventually(t, "the records for partition 3 judged", func() bool {
		return o.has(1) && (o.has(3) || setAside(p, "t") == 1)
	})
	if o.has(3) {
		t.Fatalf("the record held after the refusal failed: %v", o.snapshot()[3][0].err)
	}
	err := o.snapshot()[1][0].err
	assertAuthFailure(t, err)
	require.ErrorContains(t, err, "while the record waited for partition 3 of t")

	loopHeld.letGo()
	err = closeAtOnce(t, p, o, 3)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorContains(t, err, "while the record waited for partition 3 of t")
	if err := o.one(t, 2).err; err != nil {
		require.NotContains(t, err.Error(), "while the record waited", "the record with a partition, held before the refusal")
	}
}

// A drain's record that would wait for metadata still waits once a refresh
// has succeeded after every broker refused the producer, though the
// producer has not yet been told the refresh succeeded: the cluster layer
// publishes the answer first. Here the metadata loop is held in between,
// in its log of a broker the answer leaves out, while the drain, held up
// by the partitioner until then, reaches the record for partition 3 of t,
// which has one. The record failed with the refusal the answer had ended;
// now it is set aside, to wait for its partition.
func TestADrainsRecordJudgedWithAnAnswerAfterARefusalWaitsForItsPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Leader: func(string, int32) int32 { return 0 }})
	var admitted atomic.Bool
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if admitted.Load() {
			return fakebroker.Action{HideBrokers: []int32{1}}
		}
		return fakebroker.Action{}
	})
	loopHeld := holdLog(func(rec slog.Record) bool {
		return strings.HasPrefix(rec.Message, "broker left the cluster's metadata")
	})
	d := &cutOffDialer{}
	p, clk, entered, release := heldUpProducer(t, c, d, loopHeld)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits"), Value: []byte("first")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("typo")}, o.cb(1))
	require.Equal(t, int64(2), p.held.count.Load(), "the records held for t, unknown yet")
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the drain did not reach the record before the one for partition 3")

	d.refuseAll()
	eventually(t, "a metadata refresh refused by every broker", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		return p.held.refusal != nil
	})
	admitted.Store(true)
	d.admitAll()
	awaitHeld(t, p, clk, loopHeld, "the metadata loop held in the answer after the refusal")
	release()
	eventually(t, "the record for partition 3 judged", func() bool { return o.has(1) || setAside(p, "t") == 1 })
	if o.has(1) {
		t.Fatalf("the record for partition 3 failed though a refresh had succeeded: %v", o.snapshot()[1][0].err)
	}
	loopHeld.letGo()
	err := closeAtOnce(t, p, o, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorContains(t, err, "while the record waited for partition 3 of t")
}

// heldLog is a slog.Handler that holds up the first record holds picks,
// on the goroutine that logs it, closing held, until letGo is called.
type heldLog struct {
	holds      func(slog.Record) bool
	held, goOn chan struct{}
	once       sync.Once
	letGo      func()
}

func holdLog(holds func(slog.Record) bool) *heldLog {
	h := &heldLog{holds: holds, held: make(chan struct{}), goOn: make(chan struct{})}
	h.letGo = sync.OnceFunc(func() { close(h.goOn) })
	return h
}

func (h *heldLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *heldLog) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *heldLog) WithGroup(string) slog.Handler { return h }

func (h *heldLog) Handle(_ context.Context, rec slog.Record) error {
	if !h.holds(rec) {
		return nil
	}
	h.once.Do(func() {
		close(h.held)
		select {
		case <-h.goOn:
		case <-time.After(waitFor): // the test fails on its own wait
		}
	})
	return nil
}

// awaitHeld moves p's clock clk by the metadata loop's pacing, asking for
// refreshes, until log holds a record up.
func awaitHeld(t *testing.T, p *Producer, clk *clock.Fake, log *heldLog, what string) {
	t.Helper()
	eventually(t, what, func() bool {
		select {
		case <-log.held:
			return true
		default:
		}
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		return false
	})
}

// logged is the error rec holds as key, if any.
func logged(rec slog.Record, key string) error {
	var err error
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			err, _ = a.Value.Any().(error)
			return false
		}
		return true
	})
	return err
}
