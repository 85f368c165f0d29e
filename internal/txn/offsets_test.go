package txn

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Offsets no group coordinator should commit are refused before anything
// is sent, naming the entry, and leave the transaction as it was: the
// caller may send good ones and commit. A consumer's -1 ("no position")
// committed, a consumer restarting from it applied auto.offset.reset and
// read its input again, or skipped it, in an exactly-once pipeline (the
// Java client's OffsetAndMetadata refuses a negative offset); an empty
// group ID went to a coordinator that refuses it (INVALID_GROUP_ID).
func TestSendOffsetsRefusesBadOffsetsBeforeSendingAnything(t *testing.T) {
	good := Offset{Topic: "in", Partition: 0, Offset: 10}
	group := Group{ID: "g"}
	for _, tc := range []struct {
		name    string
		offsets []Offset
		group   Group
		says    string
	}{
		{"no position", []Offset{good, {Topic: "in", Partition: 1, Offset: -1}},
			group, `offsets[1] (topic "in", partition 1, offset -1): negative offset`},
		{"negative partition", []Offset{{Topic: "in", Partition: -1, Offset: 5}},
			group, `offsets[0] (topic "in", partition -1, offset 5): negative partition`},
		{"empty topic", []Offset{{Partition: 0, Offset: 5}},
			group, `offsets[0] (topic "", partition 0, offset 5): empty topic name`},
		{"invalid topic", []Offset{{Topic: "a/b", Partition: 0, Offset: 5}},
			group, `offsets[0] (topic "a/b", partition 0, offset 5): topic name has '/'`},
		{"long topic", []Offset{{Topic: strings.Repeat("a", 250), Offset: 5}},
			group, "topic name is 250 characters, the limit is 249"},
		{"empty group ID", []Offset{good}, Group{}, "empty group ID"},
		{"empty group ID, no offsets", nil, Group{}, "empty group ID"},
	} {
		for _, v2 := range []bool{false, true} {
			r := initialized(t, v2)
			before := len(r.coords.apis())
			err := r.m.SendOffsets(context.Background(), tc.offsets, tc.group)
			require.ErrorIs(t, err, ErrInvalidOffsets, "%s (v2 %v)", tc.name, v2)
			require.ErrorContains(t, err, "SendOffsetsToTransaction: invalid offsets: ", tc.name)
			require.ErrorContains(t, err, tc.says, tc.name)
			for _, not := range []error{ErrAbortable, ErrFatal, ErrState} {
				require.NotErrorIs(t, err, not, "%s: a refused argument is no failure of the transaction", tc.name)
			}
			require.Len(t, r.coords.apis(), before, "%s (v2 %v): nothing is sent", tc.name, v2)
			require.Equal(t, InTransaction, r.state(), tc.name)

			// Nothing was booked: the commit is neither refused for
			// missing offsets nor, the transaction being empty, sent.
			require.NoError(t, r.m.Commit(context.Background()), tc.name)
			require.NotContains(t, r.coords.apis(), protocol.EndTxn, "%s: the refused offsets made the transaction worth ending", tc.name)

			// Good offsets go as ever.
			require.NoError(t, r.m.Begin())
			require.NoError(t, r.m.SendOffsets(context.Background(), []Offset{good}, group), tc.name)
			require.NoError(t, r.m.Commit(context.Background()), tc.name)
			require.Contains(t, r.coords.apis(), protocol.EndTxn, tc.name)
		}
	}
}

// Offset 0 and partition 0, the first of each, are good ones.
func TestSendOffsetsTakesTheFirstOffsetOfTheFirstPartition(t *testing.T) {
	r := initialized(t, true)
	require.NoError(t, r.m.SendOffsets(context.Background(), []Offset{{Topic: "in"}}, Group{ID: "g"}))
	commit := r.coords.last().req.(*protocol.TxnOffsetCommitRequest)
	require.Equal(t, int64(0), commit.Topics[0].Partitions[0].CommittedOffset)
}

func TestSendOffsets(t *testing.T) {
	group := Group{ID: "g", Generation: 7, MemberID: "m"}
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: -1}, {Topic: "in", Partition: 1, Offset: 20, LeaderEpoch: 3}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		require.NoError(t, r.m.SendOffsets(context.Background(), offsets, group))
		apis := r.coords.apis()
		if v2 {
			require.Equal(t, protocol.TxnOffsetCommit, apis[len(apis)-1])
			require.NotContains(t, apis, protocol.AddOffsetsToTxn, "v2: TxnOffsetCommit adds the group itself")
			require.Equal(t, int16(5), r.coords.last().versions.Max)
		} else {
			require.Equal(t, []protocol.APIKey{protocol.AddOffsetsToTxn, protocol.TxnOffsetCommit}, apis[len(apis)-2:])
			require.Equal(t, int16(4), r.coords.last().versions.Max)
		}
		commit := r.coords.last().req.(*protocol.TxnOffsetCommitRequest)
		require.Equal(t, int32(7), commit.GenerationID)
		require.Equal(t, "m", commit.MemberID)
		require.Len(t, commit.Topics, 1)
		require.Len(t, commit.Topics[0].Partitions, 2)
		require.NoError(t, r.m.Commit(context.Background()))
		require.Contains(t, r.coords.apis(), protocol.EndTxn, "offsets alone make the transaction worth ending")
	}
}

