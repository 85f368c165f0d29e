// Package protocol encodes Kafka requests and decodes Kafka responses, written
// by hand from Apache Kafka's message schemas (the JSON files under
// clients/src/main/resources/common/message in Apache Kafka's source, version
// 4.3.1). Each message is one Go type whose AppendTo and ReadFrom branch on
// the version exactly where the schema's fields come and go, so every byte can
// be checked against the schema by reading one function.
//
// A record batch travels inside a ProduceRequest as opaque bytes: this package
// does not import record/, and record/ does not import this package; both
// build on protocol/wire.
package protocol

import (
	"errors"
	"fmt"

	"github.com/gokafka/producer/protocol/wire"
)

// Message is what every request and response knows about itself.
type Message interface {
	// Key is the API key shared by a request and its response.
	Key() APIKey
	// AppendTo appends the message body (no header) at version v.
	AppendTo(dst []byte, v int16) []byte
	// ReadFrom decodes a whole message body at version v; trailing bytes are
	// an error. Errors are *DecodeError.
	ReadFrom(b []byte, v int16) error
}

// Request is a message a client sends.
type Request interface {
	Message
	// ResponseKind returns a new, empty response of the matching type.
	ResponseKind() Response
}

// Response is a message a broker sends back.
type Response interface {
	Message
}

// DecodeError says which message failed to decode, at which version and at
// which byte of its body (the header excluded), and why.
type DecodeError struct {
	API     APIKey
	Version int16
	Offset  int
	Err     error // usually a *wire.Error; wire.ErrTruncated or wire.ErrMalformed via errors.Is
}

func (e *DecodeError) Error() string {
	if we, ok := e.Err.(*wire.Error); ok && we.Offset == e.Offset {
		// Said once: "at byte 43: byte 43: ..." told the offset twice.
		return fmt.Sprintf("decoding %s v%d at byte %d: %s: %v", e.API, e.Version, e.Offset, we.What, we.Err)
	}
	return fmt.Sprintf("decoding %s v%d at byte %d: %v", e.API, e.Version, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// decodeErr wraps the reader's remembered error, if any, with the message's
// identity. Every ReadFrom ends with it.
func decodeErr(api APIKey, v int16, rd *wire.Reader) error {
	err := rd.Err()
	if err == nil {
		return nil
	}
	off := rd.Offset()
	var we *wire.Error
	if errors.As(err, &we) {
		off = we.Offset
	}
	return &DecodeError{API: api, Version: v, Offset: off, Err: err}
}

// ErrUnsupportedVersion says that a version of an API cannot be spoken.
// A user meets it in a producer's errors when a broker does not speak a
// version of an API the producer needs. Most often the two share no
// version of it at all: the error then holds a *VersionError (see
// Negotiate), which unwraps to ErrUnsupportedVersion (errors.Is) and
// names the API and both sides' ranges (errors.As). It is also wrapped
// when a message is asked to encode or decode a version outside the range
// this package implements.
var ErrUnsupportedVersion = errors.New("unsupported version")

// checkVersion reports a version outside the API's range before any byte is
// read, so that a caller's bug is not mistaken for a broker's.
func checkVersion(api APIKey, v int16) error {
	r := Supported(api)
	if v < r.Min || v > r.Max {
		return &DecodeError{API: api, Version: v, Err: fmt.Errorf("%w: %s speaks v%d-v%d", ErrUnsupportedVersion, api, r.Min, r.Max)}
	}
	return nil
}
