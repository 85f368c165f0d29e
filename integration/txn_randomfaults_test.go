package integration

// A regression test of exactly-once transactions under faults: scenes of a
// dozen transactions, committed or aborted, on a 3-broker embedded cluster
// whose Produce, AddPartitionsToTxn, EndTxn and FindCoordinator requests
// fail at random, whose leaders move and whose connections drop, answers
// and (without -race) produce requests are lost or delayed. Whatever the
// faults, a read_committed consumer sees each record of a committed
// transaction once, in order, and none of an aborted one, and no
// transaction is left open (see txn_randomfaults_checks_test.go).
//
// Each scene is drawn from a seed and runs once per transaction protocol;
// by default a fixed range of seeds runs, sized for CI. To look further, or
// to rerun the scene a failure names:
//
//	go test -run TestTxnUnderRandomFaults -txnrandomfaults.seed 100 -txnrandomfaults.scenes 50
//	go test -run TestTxnUnderRandomFaults -txnrandomfaults.seed 1234 -txnrandomfaults.scenes 1 -v
//
// Timing still varies from run to run, so a seed pins the scene's plan and
// the faults' odds, not the exact interleaving.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gokafka/producer"
)

// The defaults are the scenes CI runs: seeds 1 to 12, with both protocols,
// draw commits and aborts under every fault, short and long timeouts, and
// Close in the middle of a transaction, in about 20s under -race on two
// cores.
var (
	txnRandomFaultsSeed = flag.Uint64("txnrandomfaults.seed", 1,
		"TestTxnUnderRandomFaults...: the first scene's seed")
	txnRandomFaultsScenes = flag.Int("txnrandomfaults.scenes", 12,
		"TestTxnUnderRandomFaults...: how many scenes to run per protocol, of consecutive seeds")
)

func TestTxnUnderRandomFaultsReadCommittedSeesEachCommittedRecordOnceInOrderAndNoAbortedOne(t *testing.T) {
	for _, proto := range txnProtocols {
		for n := range uint64(*txnRandomFaultsScenes) {
			seed := *txnRandomFaultsSeed + n
			t.Run(fmt.Sprintf("%s/seed=%d", proto.name, seed), func(t *testing.T) {
				s := drawTxnScene(seed)
				t.Logf("%v", s) // first, and again on failure, to rerun from the log alone
				defer func() {
					if t.Failed() {
						t.Logf("to rerun: -txnrandomfaults.seed %d -txnrandomfaults.scenes 1 (%s, %v)", seed, proto.name, s)
					}
				}()
				s.play(t, proto)
			})
		}
	}
}

// txnScene is the plan of one run, all drawn from its seed.
type txnScene struct {
	seed uint64
	// faultOdds is the chance that a request meets a fault; background
	// faults come at these odds every few milliseconds.
	faultOdds float64
	// short makes requests and records time out within about a second,
	// and (without -race) delays some produce requests past that.
	short       bool
	batchSize   int
	linger      time.Duration
	maxInFlight int
	txns        []txnSteps
	// closeAt is the transaction in whose middle the producer is closed
	// instead of ended; -1 for none.
	closeAt int
	random  *lockedRand // the faults', from the seed
}

// txnSteps is one transaction's plan.
type txnSteps struct {
	partitions []int32 // of each record, in the order produced
	flushAfter []bool  // whether to Flush after each record
	commit     bool    // or abort
}

// txnScenePartitions is the partition count of every scene's topic.
const txnScenePartitions = 3

func drawTxnScene(seed uint64) *txnScene {
	r := rand.New(rand.NewPCG(seed, 99))
	s := &txnScene{seed: seed, closeAt: -1, random: &lockedRand{r: rand.New(rand.NewPCG(seed, 100))}}
	s.faultOdds = 0.05 + 0.25*r.Float64()
	s.short = r.IntN(2) == 0
	if r.IntN(3) == 0 {
		s.closeAt = r.IntN(8)
	}
	s.batchSize = 300 + r.IntN(1000)
	s.linger = []time.Duration{producer.NoLinger, 0, time.Millisecond, 5 * time.Millisecond}[r.IntN(4)]
	s.maxInFlight = 1 + r.IntN(5)
	s.txns = make([]txnSteps, 8+r.IntN(8))
	for i := range s.txns {
		tx := &s.txns[i]
		n := r.IntN(60) // some empty
		tx.partitions, tx.flushAfter = make([]int32, n), make([]bool, n)
		for j := range n {
			tx.partitions[j] = int32(r.IntN(txnScenePartitions))
			tx.flushAfter[j] = r.IntN(30) == 0
		}
		tx.commit = r.IntN(5) != 0
	}
	return s
}

func (s *txnScene) String() string {
	commits, records := 0, 0
	for _, tx := range s.txns {
		records += len(tx.partitions)
		if tx.commit {
			commits++
		}
	}
	closing := "Close after the last"
	if s.closeAt >= 0 {
		closing = fmt.Sprintf("Close in transaction %d", s.closeAt)
	}
	linger := s.linger.String()
	if s.linger == producer.NoLinger {
		linger = "NoLinger"
	}
	return fmt.Sprintf("seed %d: %d transactions (%d to commit) of %d records in all, %s; "+
		"fault odds %.2f, short timeouts %v; BatchSize %d Linger %s MaxInFlight %d",
		s.seed, len(s.txns), commits, records, closing, s.faultOdds, s.short, s.batchSize, linger, s.maxInFlight)
}

// configure applies the scene's settings. The coordinator aborts a
// transaction the producer gave up on at TransactionTimeout: well after
// the checks stop waiting for the ones it ended (txnMarkersWait), well
// before they stop waiting for the others (testTimeout).
func (s *txnScene) configure(cfg *producer.Config) {
	cfg.BatchSize = s.batchSize
	cfg.Linger = s.linger
	cfg.MaxInFlight = s.maxInFlight
	cfg.RequestTimeout = 2 * time.Second
	cfg.TransactionTimeout = 30 * time.Second
	if s.short {
		cfg.RequestTimeout = 400 * time.Millisecond
		cfg.DeliveryTimeout = 1200 * time.Millisecond
	}
}
