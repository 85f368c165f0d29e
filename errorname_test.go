package producer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

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
		{errors.New("something else"), "OTHER"},
	} {
		require.Equal(t, tc.want, ErrorName(tc.err), "ErrorName(%v)", tc.err)
	}
}
