package integration

// The checks a transactional scene's outcome must pass, whatever its
// faults:
//
//   - every record has exactly one outcome (outcomes.wait, per
//     transaction);
//   - every record of a committed transaction was acknowledged;
//   - no transaction is left open: every partition's last stable offset
//     reaches its high watermark, or read_committed consumers stall there
//     (a hanging transaction, KIP-890);
//   - a read_committed consumer sees each record of a committed
//     transaction exactly once, at the offset its callback said, and each
//     partition's records in the order produced;
//   - it sees no record of an aborted transaction, and none of one whose
//     end the producer could not tell more than once.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/readback"
)

// check reads the scene's topic back and checks it against the ends and
// outcomes, listing the first few records that break each rule.
func (s *txnScene) check(t *testing.T, seeds []string, ends []txnEnd, recs []txnRecord) {
	committed := 0
	var failed []string
	for i, r := range recs {
		if ends[r.txn] != txnCommitted {
			continue
		}
		committed++
		if r.out.err != nil {
			failed = append(failed, fmt.Sprintf("record %d of transaction %d: %v", i, r.txn, r.out.err))
		}
	}
	assert.Empty(t, firstFew(failed), "%d records of committed transactions failed", len(failed))
	// A transaction the producer ended is closed within milliseconds, as
	// its markers are written; one whose end it could not tell may stay
	// open until the coordinator aborts it at TransactionTimeout.
	within := txnMarkersWait
	if slices.Contains(ends, txnEndUnknown) {
		within = testTimeout
	}
	requireNoOpenTransaction(t, seeds, txnSceneTopic, within)
	// Not readCommitted, which requires the count: the checks below say
	// which records are missing or too many.
	got, err := readback.ReadAll(testCtx(t), seeds, txnSceneTopic, committed,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	assert.NoError(t, err, "reading back %s (read_committed)", txnSceneTopic)

	seen := map[int][]readback.Record{}
	lastInPartition := map[int32]int{}
	var foreign, outOfOrder []string
	for _, g := range got {
		id, ok := valueID(g.Value)
		if !ok || id >= uint64(len(recs)) {
			foreign = append(foreign, fmt.Sprintf("%d@%d: value %q", g.Partition, g.Offset, g.Value))
			continue
		}
		i := int(id)
		seen[i] = append(seen[i], g)
		if last, ok := lastInPartition[g.Partition]; ok && i <= last {
			outOfOrder = append(outOfOrder, fmt.Sprintf("%d@%d: record %d after record %d", g.Partition, g.Offset, i, last))
		}
		lastInPartition[g.Partition] = i
	}
	assert.Empty(t, firstFew(foreign), "records read back that the scene never produced")
	assert.Empty(t, firstFew(outOfOrder), "records read back after one produced later (or twice)")

	var notOnce, misplaced, aborted, unknownTwice []string
	for i, r := range recs {
		read := seen[i]
		switch ends[r.txn] {
		case txnCommitted:
			if len(read) != 1 {
				notOnce = append(notOnce, fmt.Sprintf("record %d of transaction %d: read %d times", i, r.txn, len(read)))
			} else if read[0].Partition != r.out.md.Partition || read[0].Offset != r.out.md.Offset {
				misplaced = append(misplaced, fmt.Sprintf("record %d: acknowledged at %d@%d, read at %d@%d",
					i, r.out.md.Partition, r.out.md.Offset, read[0].Partition, read[0].Offset))
			}
		case txnAborted:
			if len(read) != 0 {
				aborted = append(aborted, fmt.Sprintf("record %d of transaction %d: read %d times (its outcome: %v)",
					i, r.txn, len(read), r.out.err))
			}
		default:
			if len(read) > 1 {
				unknownTwice = append(unknownTwice, fmt.Sprintf("record %d of transaction %d: read %d times", i, r.txn, len(read)))
			}
		}
	}
	assert.Empty(t, firstFew(notOnce), "%d records of committed transactions were not read exactly once", len(notOnce))
	assert.Empty(t, firstFew(misplaced), "%d acknowledged records are not at the offset their callback said", len(misplaced))
	assert.Empty(t, firstFew(aborted), "%d records of aborted transactions are visible to read_committed", len(aborted))
	assert.Empty(t, firstFew(unknownTwice), "%d records of a transaction whose end is unknown were read twice", len(unknownTwice))
	t.Logf("%d records, %d of them committed", len(recs), committed)
}

// txnMarkersWait bounds the wait for the markers of the transactions a
// producer ended: far longer than writing them takes, on a loaded machine
// too, and far shorter than the scenes' TransactionTimeout, so that a
// transaction the producer left open is not mistaken for one it ended.
const txnMarkersWait = 10 * time.Second

// requireNoOpenTransaction waits up to within until no transaction holds
// back a partition of topic: its last stable offset reaches its high
// watermark.
func requireNoOpenTransaction(t *testing.T, seeds []string, topic string, within time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx := testCtx(t)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		stable, err := latestOffsets(ctx, cl, topic, 1) // read_committed
		require.NoError(c, err)
		high, err := latestOffsets(ctx, cl, topic, 0) // read_uncommitted
		require.NoError(c, err)
		for p, h := range high {
			assert.Equal(c, h, stable[p], "partition %d: last stable offset below the high watermark", p)
		}
	}, within, 50*time.Millisecond, "%s: a transaction was still open (hanging) %v after the scene's last one ended", topic, within)
}

// latestOffsets is the latest offset of each partition of topic a consumer
// of the isolation level (0 read_uncommitted, 1 read_committed) may read
// up to: the high watermark or the last stable offset.
func latestOffsets(ctx context.Context, cl *kgo.Client, topic string, isolation int8) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(txnScenePartitions) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // latest
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("ListOffsets: %w", err)
	}
	latest := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("ListOffsets %s/%d: %w", rt.Topic, p.Partition, err)
			}
			latest[p.Partition] = p.Offset
		}
	}
	return latest, nil
}
