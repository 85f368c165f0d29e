package integration

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

var (
	soak = flag.Bool("soak", false, "run TestSoak: many goroutines produce to a 3-broker embedded cluster "+
		"under random faults, then everything is read back (make soak)")
	soakDuration = flag.Duration("soak.duration", 60*time.Second, "TestSoak: how long to produce")
	soakRecords  = flag.Int64("soak.records", 5_000_000, "TestSoak: the most records to produce "+
		"(about 20 bytes of bookkeeping each are allocated up front)")
	soakProducers = flag.Int("soak.producers", 32, "TestSoak: goroutines calling Produce")
	soakSeed      = flag.Uint64("soak.seed", 0, "TestSoak: seed of the fault schedule; 0 picks one, which is logged")
)

// The soak's cluster and records. Records are spread over the steady topics
// by id; one in soakLateEvery goes to a topic the fault schedule creates
// only after production started.
const (
	soakBrokers    = 3
	soakTopics     = 4
	soakPartitions = 6
	soakLate       = "soak-late"
	soakLateEvery  = 50
	soakLatePartns = 3
	soakValueSize  = 100
)

// soakTopic is the topic of record id, and its partition count.
func soakTopic(id uint64) (string, int32) {
	if id%soakLateEvery == soakLateEvery-1 {
		return soakLate, soakLatePartns
	}
	return "soak-" + strconv.Itoa(int(id%soakTopics)), soakPartitions
}

// soakKeysPerProducer is how many keys each producing goroutine owns.
const soakKeysPerProducer = 32

// soakKey is the key of record id, appended to dst; a quarter have none.
// Producing goroutine w produces ids w, w+producers, w+2*producers... in
// that order, and every key belongs to one goroutine (its number is w modulo
// producers), so the records of a key have an order: their ids'.
func soakKey(dst []byte, id uint64, producers int) []byte {
	p := uint64(producers)
	if id/p%4 == 0 {
		return nil
	}
	return strconv.AppendUint(append(dst[:0], "key-"...), id%(p*soakKeysPerProducer), 10)
}

// Record states, one per id.
const (
	soakPending uint32 = iota // no outcome yet, or never produced
	soakAcked
	soakFailed
	soakFailedMaybeWritten // failed with an error that says it may have been written
)

// soakLedger is what the soak knows of every record, indexed by id: set by
// callbacks on the producer's goroutines, read once every record has its
// outcome.
type soakLedger struct {
	state     []uint32 // soakPending, then another state, atomically set once
	partition []int32
	offset    []int64
	outcomes  atomic.Int64
	repeated  atomic.Int64 // a second outcome for a record: a producer bug

	mu       sync.Mutex
	failures map[string]int64  // by kind
	example  map[string]string // one full error per kind
}

func newSoakLedger(n int64) *soakLedger {
	return &soakLedger{
		state:     make([]uint32, n),
		partition: make([]int32, n),
		offset:    make([]int64, n),
		failures:  map[string]int64{},
		example:   map[string]string{},
	}
}

func (l *soakLedger) callback(id uint64) producer.Callback {
	return func(md producer.RecordMetadata, err error) {
		state := soakAcked
		switch {
		case err != nil && maybeWritten(err):
			state = soakFailedMaybeWritten
		case err != nil:
			state = soakFailed
		default:
			l.partition[id], l.offset[id] = md.Partition, md.Offset
		}
		if !atomic.CompareAndSwapUint32(&l.state[id], soakPending, state) {
			l.repeated.Add(1)
			return
		}
		if err != nil {
			kind := errorKind(err)
			l.mu.Lock()
			l.failures[kind]++
			if _, ok := l.example[kind]; !ok {
				l.example[kind] = err.Error()
			}
			l.mu.Unlock()
		}
		l.outcomes.Add(1)
	}
}

