package integration

// Our transaction requests (FindCoordinator, AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn, TxnOffsetCommit), decoded by kmsg at every
// version both implement, compared field by field, and re-encoded by kmsg
// (header included) to the very bytes we wrote.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/protocol"
)

// kmsgVersions is every version of api that both this producer and kmsg
// implement, from the oldest. kmsg lagging behind a version we speak is
// logged, not hidden: that version is checked by protocol's golden bytes
// only.
func kmsgVersions(t *testing.T, api protocol.APIKey, kmsgMax int16) []int16 {
	t.Helper()
	ours := protocol.Supported(api)
	require.LessOrEqual(t, ours.Min, ours.Max, "%s: we implement no version", api)
	if ours.Max > kmsgMax {
		t.Logf("%s: kmsg knows up to v%d; newer versions, to v%d, are checked by protocol's golden bytes only", api, kmsgMax, ours.Max)
	}
	var vs []int16
	for v := ours.Min; v <= min(ours.Max, kmsgMax); v++ {
		vs = append(vs, v)
	}
	return vs
}

func TestKmsgFindCoordinatorRequest(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.FindCoordinator, new(kmsg.FindCoordinatorRequest).MaxVersion()) {
		for _, c := range []struct {
			name string
			req  protocol.FindCoordinatorRequest
		}{
			{"group", protocol.FindCoordinatorRequest{CoordinatorKey: "group-√", KeyType: protocol.CoordinatorKeyGroup,
				CoordinatorKeys: []string{"group-√"}}},
			{"transaction", protocol.FindCoordinatorRequest{CoordinatorKey: "txn-1", KeyType: protocol.CoordinatorKeyTransaction,
				CoordinatorKeys: []string{"txn-1", "txn-2", ""}}},
		} {
			if v == 0 && c.req.KeyType != protocol.CoordinatorKeyGroup {
				continue // v0 finds group coordinators only
			}
			t.Run(fmt.Sprintf("v%d/%s", v, c.name), func(t *testing.T) {
				req := c.req
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrFindCoordinatorRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.FindCoordinatorRequest)
						if v <= 3 {
							assert.Equal(t, req.CoordinatorKey, got.CoordinatorKey, "key (v0-v3)")
							assert.Empty(t, got.CoordinatorKeys, "keys are v4+")
						} else {
							assert.Empty(t, got.CoordinatorKey, "key is v0-v3")
							assert.Equal(t, req.CoordinatorKeys, got.CoordinatorKeys, "keys (v4+, KIP-699)")
						}
						if v >= 1 {
							assert.Equal(t, req.KeyType, got.CoordinatorType, "key type")
						}
					}})
			})
		}
	}
}

func TestKmsgAddPartitionsToTxnRequest(t *testing.T) {
	topics := []protocol.AddPartitionsToTxnRequestTopic{
		{Name: "orders", Partitions: []int32{0, 7, 1 << 20}},
		{Name: "audit.log", Partitions: []int32{3}},
	}
	for _, v := range kmsgVersions(t, protocol.AddPartitionsToTxn, new(kmsg.AddPartitionsToTxnRequest).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			// Both shapes are filled; only the version's is written.
			req := protocol.AddPartitionsToTxnRequest{
				V3AndBelowTransactionalID: "txn-ü",
				V3AndBelowProducerID:      1 << 40,
				V3AndBelowProducerEpoch:   12,
				V3AndBelowTopics:          topics,
				Transactions: []protocol.AddPartitionsToTxnRequestTransaction{
					{TransactionalID: "a", ProducerID: 5, ProducerEpoch: 1, VerifyOnly: true, Topics: topics},
					{TransactionalID: "b", ProducerID: 6, ProducerEpoch: 0, Topics: topics[1:]},
				},
			}
			kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrAddPartitionsToTxnRequest(),
				check: func(t *testing.T, v int16, d kmsg.Request) {
					got := d.(*kmsg.AddPartitionsToTxnRequest)
					if v <= 3 {
						assert.Equal(t, req.V3AndBelowTransactionalID, got.TransactionalID, "transactional id")
						assert.Equal(t, req.V3AndBelowProducerID, got.ProducerID, "producer id")
						assert.Equal(t, req.V3AndBelowProducerEpoch, got.ProducerEpoch, "producer epoch")
						require.Len(t, got.Topics, len(topics))
						for i, want := range topics {
							assert.Equal(t, want.Name, got.Topics[i].Topic, "topic %d", i)
							assert.Equal(t, want.Partitions, got.Topics[i].Partitions, "topic %d partitions", i)
						}
						assert.Empty(t, got.Transactions, "transactions are v4+")
						return
					}
					assert.Empty(t, got.Topics, "the single-transaction form is v0-v3")
					require.Len(t, got.Transactions, len(req.Transactions))
					for i, want := range req.Transactions {
						gt := got.Transactions[i]
						assert.Equal(t, want.TransactionalID, gt.TransactionalID, "transaction %d id", i)
						assert.Equal(t, want.ProducerID, gt.ProducerID, "transaction %d producer id", i)
						assert.Equal(t, want.ProducerEpoch, gt.ProducerEpoch, "transaction %d epoch", i)
						assert.Equal(t, want.VerifyOnly, gt.VerifyOnly, "transaction %d verify only", i)
						require.Len(t, gt.Topics, len(want.Topics))
						for j, wt := range want.Topics {
							assert.Equal(t, wt.Name, gt.Topics[j].Topic, "transaction %d topic %d", i, j)
							assert.Equal(t, wt.Partitions, gt.Topics[j].Partitions, "transaction %d topic %d partitions", i, j)
						}
					}
				}})
		})
	}
}

