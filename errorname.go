package producer

import (
	"context"
	"errors"
	"net"

	"github.com/gokafka/producer/protocol/kerr"
)

// namedErrors names the client-side failures, in the order they are
// tried: the first sentinel an error wraps gives its name. A stopped
// producer comes first: whatever else a record's error says, the one thing
// to do about it is to replace the producer.
var namedErrors = []struct {
	err  error
	name string
}{
	{ErrProducerStopped, "PRODUCER_STOPPED"},
	{ErrRecordTooLarge, "RECORD_TOO_LARGE"},
	{ErrBufferFull, "BUFFER_FULL"},
	{ErrDeliveryTimeout, "DELIVERY_TIMEOUT"},
	{ErrUnknownTopic, "UNKNOWN_TOPIC"},
	{ErrInvalidRecord, "INVALID_RECORD"},
	{ErrBatchRefused, "BATCH_REFUSED"},
	{ErrClosed, "CLOSED"},
	{ErrTransactionAborted, "TRANSACTION_ABORTED"},
	{ErrTransactionState, "TRANSACTION_STATE"},
	{ErrInvalidOffsets, "INVALID_OFFSETS"},
	{context.Canceled, "CANCELED"},
	{context.DeadlineExceeded, "DEADLINE_EXCEEDED"},
}

// ErrorName is a short, stable name for a record's failure, for a metric's
// label or a summary: the protocol's name for a broker error
// (NOT_LEADER_OR_FOLLOWER), an upper-case name for a client-side one
// (DELIVERY_TIMEOUT, BUFFER_FULL, CLOSED, TRANSACTION_ABORTED...),
// CANCELED or DEADLINE_EXCEEDED for a Send whose ctx was done when it was
// called or ended while its record was buffered (one that ended the
// record's wait for memory is BUFFER_FULL, as Produce's; a nil record is
// INVALID_RECORD whatever the ctx, as Produce refuses it),
// AUTHENTICATION for a connection that could not be secured or
// authenticated without a broker error to name it (a certificate that
// does not verify), NETWORK for a connection failure and OTHER for
// anything else. A client-side failure wins over the broker error it
// keeps as its cause: a delivery timeout after NOT_ENOUGH_REPLICAS is
// DELIVERY_TIMEOUT.
// A record failed because the producer stopped for good (ErrProducerStopped)
// is PRODUCER_STOPPED, the batch whose answer stopped it included: one name
// to alert on, whichever broker error (PRODUCER_FENCED,
// CLUSTER_AUTHORIZATION_FAILED...) stopped it; the error's text names that
// one. A record refused because its transaction must be aborted is
// TRANSACTION_MUST_ABORT, and one refused because the transactional
// producer cannot continue TRANSACTION_FATAL, whatever failure made them
// so. A nil error, a success, has no name: "".
func ErrorName(err error) string {
	if err == nil {
		return ""
	}
	if name := transactionRefusal(err); name != "" {
		return name
	}
	for _, c := range namedErrors {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && ke != nil {
		return ke.Name
	}
	if errors.Is(err, ErrAuthentication) {
		// After the broker's names: a refusal of credentials says more
		// as SASL_AUTHENTICATION_FAILED. A certificate's failure, or a
		// broker that could not prove it knows them, has none.
		return "AUTHENTICATION"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "NETWORK"
	}
	return "OTHER"
}

// transactionRefusal names err when its reason, the first error it wraps
// at each level, is ErrTransactionAbortable or ErrTransactionFatal: a
// refusal for the transaction's state, which keeps the failure that caused
// that state after it ("the transaction must be aborted: record too
// large"). Named by that cause, every record refused after one too large
// was counted too large. A record's own failure keeps its name, the
// one that made the transaction abortable included, and so does an error
// that wraps a refusal only further in, after its own reason ("closed:
// the transactional producer cannot continue"). The broker's
// TRANSACTION_ABORTABLE (KIP-890) is a record's own failure, not a
// refusal: hence TRANSACTION_MUST_ABORT.
func transactionRefusal(err error) string {
	for err != nil {
		switch err {
		case ErrTransactionAbortable:
			return "TRANSACTION_MUST_ABORT"
		case ErrTransactionFatal:
			return "TRANSACTION_FATAL"
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			if wrapped := u.Unwrap(); len(wrapped) > 0 {
				err = wrapped[0]
			} else {
				err = nil
			}
		default:
			err = nil
		}
	}
	return ""
}
