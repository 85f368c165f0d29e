package integration

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
)

// txnRequestFaults are the errors the scene's requests meet: each a
// broker's answer the producer must retry, or end the transaction on,
// without losing or repeating a record.
var txnRequestFaults = []struct {
	key kmsg.Key
	err *kerr.Error
}{
	{kmsg.Produce, kerr.NotLeaderForPartition},
	{kmsg.Produce, kerr.NotEnoughReplicas},
	{kmsg.Produce, kerr.RequestTimedOut},
	{kmsg.AddPartitionsToTxn, kerr.ConcurrentTransactions},
	{kmsg.AddPartitionsToTxn, kerr.CoordinatorLoadInProgress},
	{kmsg.AddPartitionsToTxn, kerr.NotCoordinator},
	{kmsg.EndTxn, kerr.ConcurrentTransactions},
	{kmsg.EndTxn, kerr.CoordinatorNotAvailable},
	{kmsg.EndTxn, kerr.NotCoordinator},
	{kmsg.FindCoordinator, kerr.CoordinatorNotAvailable},
}

// injectFaults makes the cluster's requests fail at the scene's odds, and
// starts a goroutine that moves leaders, drops answers and connections and
// delays produce requests. The returned stop ends every fault and says how
// often each of txnRequestFaults fired; it may be called again.
func (s *txnScene) injectFaults(c *embedded.Cluster) (stop func() []string) {
	var active atomic.Bool
	active.Store(true)
	var handles []*kfake.FaultHandle
	for _, f := range txnRequestFaults {
		handles = append(handles, c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{f.key}, Err: f.err, Count: -1,
			When: func(kmsg.Request) bool {
				// A third of the scene's odds each: ten faults at
				// full odds would fail most requests of a key.
				return active.Load() && s.random.chance(s.faultOdds) && s.random.IntN(3) == 0
			}}))
	}

	done := make(chan struct{})
	var background sync.WaitGroup
	background.Add(1)
	go func() {
		defer background.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(5+s.random.IntN(40)) * time.Millisecond):
			}
			if s.random.chance(s.faultOdds) {
				s.backgroundFault(c)
			}
		}
	}()

	var once sync.Once
	var hits []string
	return func() []string {
		once.Do(func() {
			close(done)
			background.Wait()
			active.Store(false)
			for i, h := range handles {
				f := txnRequestFaults[i]
				hits = append(hits, fmt.Sprintf("%s %s=%d", f.key.Name(), f.err.Message, h.Hits()))
				h.Remove()
			}
		})
		return hits
	}
}

// backgroundFault upsets the cluster under the producer.
func (s *txnScene) backgroundFault(c *embedded.Cluster) {
	switch s.random.IntN(4) {
	case 0:
		_ = c.MoveLeader(txnSceneTopic, int32(s.random.IntN(txnScenePartitions)), int32(s.random.IntN(3)))
	case 1:
		c.DropNextProduceResponse(1)
	case 2:
		c.CloseConnOnNextProduce(1)
	default:
		// Past the short timeouts: the producer gives up on a request
		// the broker still takes. Left out under -race, which reports
		// a race inside kfake's SleepControl, not in the producer.
		if s.short && !raceEnabled {
			c.DelayNextProduce(1, time.Duration(300+s.random.IntN(700))*time.Millisecond)
		}
	}
}

// lockedRand is a random source shared by the scene's goroutines: kfake's,
// which consult the faults, and the one injecting background faults.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// chance reports true with probability p.
func (l *lockedRand) chance(p float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64() < p
}
