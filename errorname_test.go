package producer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestErrorNames(t *testing.T) {
	wrap := func(err error) error { return &PartitionError{Topic: "t", Partition: 0, Err: err} }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(kerr.NotLeaderOrFollower), "NOT_LEADER_OR_FOLLOWER"},
		{wrap(kerr.ForCode(30000)), "UNKNOWN_ERROR_CODE_30000"},
		{wrap(&RecordTooLargeError{Size: 2, Limit: 1, Of: "MaxRequestSize"}), "RECORD_TOO_LARGE"},
		{wrap(fmt.Errorf("%w; last error: %w", ErrDeliveryTimeout, kerr.NotEnoughReplicas)), "DELIVERY_TIMEOUT"},
		{wrap(ErrBufferFull), "BUFFER_FULL"},
		{wrap(ErrClosed), "CLOSED"},
		{wrap(fmt.Errorf("%w, not this one: %v", ErrBatchRefused, kerr.InvalidRecord)), "BATCH_REFUSED"},
		{wrap(fmt.Errorf("%w: fenced: %w", ErrProducerStopped, kerr.ProducerFenced)), "PRODUCER_STOPPED"},
		{wrap(fmt.Errorf("%w; not retried: %w", ErrProducerStopped, kerr.NotEnoughReplicas)), "PRODUCER_STOPPED"},
		{wrap(&AuthError{Addr: "b:9093", Mechanism: "TLS", Err: x509.UnknownAuthorityError{}}), "AUTHENTICATION"},
		{wrap(&AuthError{Addr: "b:9092", Mechanism: "PLAIN", Err: kerr.SaslAuthenticationFailed}), "SASL_AUTHENTICATION_FAILED"},
		{fmt.Errorf("SendOffsetsToTransaction: %w: empty group ID", ErrInvalidOffsets), "INVALID_OFFSETS"},
		// A Send whose ctx ended, as its doc names them, before the record
		// was buffered and after; a Produce whose ctx ended its wait for
		// memory found memory short.
		{wrap(fmt.Errorf("not sent: %w", context.Canceled)), "CANCELED"},
		{wrap(&unacknowledged{context.DeadlineExceeded}), "DEADLINE_EXCEEDED"},
		{wrap(fmt.Errorf("waiting for buffer memory: %w: before the ctx ended (%w)", ErrBufferFull, context.DeadlineExceeded)), "BUFFER_FULL"},
		{errors.New("something else"), "OTHER"},
		{nil, ""}, // a success is no failure of any kind
	} {
		require.Equal(t, tc.want, ErrorName(tc.err), "ErrorName(%v)", tc.err)
	}
}

// ErrorName of a real Send whose ctx was done is CANCELED, but that of a
// nil record is INVALID_RECORD, as Produce refuses it: the refusal comes
// before the ctx is looked at.
func TestErrorNameOfASendWhoseCtxWasDoneIsCanceledUnlessItsRecordIsNil(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Send(done, &Record{Topic: "t"})
	require.Equal(t, "CANCELED", ErrorName(err), "%v", err)
	_, err = p.Send(done, nil)
	require.Equal(t, "INVALID_RECORD", ErrorName(err), "%v", err)
}

// A record refused because its transaction must be aborted, or because the
// transactional producer cannot continue, is named for that, not for the
// failure that caused it: the transaction manager refuses with its state's
// error, which wraps that cause (kprod counted 945 records too large where
// 22 were). A record's own failure keeps its name, in a transaction too.
func TestErrorNamesOfTransactionRefusals(t *testing.T) {
	wrap := func(err error) error { return &PartitionError{Topic: "t", Partition: -1, Err: err} }
	tooLarge := &RecordTooLargeError{Size: 2, Limit: 1, Of: "MaxRequestSize"}
	// As the transaction manager makes its abortable and fatal states'
	// errors, and adds a partition's batches to its refusal.
	abortable := func(cause error) error { return fmt.Errorf("%w: %w", ErrTransactionAbortable, cause) }
	fatal := func(cause error) error { return fmt.Errorf("%w: %w", ErrTransactionFatal, cause) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(abortable(tooLarge)), "TRANSACTION_MUST_ABORT"},
		{wrap(abortable(wrap(kerr.NotEnoughReplicas))), "TRANSACTION_MUST_ABORT"},
		{wrap(abortable(fmt.Errorf("%w; last error: %w", ErrDeliveryTimeout, kerr.NotEnoughReplicas))), "TRANSACTION_MUST_ABORT"},
		{wrap(fmt.Errorf("adding partitions to the transaction: %w", abortable(kerr.CoordinatorNotAvailable))), "TRANSACTION_MUST_ABORT"},
		{wrap(fatal(kerr.ProducerFenced)), "TRANSACTION_FATAL"},
		{wrap(fatal(fmt.Errorf("%w: %w", kerr.ProducerFenced, kerr.InvalidProducerEpoch))), "TRANSACTION_FATAL"},
		{wrap(fatal(fmt.Errorf("%w: fenced: %w", ErrProducerStopped, kerr.ProducerFenced))), "TRANSACTION_FATAL"},
		// The records' own failures, the ones that made the state so.
		{wrap(tooLarge), "RECORD_TOO_LARGE"},
		{wrap(kerr.NotEnoughReplicas), "NOT_ENOUGH_REPLICAS"},
		{wrap(kerr.TransactionAbortable), "TRANSACTION_ABORTABLE"},
		{wrap(kerr.ProducerFenced), "PRODUCER_FENCED"},
		{wrap(fmt.Errorf("%w: fenced: %w", ErrProducerStopped, kerr.ProducerFenced)), "PRODUCER_STOPPED"},
		// A refusal further in than the record's own reason.
		{wrap(fmt.Errorf("%w: %w", ErrClosed, fatal(kerr.ProducerFenced))), "CLOSED"},
		{wrap(fmt.Errorf("%w; not retried: %w", ErrTransactionAborted, abortable(kerr.NotEnoughReplicas))), "TRANSACTION_ABORTED"},
	} {
		require.Equal(t, tc.want, ErrorName(tc.err), "ErrorName(%v)", tc.err)
	}
}
