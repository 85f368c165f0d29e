package main

import (
	"context"
	"errors"
	"net"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/protocol/kerr"
)

// clientErrors names the library's client-side failures, in the order they
// are tried: the first sentinel an error wraps gives its name.
var clientErrors = []struct {
	err  error
	name string
}{
	{producer.ErrRecordTooLarge, "RECORD_TOO_LARGE"},
	{producer.ErrBufferFull, "BUFFER_FULL"},
	{producer.ErrDeliveryTimeout, "DELIVERY_TIMEOUT"},
	{producer.ErrUnknownTopic, "UNKNOWN_TOPIC"},
	{producer.ErrInvalidRecord, "INVALID_RECORD"},
	{producer.ErrClosed, "CLOSED"},
	{producer.ErrTransactionAborted, "TRANSACTION_ABORTED"},
	{producer.ErrTransactionState, "TRANSACTION_STATE"},
	{context.Canceled, "CANCELED"},
	{context.DeadlineExceeded, "DEADLINE_EXCEEDED"},
}

// errorName is the short name a failure is counted under in the summary:
// the protocol's name for a broker error (NOT_LEADER_OR_FOLLOWER), an upper
// case name for a client-side one (DELIVERY_TIMEOUT), NETWORK for a
// connection failure and OTHER for anything else.
func errorName(err error) string {
	// A client-side outcome first: a delivery timeout (or a close) keeps
	// the broker error of the last attempt, which is its cause, not its
	// name.
	for _, c := range clientErrors {
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
