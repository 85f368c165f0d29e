// Package kerr turns the int16 error codes of Kafka responses into Go error
// values.
//
// Every known code has exactly one *Error, exported under a Go name
// (NotLeaderOrFollower for NOT_LEADER_OR_FOLLOWER), and ForCode returns that
// same pointer. Code that handles a broker's answer can therefore compare
// with errors.Is even after the error has been wrapped with fmt.Errorf("%w")
// on its way up, and code that only cares about the class of a failure asks
// IsRetriable or NeedsMetadataRefresh, which look through wrapping with
// errors.As. The two flags come from the Java client, whose behaviour is the
// reference: Retriable follows its RetriableException family, RefreshMetadata
// its InvalidMetadataException family (the leader or the topic moved, so the
// cached metadata is stale and retrying without a refresh would fail again).
package kerr

import (
	"errors"
	"strconv"
)

// Error is one protocol error code and what the Java client knows of it.
type Error struct {
	Code            int16  // the wire value
	Name            string // the protocol's name, e.g. NOT_LEADER_OR_FOLLOWER
	Message         string // the broker's description
	Retriable       bool   // the same request may succeed if sent again
	RefreshMetadata bool   // cached metadata is stale; refresh it before retrying
}

// Error returns the name and the broker's description on one line, so that
// logs show both the grep-able name and what it means.
func (e *Error) Error() string { return e.Name + ": " + e.Message }

// ForCode returns nil for 0 (no error) and the shared *Error for a known code,
// so errors.Is compares by identity. A code this table does not know (a newer
// broker's) still becomes an error rather than being mistaken for success; it
// is not retriable, because nothing says retrying helps.
func ForCode(code int16) error {
	if code == 0 {
		return nil
	}
	if e := known(code); e != nil {
		return e
	}
	n := strconv.Itoa(int(code))
	return &Error{
		Code:    code,
		Name:    "UNKNOWN_ERROR_CODE_" + n,
		Message: "The broker returned error code " + n + ", which this client does not know.",
	}
}

// IsRetriable reports whether err, or an error it wraps, is a Kafka error
// that the Java client would retry, and nothing in err's chain is Final.
func IsRetriable(err error) bool {
	var f Final
	if errors.As(err, &f) {
		return false
	}
	var ke *Error
	return errors.As(err, &ke) && ke != nil && ke.Retriable
}

// A Final error ends the retries of the Kafka error it wraps, which it
// keeps as its cause (for errors.Is and its text): IsRetriable is false for
// an error whose chain holds one. A transaction that must be aborted, say,
// fails every record until it is, whatever broker error made it fail; the
// Java client's TransactionAbortableException is no RetriableException
// either.
type Final interface {
	error
	// Final marks the error; it does nothing.
	Final()
}

// NeedsMetadataRefresh reports whether err, or an error it wraps, is a Kafka
// error meaning the client's metadata (leaders, topics) is out of date.
func NeedsMetadataRefresh(err error) bool {
	var ke *Error
	return errors.As(err, &ke) && ke != nil && ke.RefreshMetadata
}