// A TxnOffsetCommit answer that leaves a partition out says nothing of its
// offset: the request goes again, as the Java client keeps such a
// partition pending. Before, the offsets counted as sent, and the
// transaction could commit without them, the consumer then reading its
// input again.
func TestSendOffsetsAnsweredWithoutThePartitionAsksAgain(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}, {Topic: "in", Partition: 1, Offset: 20}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.coords.leaveOutPartitions(protocol.TxnOffsetCommit, 1)
		require.NoError(t, r.retrying(func() error { return r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"}) }))
		commits := 0
		for _, api := range r.coords.apis() {
			if api == protocol.TxnOffsetCommit {
				commits++
			}
		}
		require.Equal(t, 2, commits, "v2=%v: asked again after the answer that left the partitions out", v2)
		require.NoError(t, r.m.Commit(context.Background()))
	}
}

// A group coordinator answering REQUEST_TIMED_OUT timed out writing the
// offsets, as one that lost its partition of the offsets log does: it is
// found again before the retry, as the Java client's TxnOffsetCommit
// handler does. Before, the retry went to the same broker.
func TestSendOffsetsFindsTheGroupCoordinatorAgainAfterATimeout(t *testing.T) {
	group := Group{ID: "g"}
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.coords.fail(protocol.TxnOffsetCommit, kerr.RequestTimedOut)
		forgotten := r.coords.forgotten
		require.NoError(t, r.retrying(func() error { return r.m.SendOffsets(context.Background(), offsets, group) }))
		require.Equal(t, forgotten+1, r.coords.forgotten, "v2=%v: the group coordinator found again", v2)
		require.NoError(t, r.m.Commit(context.Background()))
	}
}

// A group coordinator older than Kafka 2.5 speaks TxnOffsetCommit up to
// v2, which has no fields for the consumer's group membership: offsets
// with one are not sent, rather than commit without the check that
// refuses a consumer the group rebalanced away (they went at v2 without
// it, and committed), and the producer stops, as the Java client's does
// on a request no version of which fits. Left abortable, the transaction
// was aborted, and the next one met the same refusal, for ever: a loop
// following the docs committed nothing and never ended. A group without
// membership commits there, unchecked, as the Java client's does.
func TestOffsetsWithAMembershipAnOldGroupCoordinatorCannotCheckStopTheProducer(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	old := map[protocol.APIKey]protocol.VersionRange{protocol.TxnOffsetCommit: {Min: 0, Max: 2}}
	instance := "i"
	ctx := context.Background()
	for _, group := range []Group{{ID: "g", Generation: 7}, {ID: "g", MemberID: "m"}, {ID: "g", InstanceID: &instance}} {
		r := initialized(t, false)
		r.coords.speaks = old
		err := r.m.SendOffsets(ctx, offsets, group)
		require.ErrorIs(t, err, ErrFatal, "%+v", group)
		require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
		var verr *protocol.VersionError
		require.ErrorAs(t, err, &verr)
		require.ErrorContains(t, err, "(Kafka before 2.5) cannot check the consumer's group membership")
		require.ErrorContains(t, err, "create a new producer and send the group's ID alone, or upgrade the brokers")
		require.NotContains(t, r.coords.apis(), protocol.TxnOffsetCommit, "%+v", group)
		require.Equal(t, FatalError, r.state())
		require.ErrorIs(t, r.m.Commit(ctx), ErrFatal)
		require.ErrorIs(t, r.m.Abort(ctx), ErrFatal)
		require.ErrorIs(t, r.m.Begin(), ErrFatal)
	}

	r := initialized(t, false)
	r.coords.speaks = old
	require.NoError(t, r.m.SendOffsets(ctx, offsets, Group{ID: "g"}))
	require.Equal(t, protocol.VersionRange{Min: 0, Max: 4}, r.coords.last().versions)
	require.NoError(t, r.m.Commit(ctx))
}

// The refusal names the group and member ids by their start, not whole:
// ids of a megabyte, which the caller may give, made an error of two.
func TestAnOldGroupCoordinatorsRefusalDoesNotQuoteLongIDsWhole(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	refusal := func(group Group) error {
		r := initialized(t, false)
		r.coords.speaks = map[protocol.APIKey]protocol.VersionRange{protocol.TxnOffsetCommit: {Min: 0, Max: 2}}
		err := r.m.SendOffsets(context.Background(), offsets, group)
		require.ErrorIs(t, err, ErrFatal)
		require.ErrorContains(t, err, "cannot check the consumer's group membership")
		return err
	}
	short := refusal(Group{ID: "g", MemberID: "m"})
	long := refusal(Group{ID: strings.Repeat("g", 1<<20), MemberID: strings.Repeat("m", 1<<20)})
	require.Less(t, len(long.Error())-len(short.Error()), 300, "%.1000s", long)
}