func TestKmsgAddOffsetsToTxnRequest(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.AddOffsetsToTxn, new(kmsg.AddOffsetsToTxnRequest).MaxVersion()) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			req := protocol.AddOffsetsToTxnRequest{TransactionalID: "txn-1", ProducerID: 1<<50 + 3, ProducerEpoch: 32_000, GroupID: "consumers.√"}
			kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrAddOffsetsToTxnRequest(),
				check: func(t *testing.T, v int16, d kmsg.Request) {
					got := d.(*kmsg.AddOffsetsToTxnRequest)
					assert.Equal(t, req.TransactionalID, got.TransactionalID, "transactional id")
					assert.Equal(t, req.ProducerID, got.ProducerID, "producer id")
					assert.Equal(t, req.ProducerEpoch, got.ProducerEpoch, "producer epoch")
					assert.Equal(t, req.GroupID, got.Group, "group")
				}})
		})
	}
}

func TestKmsgEndTxnRequest(t *testing.T) {
	for _, v := range kmsgVersions(t, protocol.EndTxn, new(kmsg.EndTxnRequest).MaxVersion()) {
		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d/commit=%v", v, commit), func(t *testing.T) {
				req := protocol.EndTxnRequest{TransactionalID: "txn-1", ProducerID: 77, ProducerEpoch: 4, Committed: commit}
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrEndTxnRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.EndTxnRequest)
						assert.Equal(t, req.TransactionalID, got.TransactionalID, "transactional id")
						assert.Equal(t, req.ProducerID, got.ProducerID, "producer id")
						assert.Equal(t, req.ProducerEpoch, got.ProducerEpoch, "producer epoch")
						assert.Equal(t, req.Committed, got.Commit, "committed")
					}})
			})
		}
	}
}

func TestKmsgTxnOffsetCommitRequest(t *testing.T) {
	meta := "checkpoint √"
	instance := "instance-1"
	for _, v := range kmsgVersions(t, protocol.TxnOffsetCommit, new(kmsg.TxnOffsetCommitRequest).MaxVersion()) {
		for _, c := range []struct {
			name     string
			instance *string
		}{{"static member", &instance}, {"dynamic member", nil}} {
			t.Run(fmt.Sprintf("v%d/%s", v, c.name), func(t *testing.T) {
				req := protocol.TxnOffsetCommitRequest{
					TransactionalID: "txn-1", GroupID: "consumers", ProducerID: 1 << 33, ProducerEpoch: 2,
					GenerationID: 9, MemberID: "member-abc", GroupInstanceID: c.instance,
					Topics: []protocol.TxnOffsetCommitRequestTopic{
						{Name: "input", Partitions: []protocol.TxnOffsetCommitRequestPartition{
							{PartitionIndex: 0, CommittedOffset: 1 << 40, CommittedLeaderEpoch: 5, CommittedMetadata: &meta},
							{PartitionIndex: 3, CommittedOffset: 0, CommittedLeaderEpoch: -1, CommittedMetadata: nil},
						}},
						{Name: "other", Partitions: []protocol.TxnOffsetCommitRequestPartition{
							{PartitionIndex: 1, CommittedOffset: 17, CommittedLeaderEpoch: 0, CommittedMetadata: new(string)},
						}},
					},
				}
				kmsgCheckRequest(t, v, kmsgRequest{ours: &req, kmsg: kmsg.NewPtrTxnOffsetCommitRequest(),
					check: func(t *testing.T, v int16, d kmsg.Request) {
						got := d.(*kmsg.TxnOffsetCommitRequest)
						assert.Equal(t, req.TransactionalID, got.TransactionalID, "transactional id")
						assert.Equal(t, req.GroupID, got.Group, "group")
						assert.Equal(t, req.ProducerID, got.ProducerID, "producer id")
						assert.Equal(t, req.ProducerEpoch, got.ProducerEpoch, "producer epoch")
						if v >= 3 {
							assert.Equal(t, req.GenerationID, got.Generation, "generation (KIP-447)")
							assert.Equal(t, req.MemberID, got.MemberID, "member id")
							assert.Equal(t, req.GroupInstanceID, got.InstanceID, "group instance id")
						} else {
							assert.Equal(t, int32(-1), got.Generation, "generation is v3+: the default")
							assert.Nil(t, got.InstanceID, "group instance id is v3+")
						}
						require.Len(t, got.Topics, len(req.Topics))
						for i, wt := range req.Topics {
							gt := got.Topics[i]
							assert.Equal(t, wt.Name, gt.Topic, "topic %d", i)
							require.Len(t, gt.Partitions, len(wt.Partitions))
							for j, wp := range wt.Partitions {
								gp := gt.Partitions[j]
								what := fmt.Sprintf("topic %d partition %d", i, j)
								assert.Equal(t, wp.PartitionIndex, gp.Partition, "%s index", what)
								assert.Equal(t, wp.CommittedOffset, gp.Offset, "%s offset", what)
								if v >= 2 {
									assert.Equal(t, wp.CommittedLeaderEpoch, gp.LeaderEpoch, "%s leader epoch", what)
								} else {
									assert.Equal(t, int32(-1), gp.LeaderEpoch, "%s leader epoch is v2+: the default", what)
								}
								assert.Equal(t, wp.CommittedMetadata, gp.Metadata, "%s metadata (null stays null)", what)
							}
						}
					}})
			})
		}
	}
}
