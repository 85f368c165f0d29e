package integration

// The chaos test: the idempotent producer's promise on the real cluster
// (kafka/broker.sh start --nodes 3) under a seeded schedule of broker
// failures, longer and more tangled than the scenes of
// cluster_failures_test.go. Opt-in, as the soak is: `make chaos`; CI runs
// it for a minute on a fresh cluster.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gokafka/producer"
)

var (
	chaos = flag.Bool("chaos", false, "run TestClusterChaos and TestClusterChaosTransactions: goroutines, or a "+
		"transactional producer, produce to the 3-broker cluster of KAFKA_BROKERS while brokers are killed, "+
		"stopped and restarted, then everything is read back (make chaos)")
	chaosDuration = flag.Duration("chaos.duration", 2*time.Minute, "both chaos tests: how long to inject faults")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "both chaos tests: seed of the fault schedule; 0 picks one, which is logged")
	chaosDelivery = flag.Duration("chaos.deliverytimeout", 0, "both chaos tests: DeliveryTimeout, and a third of it "+
		"(30s at most) as RequestTimeout, so that records fail while brokers are down; 0 keeps the defaults")
	chaosRequest = flag.Duration("chaos.requesttimeout", 0, "both chaos tests: RequestTimeout, "+
		"so that requests go unanswered; 0 keeps the default (or -chaos.deliverytimeout's)")
	chaosAllDown = flag.Bool("chaos.alldown", false, "both chaos tests: sometimes kill all three brokers at once")
	chaosCloseIn = flag.Bool("chaos.closeinfault", false, "TestClusterChaos: end with Close, not Flush, "+
		"while a leader is killed and another broker stopped")
)

const (
	chaosWorkers = 4
	// chaosProgress is how many records the producer must acknowledge
	// after each fault before the schedule goes on: it recovered.
	chaosProgress = 500
	// chaosTail bounds what follows the last fault: its end, the flush
	// (DeliveryTimeout), putting the cluster back and reading back.
	chaosTail = 12 * time.Minute
)