// A Group and Offsets left at their zero values where unknown (the
// generation and leader epochs) commit them as unknown, -1, as the Java
// client's ConsumerGroupMetadata(groupId) and OffsetAndMetadata(offset) do.
// Before, generation 0 went as a generation the coordinator refused
// (ILLEGAL_GENERATION), and leader epoch 0 as an epoch a consumer
// restarting from it would take later epochs for a truncation by.
func TestSendOffsetsCommitsZeroGenerationAndEpochAsUnknown(t *testing.T) {
	r := initialized(t, false)
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}, {Topic: "in", Partition: 1, Offset: 20, LeaderEpoch: 3}}
	require.NoError(t, r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"}))
	commit := r.coords.last().req.(*protocol.TxnOffsetCommitRequest)
	require.Equal(t, int32(-1), commit.GenerationID)
	require.Equal(t, int32(-1), commit.Topics[0].Partitions[0].CommittedLeaderEpoch)
	require.Equal(t, int32(3), commit.Topics[0].Partitions[1].CommittedLeaderEpoch, "a known epoch goes as it is")
}

// A SendOffsets cut short may have left its offsets out of the
// transaction: a commit then would write the records without them, and
// the consumer, restarted, would read their input again and write their
// output twice. The commit refuses, sending nothing, until SendOffsets
// succeeds for the same group and partitions (another partition's does not
// do); sent again, the same offsets let it commit.
func TestACommitAfterSendOffsetsFailedWaitsForThemToBeSentAgain(t *testing.T) {
	group := Group{ID: "g", Generation: -1}
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: -1}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		g, err := r.sendOffsetsCutShort(offsets, group)
		require.ErrorIs(t, err, context.Canceled, "v2=%v", v2)
		require.ErrorContains(t, err, "call it again, or AbortTransaction")
		require.Equal(t, InTransaction, r.state(), "v2=%v: the transaction may still commit, once its offsets are in", v2)
		close(g.open)

		err = r.m.Commit(context.Background())
		require.ErrorIs(t, err, ErrState, "v2=%v: a commit without the offsets", v2)
		require.NotErrorIs(t, err, context.Canceled, "the commit's own ctx did not end")
		require.ErrorContains(t, err, "call SendOffsetsToTransaction again, or AbortTransaction")
		require.NotContains(t, r.coords.apis(), protocol.EndTxn, "v2=%v: nothing committed", v2)
		require.Equal(t, InTransaction, r.state())

		require.NoError(t, r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Partition: 1, Offset: 5, LeaderEpoch: -1}}, group))
		require.ErrorIs(t, r.m.Commit(context.Background()), ErrState, "v2=%v: another partition's offsets do not stand for the missing ones", v2)

		require.NoError(t, r.m.SendOffsets(context.Background(), offsets, group), "v2=%v: the same offsets again", v2)
		require.NoError(t, r.m.Commit(context.Background()), "v2=%v", v2)
		require.True(t, r.coords.lastEndTxn(t).Committed, "v2=%v: EndTxn(commit)", v2)
		r.endedWithANewEpochIfV1(v2)
		require.Equal(t, Ready, r.state())
	}
}

// A SendOffsets cut short leaves the abort as the other way on, and its
// offsets are not missing from the next transaction.
func TestATransactionWhoseSendOffsetsFailedMayBeAborted(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		g, err := r.sendOffsetsCutShort([]Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}, Group{ID: "g"})
		require.ErrorIs(t, err, context.Canceled, "v2=%v", v2)
		close(g.open)
		require.NoError(t, r.m.Abort(context.Background()), "v2=%v", v2)
		require.False(t, r.coords.lastEndTxn(t).Committed, "v2=%v: EndTxn(abort)", v2)
		r.endedWithANewEpochIfV1(v2)

		require.NoError(t, r.m.Begin(), "v2=%v: the next transaction", v2)
		r.admit(tp0)
		require.NoError(t, r.m.Commit(context.Background()), "v2=%v: the next transaction commits", v2)
	}
}

func TestSendOffsetsOfAConsumerRebalancedAwayIsAbortable(t *testing.T) {
	r := initialized(t, true)
	r.coords.fail(protocol.TxnOffsetCommit, kerr.IllegalGeneration)
	err := r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, kerr.IllegalGeneration)
	require.ErrorIs(t, r.m.SendOffsets(context.Background(), nil, Group{ID: "g"}), ErrAbortable)
}

// An offset refused for its topic's name names the topic by its start, not
// whole: a name of a megabyte, refused for its length or for a character,
// made an error of a megabyte.
func TestAnOffsetsRefusedTopicIsNotQuotedWhole(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	for _, name := range []string{long, long + "/"} {
		r := initialized(t, true)
		err := r.m.SendOffsets(context.Background(), []Offset{{Topic: name, Offset: 5}}, Group{ID: "g"})
		require.ErrorIs(t, err, ErrInvalidOffsets)
		require.ErrorContains(t, err, `offsets[0] (topic "aaaa`)
		require.Less(t, len(err.Error()), 300, "%.400s", err)
	}
}
