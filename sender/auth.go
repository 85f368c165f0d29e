package sender

import (
	"errors"
	"fmt"

	"github.com/gokafka/producer/conn"
)

// failUnauthenticated fails every ready batch of this broker's partitions
// when the connection to it cannot be secured or authenticated (a
// *conn.AuthError: a certificate that does not verify, refused
// credentials). Retrying would meet the same refusal until the delivery
// timeout, hiding the cause for minutes; the Java client fails such
// batches at once too. The broker's reconnect backoff still paces the next
// attempts, which the next ready batches make.
func (s *Sender) failUnauthenticated(err error) {
	var ae *conn.AuthError
	if !errors.As(err, &ae) {
		return
	}
	err = fmt.Errorf("broker %d: %w", s.cfg.Node, ae)
	now := s.cfg.Clock.Now()
	for {
		batches, _, next := s.acc.Drain(s.cfg.Hooks.Partitions(), s.start, s.cfg.MaxRequestSize, now)
		s.start = next
		if len(batches) == 0 {
			return
		}
		for _, b := range batches {
			s.acc.Complete(b, -1, -1, err)
		}
	}
}
