package protocol

import (
	"errors"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// A malformed answer's DecodeError names the byte where the bad field
// begins, not the end of the body, so that a hex dump shows the culprit.
func TestADecodeErrorNamesTheOffsetOfTheBadField(t *testing.T) {
	b := wire.AppendInt32(nil, 1) // one topic
	b = wire.AppendInt16(b, 5)    // a name of 5 bytes...
	b = append(b, 'a', 'b')       // ...of which 2 came
	err := new(ProduceResponse).ReadFrom(b, 3)
	requireDecodeError(t, err, Produce, 3, len(b), wire.ErrTruncated)
	var de *DecodeError
	errors.As(err, &de) // requireDecodeError checked it is one
	if de.Offset != 4 {
		t.Fatalf("error %v at byte %d, want byte 4, where the name begins", err, de.Offset)
	}
}
