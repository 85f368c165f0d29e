package producer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// A consumer's -1 ("no position") is refused with ErrInvalidOffsets, which
// names the entry, before anything else is looked at: the arguments are
// wrong whatever the transaction's state, which the refusal leaves as it
// was (internal/txn's tests show it with a transaction open). Before, the
// offset was committed, and a consumer restarting from it read its input
// again, or skipped it.
func TestSendOffsetsToTransactionRefusesANegativeOffsetWithErrInvalidOffsets(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"in": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.TransactionalID = "tx" })
	err := p.SendOffsetsToTransaction(ctx(t), []Offset{{Topic: "in", Partition: 0, Offset: -1}}, GroupMetadata{ID: "g"})
	require.ErrorIs(t, err, ErrInvalidOffsets)
	require.ErrorContains(t, err, `offsets[0] (topic "in", partition 0, offset -1): negative offset`)
	for _, not := range []error{ErrTransactionAbortable, ErrTransactionFatal, ErrTransactionState} {
		require.NotErrorIs(t, err, not)
	}
	require.ErrorContains(t, p.BeginTransaction(), "InitTransactions first")
}

// Offset and GroupMetadata are structs of this package whose every field
// has its doc, so that go doc shows a user what LeaderEpoch, Generation,
// MemberID, InstanceID and Metadata mean and how their zero values go.
// As aliases of internal/txn's types, go doc showed no field at all.
func TestOffsetAndGroupMetadataDocumentTheirFields(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "transactions.go", nil, parser.ParseComments)
	require.NoError(t, err)
	found := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.TypeSpec)
		if !ok || (spec.Name.Name != "Offset" && spec.Name.Name != "GroupMetadata") {
			return true
		}
		found[spec.Name.Name] = true
		require.False(t, spec.Assign.IsValid(), "%s is an alias: go doc shows none of its fields", spec.Name.Name)
		st, ok := spec.Type.(*ast.StructType)
		require.True(t, ok, "%s is a struct", spec.Name.Name)
		for _, field := range st.Fields.List {
			require.True(t, field.Doc != nil || field.Comment != nil, "%s.%s has no doc", spec.Name.Name, field.Names[0].Name)
		}
		return false
	})
	require.Equal(t, map[string]bool{"Offset": true, "GroupMetadata": true}, found)
}
