package integration

// The transaction coordinator's broker killed in the middle of a commit, on
// the real 3-broker cluster (kafka/broker.sh start --nodes 3: the
// transaction log replicated 3 times, min.insync.replicas 2). The
// coordinator's state is in the replicated transaction log, so a broker
// taking over must finish what the dead one started: each transaction
// commits or aborts whole, never half, and the producer goes on.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
)

// txnKill is when, in a commit, the coordinator's broker dies.
type txnKill struct {
	name string
	// kill runs the commit and kills the coordinator's broker on the way;
	// it returns CommitTransaction's error.
	kill func(t *testing.T, c *kafkaCluster, p *producer.Producer, coordinator int32) error
}

var txnKills = []txnKill{
	{"killed with the records written, before EndTxn", func(t *testing.T, c *kafkaCluster, p *producer.Producer, coordinator int32) error {
		require.NoError(t, p.Flush(testCtx(t)))
		c.kill(t, coordinator)
		return commitWithin(p, clusterWait)
	}},
	{"killed with EndTxn unanswered (the broker frozen, then killed)", func(t *testing.T, c *kafkaCluster, p *producer.Producer, coordinator int32) error {
		require.NoError(t, p.Flush(testCtx(t)))
		// SIGSTOP: the broker takes the EndTxn on its socket and never
		// handles it; SIGKILL then, as broker.sh kill sends it.
		pid := c.pid(t, coordinator)
		require.NoError(t, freeze(pid))
		done := make(chan error, 1)
		go func() { done <- commitWithin(p, clusterWait) }()
		c.kill(t, coordinator)
		return <-done
	}},
	{"killed once EndTxn is answered, the markers on their way", func(t *testing.T, c *kafkaCluster, p *producer.Producer, coordinator int32) error {
		err := commitWithin(p, clusterWait)
		c.kill(t, coordinator)
		return err
	}},
}

// commitWithin commits, bounded by d.
func commitWithin(p *producer.Producer, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.CommitTransaction(ctx)
}

func TestTxnClusterCoordinatorKilled(t *testing.T) {
	const perTxn = 600 // 100 per partition
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := clusterFor(t)
			seeds := c.seeds
			setTransactionVersion(t, seeds, proto.level)
			topic := newTopic(t, seeds, clusterPartitions)
			id := txnID(t, "coordinator")
			p, log := newTxnProducer(t, seeds, id, proto, func(cfg *producer.Config) {
				cfg.RequestTimeout = 10 * time.Second
			})

			var txns [][]*producer.Record // every transaction, in order
			committed := map[int]bool{}   // what the producer said of each
			next := 0
			transaction := func() ([]*producer.Record, *outcomes) {
				require.NoError(t, p.BeginTransaction())
				recs := make([]*producer.Record, perTxn)
				o := newOutcomes(perTxn)
				for i := range recs {
					recs[i] = recordFor(topic, next, nil)
					recs[i].Partition, recs[i].ExplicitPartition = int32(i%clusterPartitions), true
					next++
					p.Produce(testCtx(t), recs[i], o.callback(i))
				}
				txns = append(txns, recs)
				return recs, o
			}
			// settle ends a transaction whose commit failed: abort it if it
			// cannot commit, or else commit again (the call may be
			// repeated), which a commit already sent requires, since the
			// coordinator may have committed it.
			settle := func(n int, err error) {
				for try := 1; err != nil; try++ {
					t.Logf("transaction %d: CommitTransaction (try %d): %v", n, try, err)
					require.NotErrorIs(t, err, producer.ErrTransactionFatal, "log:\n%s", log)
					if errors.Is(err, producer.ErrTransactionAbortable) {
						require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
						return
					}
					require.Less(t, try, 3, "transaction %d: the commit did not end in 3 tries; log:\n%s", n, log)
					err = commitWithin(p, clusterWait)
				}
				committed[n] = true
			}

			var faults []string
			for _, k := range txnKills {
				coordinator := txnCoordinator(t, seeds, id)
				_, o := transaction()
				mark := log.len()
				start := time.Now()
				err := k.kill(t, c, p, coordinator)
				took := time.Since(start)
				settle(len(txns)-1, err)
				o.wait(t)
				retries := log.since(mark, "coordinator request failed")
				first := ""
				if len(retries) > 0 {
					first = "; first retry: " + retries[0]
				}
				faults = append(faults, fmt.Sprintf("%s: broker %d; committed %v after %v, %d coordinator retries%s",
					k.name, coordinator, committed[len(txns)-1], took.Round(time.Millisecond), len(retries), first))

				// The producer goes on with a broker down.
				_, o = transaction()
				requireAllAcked(t, o.wait(t))
				settle(len(txns)-1, commitWithin(p, clusterWait))
				require.True(t, committed[len(txns)-1], "a transaction after the kill commits; log:\n%s", log)

				c.startNode(t, coordinator)
				c.awaitFullISR(t, topic)
				c.awaitFullISR(t, "__transaction_state") // or the next coordinator could not write alone
			}

			// All or nothing, per transaction, as a read_committed
			// consumer sees it.
			want := 0
			for n := range txns {
				if committed[n] {
					want += perTxn
				}
			}
			got := readCommitted(t, seeds, topic, want)
			seen := map[uint64]int{}
			for _, r := range got {
				id, ok := valueID(r.Value)
				require.True(t, ok)
				seen[id]++
			}
			for n, recs := range txns {
				visible := 0
				for _, r := range recs {
					id, _ := valueID(r.Value)
					require.LessOrEqual(t, seen[id], 1, "transaction %d: record %d read twice", n, id)
					visible += seen[id]
				}
				if committed[n] {
					require.Equal(t, perTxn, visible, "transaction %d was committed: all its records are visible", n)
				} else {
					require.Zero(t, visible, "transaction %d was aborted: none of its records is visible", n)
				}
			}
			t.Logf("%s: %d transactions of %d records", proto.name, len(txns), perTxn)
			for _, f := range faults {
				t.Log(f)
			}
		})
	}
}

// txnCoordinator asks the cluster which broker coordinates transactional
// id.
func txnCoordinator(t *testing.T, seeds []string, id string) int32 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = 1 // transaction
	req.CoordinatorKey = id
	req.CoordinatorKeys = []string{id}
	resp, err := req.RequestWith(testCtx(t), cl)
	require.NoError(t, err)
	node, code := resp.NodeID, resp.ErrorCode
	if len(resp.Coordinators) > 0 {
		node, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
	}
	require.NoError(t, kerr.ErrorForCode(code), "FindCoordinator for %q", id)
	return node
}

// pid is the process id of broker id, as broker.sh nodes says.
func (c *kafkaCluster) pid(t *testing.T, id int32) int {
	t.Helper()
	out, err := c.try("nodes")
	require.NoError(t, err)
	nodes, err := parseNodes(out)
	require.NoError(t, err)
	for _, n := range nodes {
		if n.id == id {
			require.True(t, n.running, "broker %d is not running", id)
			return n.pid
		}
	}
	t.Fatalf("broker.sh nodes does not list broker %d", id)
	return 0
}