// startChaos opens a chaos test: it skips without -chaos, takes the
// cluster, checks that -chaos.duration and tail, the most the test may take
// after its faults, fit in the -timeout left, so that a hang fails with
// every goroutine's stack, and returns the schedule's seed, -chaos.seed or
// drawn, logged for a replay. flags lists the test's other flags.
func startChaos(t *testing.T, tail time.Duration, flags string) (*kafkaCluster, uint64) {
	t.Helper()
	if !*chaos {
		t.Skip("the chaos test runs with -chaos against broker.sh's 3-broker cluster: `make chaos` " +
			"(CHAOS_FLAGS: -chaos.duration, -chaos.seed, " + flags + ")")
	}
	c := clusterFor(t)
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < *chaosDuration+tail {
		t.Fatalf("-chaos.duration %v and up to %v after it do not fit in the -timeout left, %v",
			*chaosDuration, tail, time.Until(deadline).Round(time.Second))
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("chaos: seed %d (-chaos.seed %d replays the schedule)", seed, seed)
	return c, seed
}

// TestClusterChaos produces keyed records from several goroutines while a
// seeded schedule kills (SIGKILL) and restarts brokers, stops a leader
// cleanly, takes two brokers down at once (min.insync.replicas=2:
// NOT_ENOUGH_REPLICAS), overlaps faults, and with its flags kills all
// three or closes the producer in a fault. Then every record must have had
// one outcome, and checkStream and acknowledgedInEachGoroutinesOrder hold
// the read-back to idempotence: none lost, none twice, each where its
// callback said, in order, and a failed record written only if its error
// says it may have been (ErrMaybeWritten).
func TestClusterChaos(t *testing.T) {
	c, seed := startChaos(t, chaosTail, "-chaos.deliverytimeout, -chaos.requesttimeout, -chaos.alldown, -chaos.closeinfault")

	topic := newTopic(t, c.seeds, clusterPartitions)
	c.awaitFullISR(t, topic)
	p := newProducer(t, c.seeds, chaosTimeouts)
	s := startStreams(t, p, topic, chaosWorkers)
	f := newChaosFaults(t, c, s, topic, seed)
	began := f.play(*chaosDuration)
	if *chaosCloseIn {
		f.closeInFault(p, s)
	} else {
		s.stopProducing()
		ctx, cancel := context.WithTimeout(context.Background(), finishWithin)
		defer cancel()
		assert.NoError(t, p.Flush(ctx), "flushing after the faults")
	}
	recs, outs := s.results()
	c.restore(t)
	c.awaitFullISR(t, topic) // the high watermark covers every write
	r := checkStream(t, c, p, topic, recs, outs, scenario{
		faults:             f.log,
		partitionsAt:       fixedPartitions(clusterPartitions),
		failedMayBeWritten: "their request went to a broker that died or stopped before it answered",
	})
	acknowledgedInEachGoroutinesOrder(t, s.worker, outs)

	// The report is the point of the test: print it even without -v, in
	// one block, as the soak does.
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: seed %d (replay with -chaos.seed %d), %v\n", seed, seed, time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "chaos: %d faults: %s\n", f.counts.total(), f.counts.summary())
	fmt.Fprintf(&b, "chaos: %d records produced, %d acknowledged, %d failed (%d of them ErrMaybeWritten), %d read back; %d retries\n",
		r.records, r.acked, r.failed, countMaybeWritten(outs), r.readBack, p.Stats().Retries)
	fmt.Fprintf(&b, "chaos: %d lost, %d duplicated, %d out of key order, %d failed but written", r.lost, r.duplicated, r.reordered, r.failedButWritten)
	if testing.Verbose() {
		t.Log("\n" + b.String())
	} else {
		fmt.Println(b.String())
	}
}

// chaosTimeouts applies -chaos.deliverytimeout and -chaos.requesttimeout
// to a chaos test's producer.
func chaosTimeouts(cfg *producer.Config) {
	if d := *chaosDelivery; d > 0 {
		cfg.DeliveryTimeout, cfg.RequestTimeout = d, min(d/3, 30*time.Second)
	}
	if *chaosRequest > 0 {
		cfg.RequestTimeout = *chaosRequest
	}
}

// awaitProgress waits until the stream has acknowledged chaosProgress
// records more: the producer recovered from the fault.
func (s *stream) awaitProgress() {
	s.t.Helper()
	s.awaitAcked(s.acked.Load()+chaosProgress, "the producer acknowledges records after the fault")
}

// acknowledgedInEachGoroutinesOrder holds the producer to its order: the
// records one goroutine produced to a partition are acknowledged at
// offsets in the order it produced them (its records' indexes), and
// checkStream has found each at the offset its callback gave.
func acknowledgedInEachGoroutinesOrder(t *testing.T, worker []int, outs []outcome) {
	t.Helper()
	type lane struct {
		worker    int
		partition int32
	}
	last := map[lane]int{} // the lane's last acknowledged record
	var reordered []string
	for i, o := range outs {
		if o.err != nil {
			continue
		}
		l := lane{worker[i], o.md.Partition}
		if prev, ok := last[l]; ok && outs[prev].md.Offset >= o.md.Offset {
			reordered = append(reordered, fmt.Sprintf("goroutine %d: record %d at %d@%d, after record %d at %d@%d",
				l.worker, i, l.partition, o.md.Offset, prev, l.partition, outs[prev].md.Offset))
		}
		last[l] = i
	}
	assert.Empty(t, firstFew(reordered), "%d acknowledged records are before an earlier record of their goroutine on their partition", len(reordered))
}

func countMaybeWritten(outs []outcome) int {
	n := 0
	for _, o := range outs {
		if errors.Is(o.err, producer.ErrMaybeWritten) {
			n++
		}
	}
	return n
}

// chaosLoad is what a chaos test's schedule injects its faults under.
type chaosLoad interface {
	// progress says how far the load has come, for the schedule's log.
	progress() string
	// awaitProgress waits, bounded, until the load has gone on after a
	// fault, failing the test if it does not.
	awaitProgress()
}

// chaosFaults is the fault schedule. Its kinds, targets and holds come
// from the seed; which broker leads a partition when a kind picks "the
// leader" depends on the run.
type chaosFaults struct {
	t      *testing.T
	c      *kafkaCluster
	load   chaosLoad
	topic  string
	rng    *rand.Rand
	log    []string    // every kill, stop and start, in order
	counts faultCounts // faults by kind
	// coordinator, if set, finds the transaction coordinator's broker,
	// which the faults that pick a leader then pick now and then instead
	// (aimed counts those): where transactions differ.
	coordinator func() int32
	aimed       int
}

// newChaosFaults is the schedule of seed, under load on topic.
func newChaosFaults(t *testing.T, c *kafkaCluster, load chaosLoad, topic string, seed uint64) *chaosFaults {
	return &chaosFaults{t: t, c: c, load: load, topic: topic, counts: faultCounts{},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// play runs the schedule for d, from a first hold to the last fault's
// recovery, and returns when it began.
func (f *chaosFaults) play(d time.Duration) time.Time {
	f.t.Helper()
	began := time.Now()
	f.hold(5 * time.Second)
	for time.Since(began) < d {
		f.inject()
		f.recovered()
		f.hold(4 * time.Second)
	}
	return began
}

// hold pauses the schedule for a random time up to max, drawn from the
// seed: how long a fault lasts, or how long the cluster runs between two.
// It is the schedule's shape, not a wait for anything to have happened;
// recovered waits for that.
func (f *chaosFaults) hold(max time.Duration) {
	time.Sleep(time.Duration(f.rng.Int64N(int64(max))))
}

// note logs a step of a fault.
func (f *chaosFaults) note(format string, args ...any) {
	step := fmt.Sprintf(format, args...)
	f.log = append(f.log, step)
	f.t.Logf("chaos: %s %s", step, f.load.progress())
}

func (f *chaosFaults) kill(id int32, why string) { f.note("kill %d%s", id, why); f.c.kill(f.t, id) }
func (f *chaosFaults) stopNode(id int32, why string) {
	f.note("stop-node %d%s", id, why)
	f.c.stopNode(f.t, id)
}
func (f *chaosFaults) start(ids ...int32) { f.note("start-node %v", ids); f.c.startNodes(f.t, ids...) }

// leader is the leader of a partition the seed picks, or now and then,
// with a coordinator to aim at, the transaction coordinator's broker; why
// says which, for the log.
func (f *chaosFaults) leader() (id int32, why string) {
	if f.coordinator != nil && f.rng.IntN(3) == 0 {
		f.aimed++
		return f.coordinator(), " (the transaction coordinator)"
	}
	return f.c.leaderOf(f.t, f.topic, int32(f.rng.IntN(clusterPartitions))), " (a leader)"
}

// inject runs one fault from its start to the restart of every broker it
// took down.
func (f *chaosFaults) inject() {
	switch k := f.rng.IntN(10); {
	case *chaosAllDown && f.rng.IntN(4) == 0:
		f.counts["all down"]++
		for _, id := range f.c.ids {
			f.kill(id, " (all down)")
		}
		f.hold(5 * time.Second)
		f.start(f.c.ids...)
	case k < 3:
		f.counts["kill one"]++
		id, why := f.c.ids[f.rng.IntN(len(f.c.ids))], ""
		if f.rng.IntN(2) == 0 {
			id, why = f.leader()
		}
		f.kill(id, why)
		f.hold(12 * time.Second)
		f.start(id)
	case k < 5:
		f.counts["stop a leader"]++
		id, why := f.leader()
		f.stopNode(id, why)
		f.hold(8 * time.Second)
		f.start(id)
	case k < 8:
		f.counts["two down"]++
		ids := slices.Clone(f.c.ids)
		f.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids[:2] {
			if f.rng.IntN(2) == 0 {
				f.kill(id, " (two down)")
			} else {
				f.stopNode(id, " (two down)")
			}
		}
		f.hold(20 * time.Second)
		f.start(ids[:2]...)
	default:
		f.counts["overlapping"]++
		f.overlapping()
	}
}

// overlapping kills a leader, and another broker while the first restarts.
func (f *chaosFaults) overlapping() {
	first, why := f.leader()
	f.kill(first, why)
	f.hold(3 * time.Second)
	f.note("start-node %d (in the background)", first)
	starting := f.c.startingNode(first)
	f.hold(8 * time.Second)
	second := f.c.ids[f.rng.IntN(len(f.c.ids))]
	if second != first {
		f.kill(second, fmt.Sprintf(" (while %d restarts)", first))
		f.hold(5 * time.Second)
	}
	if err := <-starting; err != nil {
		f.t.Fatalf("starting broker %d again: %v", first, err)
	}
	if second != first {
		f.start(second)
	}
}

// recovered waits until the load has gone on since the last fault ended
// (records acknowledged, transactions committed), and, as an operator
// sometimes does before the next one, until every replica is back in sync.
func (f *chaosFaults) recovered() {
	f.t.Helper()
	f.load.awaitProgress()
	if f.rng.IntN(3) == 0 {
		f.c.awaitFullISR(f.t, f.topic)
	}
}

// closeInFault ends the run with Close, not Flush, while a leader is
// killed and another broker stopped: the records in flight and waiting
// get their outcomes from Close.
func (f *chaosFaults) closeInFault(p *producer.Producer, s *stream) {
	f.counts["close in a fault"]++
	killed, _ := f.leader()
	f.kill(killed, " (before Close)")
	for _, id := range f.c.ids {
		if id != killed {
			f.stopNode(id, " (before Close)")
			break
		}
	}
	f.hold(3 * time.Second)
	s.stopProducing()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := p.Close(ctx)
	cancel()
	f.t.Logf("chaos: Close within 5s: %v %s", err, s.progress())
	// A later Close waits for the callbacks left (see Close).
	ctx, cancel = context.WithTimeout(context.Background(), finishWithin)
	defer cancel()
	f.t.Logf("chaos: Close again: %v %s", p.Close(ctx), s.progress())
}