// TestSoak produces from many goroutines to a 3-broker cluster while random
// faults are injected, then reads every topic back and accounts for every
// record: acknowledged records must all be read back where their callback
// said (none lost); no record may be read back twice, nor after a later
// record of its key; a failed record read back anyway must have failed with
// an error that says it may have been written; failures are counted by
// cause.
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("the soak test runs with -soak: `make soak`, or `go test -run TestSoak -soak -v .` in integration/ " +
			"(-soak.duration, -soak.records, -soak.producers, -soak.seed to change it)")
	}
	seed := *soakSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	// The report is the point of the test: print it even without -v.
	report := t.Logf
	if !testing.Verbose() {
		report = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	}
	report("soak: seed %d (rerun the same fault schedule with -soak.seed %d), %v or %d records, %d producers",
		seed, seed, *soakDuration, *soakRecords, *soakProducers)

	topics := map[string]int32{}
	for i := range soakTopics {
		topics["soak-"+strconv.Itoa(i)] = soakPartitions
	}
	c := startCluster(t, embedded.Options{Brokers: soakBrokers, Topics: topics})
	seeds := c.Addrs()
	const requestTimeout = 2 * time.Second
	p, err := producer.New(producer.Config{
		Brokers:             seeds,
		RequestTimeout:      requestTimeout,
		DeliveryTimeout:     time.Minute,
		MaxBlock:            time.Minute,
		RetryBackoff:        20 * time.Millisecond,
		RetryBackoffMax:     500 * time.Millisecond,
		ReconnectBackoff:    20 * time.Millisecond,
		ReconnectBackoffMax: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			_ = p.Close(ctx) // the test failed already
		}
	})

	ledger := newSoakLedger(*soakRecords)
	faults := &soakFaults{c: c, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), requestTimeout: requestTimeout}

	// Produce until the time is up or the ids run out.
	var (
		produced atomic.Uint64
		stop     atomic.Bool
		workers  sync.WaitGroup
		ctx      = context.Background() // Produce waits at most MaxBlock for memory
	)
	// Start with the steady topics' metadata known: records produced before
	// it is known are held in memory, and a flood of them from many
	// goroutines stalls the producer (TestFaultsBugHeldRecordsStarveTheirOwnAppend).
	for i := range soakTopics {
		warm, cancelWarm := context.WithTimeout(ctx, testTimeout)
		_, err := p.PartitionsFor(warm, "soak-"+strconv.Itoa(i))
		cancelWarm()
		require.NoError(t, err, "metadata of soak-%d", i)
	}

	began := time.Now()
	timer := time.AfterFunc(*soakDuration, func() { stop.Store(true) })
	defer timer.Stop()
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		faults.run(&stop, *soakDuration)
	}()
	for w := range *soakProducers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var key, value []byte
			n := uint64(0)
			defer func() { produced.Add(n) }()
			// See soakKey: the ids of one goroutine, in increasing order,
			// until the time is up or its share of the ids runs out.
			for id := uint64(w); !stop.Load() && id < uint64(*soakRecords); id += uint64(*soakProducers) {
				topic, _ := soakTopic(id)
				key = soakKey(key, id, *soakProducers)
				value = appendIDValue(value[:0], id, soakValueSize)
				p.Produce(ctx, &producer.Record{Topic: topic, Key: key, Value: value}, ledger.callback(id))
				n++
			}
		}()
	}
	// Produce waits at most MaxBlock for memory, so they stop by then.
	waitGroupWithin(t, &workers, *soakDuration+2*time.Minute, "soak producers stopping")
	stop.Store(true) // the ids may have run out first: the faults stop too
	produceTime := time.Since(began)
	<-faultsDone
	faults.heal(t)

	// Everything produced gets its outcome by Close.
	closeCtx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, p.Flush(closeCtx), "flushing after the soak")
	drained := time.Since(began)
	require.NoError(t, p.Close(closeCtx), "closing after the soak")
	closed = true
	stats := p.Stats()
	require.Equal(t, int64(produced.Load()), ledger.outcomes.Load(), "records without an outcome after Close")
	require.Zero(t, ledger.repeated.Load(), "records with more than one outcome")

	// Read every topic back and account for every record.
	readBegan := time.Now()
	acct := soakAccount(t, seeds, ledger, *soakProducers)
	readTime := time.Since(readBegan)

	report("soak: %d records produced in %v by %d goroutines; %d faults injected: %s",
		produced.Load(), produceTime.Round(time.Millisecond), *soakProducers, faults.counts.total(), faults.counts.summary())
	report("soak: acknowledged %d, failed %d, lost %d, duplicated %d (%d extra copies), out of key order %d, "+
		"failed but written %d (%d of them with an error that does not say they may have been)",
		acct.acked, acct.failed, acct.lost, acct.duplicated, acct.extraCopies, acct.outOfOrder,
		acct.failedButWritten, acct.failedButWrittenUnsaid)
	ledger.mu.Lock()
	for _, kind := range slices.Sorted(maps.Keys(ledger.failures)) {
		report("soak: failed with %s: %d, e.g. %s", kind, ledger.failures[kind], ledger.example[kind])
	}
	ledger.mu.Unlock()
	report("soak: %.0f records/s acknowledged (%d acknowledged by the end of the flush, %v after the start); "+
		"%d requests, %d retries, %d splits; read back %d records in %v",
		float64(acct.acked)/drained.Seconds(), acct.acked, drained.Round(time.Millisecond),
		stats.Requests, stats.Retries, stats.Splits, acct.readBack, readTime.Round(time.Millisecond))

	require.Zero(t, acct.foreign, "records read back that were never produced (or whose bytes changed)")
	require.Zero(t, acct.misplaced, "acknowledged records not at the partition and offset their callback reported")
	require.Zero(t, acct.lost, "acknowledged records that were not read back")
	require.Zero(t, acct.duplicated, "records read back more than once")
	require.Zero(t, acct.outOfOrder, "records read back after a later record of their key")
	require.Zero(t, acct.failedButWrittenUnsaid, "failed records read back anyway, whose error does not say they may have been written")
}

