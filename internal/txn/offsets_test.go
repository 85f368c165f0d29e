package txn

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/protocol"
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
