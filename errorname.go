package producer

import (
	"context"
	"errors"
	"net"

	"github.com/gokafka/producer/protocol/kerr"
)

// namedErrors names the client-side failures, in the order they are
// tried: the first sentinel an error wraps gives its name.
var namedErrors = []struct {
	err  error
	name string
}{
	{ErrRecordTooLarge, "RECORD_TOO_LARGE"},
	{ErrBufferFull, "BUFFER_FULL"},
	{ErrDeliveryTimeout, "DELIVERY_TIMEOUT"},
	{ErrUnknownTopic, "UNKNOWN_TOPIC"},
	{ErrInvalidRecord, "INVALID_RECORD"},
	{ErrBatchRefused, "BATCH_REFUSED"},
	{ErrClosed, "CLOSED"},
	{ErrTransactionAborted, "TRANSACTION_ABORTED"},
	{ErrTransactionState, "TRANSACTION_STATE"},
	{context.Canceled, "CANCELED"},
	{context.DeadlineExceeded, "DEADLINE_EXCEEDED"},
}

// ErrorName is a short, stable name for a record's failure, for a metric's
// label or a summary: the protocol's name for a broker error
// (NOT_LEADER_OR_FOLLOWER), an upper-case name for a client-side one
// (DELIVERY_TIMEOUT, BUFFER_FULL, CLOSED, TRANSACTION_ABORTED...), NETWORK for a connection
// failure and OTHER for anything else. A client-side failure wins over the
// broker error it keeps as its cause: a delivery timeout after
// NOT_ENOUGH_REPLICAS is DELIVERY_TIMEOUT.
func ErrorName(err error) string {
	for _, c := range namedErrors {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && ke != nil {
		return ke.Name
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "NETWORK"
	}
	return "OTHER"
}