// soakFaults injects random faults, one at a time at random intervals,
// from a seeded generator: the schedule of kinds and targets is the same
// for a seed (what they hit depends on timing).
type soakFaults struct {
	c              *embedded.Cluster
	rng            *rand.Rand
	requestTimeout time.Duration

	armed       []*embedded.Fault
	stopped     int32 // the stopped broker, or -1
	lateCreated bool
	counts      faultCounts
}

// soakMaxFaults bounds the schedule whatever the duration.
const soakMaxFaults = 2000

func (f *soakFaults) run(stop *atomic.Bool, d time.Duration) {
	f.stopped = -1
	f.counts = faultCounts{}
	// The late topic appears within the first quarter of the run, and
	// within 5s: its records wait in memory meanwhile.
	lateAt := time.Now().Add(time.Duration(f.rng.Int64N(int64(min(d/4, 5*time.Second)) + 1)))
	for n := 0; n < soakMaxFaults && !stop.Load(); n++ {
		pause := time.NewTimer(time.Duration(50+f.rng.IntN(250)) * time.Millisecond)
		<-pause.C
		if !f.lateCreated && time.Now().After(lateAt) {
			f.createLate()
			continue
		}
		f.inject()
	}
}

// inject injects one random fault.
func (f *soakFaults) inject() {
	retriable := []int16{kerr.NotLeaderOrFollower.Code, kerr.RequestTimedOut.Code, kerr.NotEnoughReplicas.Code,
		kerr.OutOfOrderSequenceNumber.Code, kerr.UnknownProducerID.Code} // the last two, by an idempotent producer
	live := f.liveBrokers()
	switch k := f.rng.IntN(100); {
	case k < 25:
		code := retriable[f.rng.IntN(len(retriable))]
		f.arm(fmt.Sprintf("fail produce (%s)", kerr.ForCode(code).(*kerr.Error).Name), f.c.FailNextProduce(1+f.rng.IntN(3), code))
	case k < 27:
		f.arm("fail produce (TOPIC_AUTHORIZATION_FAILED)", f.c.FailNextProduce(1, kerr.TopicAuthorizationFailed.Code))
	case k < 37:
		delay := f.requestTimeout + time.Duration(f.rng.Int64N(int64(f.requestTimeout)))
		f.arm("delay produce beyond RequestTimeout", f.c.DelayNextProduce(1, delay))
	case k < 50:
		f.arm("close connection on produce", f.c.CloseConnOnNextProduce(1+f.rng.IntN(3)))
	case k < 60:
		f.arm("lose produce response", f.c.DropNextProduceResponse(1+f.rng.IntN(2)))
	case k < 80:
		topic := "soak-" + strconv.Itoa(f.rng.IntN(soakTopics))
		part := int32(f.rng.IntN(soakPartitions))
		if f.c.MoveLeader(topic, part, live[f.rng.IntN(len(live))]) == nil {
			f.counts["move a leader"]++
		}
	case k < 88:
		f.c.ShuffleLeaders()
		f.counts["shuffle leaders"]++
	default:
		if f.stopped >= 0 {
			if f.c.RestartBroker(f.stopped) == nil {
				f.counts["restart a broker"]++
				f.stopped = -1
			}
			return
		}
		node := live[f.rng.IntN(len(live))]
		if f.c.StopBroker(node) == nil {
			f.counts["stop a broker"]++
			f.stopped = node
		}
	}
}

func (f *soakFaults) arm(kind string, fault *embedded.Fault) {
	f.counts[kind]++
	f.armed = append(f.armed, fault)
	// Forget the faults that fired in full.
	f.armed = slices.DeleteFunc(f.armed, func(a *embedded.Fault) bool {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return a.Wait(ctx) == nil
	})
}

func (f *soakFaults) createLate() {
	if err := f.c.CreateTopic(soakLate, soakLatePartns); err == nil {
		f.lateCreated = true
		f.counts["create the late topic"]++
	}
}

func (f *soakFaults) liveBrokers() []int32 {
	var live []int32
	for n := range int32(soakBrokers) {
		if n != f.stopped {
			live = append(live, n)
		}
	}
	return live
}

// heal ends every fault once production has stopped, so that the final
// flush runs against a healthy cluster: armed faults are removed, a stopped
// broker restarts, and the late topic exists.
func (f *soakFaults) heal(t *testing.T) {
	t.Helper()
	for _, a := range f.armed {
		a.Remove()
	}
	if f.stopped >= 0 {
		require.NoError(t, f.c.RestartBroker(f.stopped))
		f.stopped = -1
	}
	if !f.lateCreated {
		f.createLate()
		require.True(t, f.lateCreated, "creating %s", soakLate)
	}
}

// faultCounts counts a fault schedule's faults by kind, for the report of
// the soak and of the chaos test.
type faultCounts map[string]int

func (c faultCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// summary is each kind with its count, in the kinds' order.
func (c faultCounts) summary() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}
