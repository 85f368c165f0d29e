package sender

import (
	"errors"
	"fmt"

	"github.com/gokafka/producer/conn"
)

// failUnauthenticated fails the batches of this broker's partitions that
// were never sent when the connection to it cannot be secured or
// authenticated (a *conn.AuthError: a certificate that does not verify,
// refused credentials). Retrying would meet the same refusal until the
// delivery timeout, hiding the cause for minutes (the Java client's
// batches wait out their delivery timeout; its next send throws the
// refusal). The broker's reconnect backoff still paces the next attempts,
// which the next ready batches make.
func (s *Sender) failUnauthenticated(err error) {
	var ae *conn.AuthError
	if errors.As(err, &ae) {
		s.acc.FailUnsent(s.cfg.Hooks.Partitions(), fmt.Errorf("broker %d: %w", s.cfg.Node, ae))
	}
}
