package producer

// A regression test of the producer's central promise, driven from the
// outside: scenes of a few hundred records produced from several goroutines
// to a fake cluster that drops, loses, delays and fails requests at random,
// moves leaders and breaks connections, while the producer is flushed and
// closed from callbacks and from other goroutines. Whatever the faults,
// every record gets one outcome and the log agrees with it (see
// randomfaults_checks_test.go for the list).
//
// Each scene is drawn from a seed; by default a fixed range of seeds runs,
// sized for CI. To look further, or to rerun the scene a failure names:
//
//	go test -run TestUnderRandomFaults -randomfaults.seed 100 -randomfaults.scenes 500
//	go test -run TestUnderRandomFaults -randomfaults.seed 1234 -randomfaults.scenes 1 -v
//
// Timing still varies from run to run, so a seed pins the scene's
// settings and the faults' odds, not the exact interleaving: a failing
// seed may need a few runs (-count) to fail again.

import (
	"flag"
	"strconv"
	"testing"
)

// The defaults are the scenes CI runs: seeds 1 to 24 draw every fault,
// Close from a callback, from another goroutine and in a hurry, keyed and
// explicit partitions, short delivery timeouts and tight buffer memory, in
// about 10s under -race on two cores.
var (
	randomFaultsSeed = flag.Uint64("randomfaults.seed", 1,
		"TestUnderRandomFaults...: the first scene's seed")
	randomFaultsScenes = flag.Int("randomfaults.scenes", 24,
		"TestUnderRandomFaults...: how many scenes to run, of consecutive seeds")
	randomFaultsRecords = flag.Int("randomfaults.records", 300,
		"TestUnderRandomFaults...: records per scene")
)

func TestUnderRandomFaultsEveryRecordHasOneOutcomeAndIsWrittenOnceInOrder(t *testing.T) {
	for n := range uint64(*randomFaultsScenes) {
		seed := *randomFaultsSeed + n
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			s := drawScene(seed, *randomFaultsRecords)
			// Said first, and again on failure, so a failing scene can
			// be rerun from the log alone.
			t.Logf("%v", s)
			defer func() {
				if t.Failed() {
					t.Logf("to rerun: -randomfaults.seed %d -randomfaults.scenes 1 -randomfaults.records %d (%v)",
						seed, s.records, s)
				}
			}()
			s.play(t)
		})
	}
}
