package txn

import (
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/brokertext"
)

// partitionCause is why a transaction can no longer commit when one
// partition is to blame: AddPartitionsToTxn refused it, a batch of it
// failed, a record of it was refused. The transaction's error names the
// partition, as later calls quote it (CommitTransaction must say which
// partition failed); a record of that very partition, refused for it,
// comes in an error that names the partition already (the root package's
// PartitionError), so it quotes the cause without the name (forRecordOf),
// rather than say the partition twice.
type partitionCause struct {
	tp accumulator.TopicPartition
	// named is what happened, naming the partition ("a batch of t-0
	// failed"); unnamed the same said of the partition a record's own
	// error names ("an earlier batch failed").
	named, unnamed string
	err            error
	omitName       bool
}

// newPartitionCause is the cause err, of tp, said as what (a format with
// one %s, for the partition's name) or, to a record of tp, as unnamed. tp
// may be one an answer named (AddPartitionsToTxn), its topic the broker's
// text, which is quoted unless it is a topic name (brokertext.Topic).
func newPartitionCause(tp accumulator.TopicPartition, what, unnamed string, err error) *partitionCause {
	name := fmt.Sprintf("%s-%d", brokertext.Topic(tp.Topic), tp.Partition)
	return &partitionCause{tp: tp, named: fmt.Sprintf(what, name), unnamed: unnamed, err: err}
}

func (c *partitionCause) Error() string {
	if c.omitName {
		return c.unnamed + ": " + c.err.Error()
	}
	return c.named + ": " + c.err.Error()
}

func (c *partitionCause) Unwrap() error { return c.err }

// forRecordOf is the transaction's error (lastErr) as told to a record of
// tp that it fails: without tp's name if the cause is tp's, the record's
// error naming its partition. The cause stays the transaction's once its
// abort has begun, until the abort ends. m.mu must be held.
func (m *Manager) forRecordOf(tp accumulator.TopicPartition) error {
	cause := m.lastCause
	if r, ok := cause.(*refusal); ok {
		cause = r.err // the coordinator's answer, in its words
	}
	var c *partitionCause
	if (m.state != AbortableError && m.state != Aborting) || !errors.As(cause, &c) || c != cause || c.tp != tp {
		return m.lastErr
	}
	unnamed := *c
	unnamed.omitName = true
	return fmt.Errorf("%w: %w", ErrAbortable, &unnamed)
}
