package txn

import (
	"context"
	"errors"
	"fmt"
)

// Close aborts the transaction under way, if any, as the producer closes:
// left open, it would hold up every consumer reading committed records of
// its partitions until the coordinator timed it out (the Java client aborts
// it too). Records not sent fail with ErrAborted. A transaction whose
// commit was sent is left to the coordinator, which may have committed it:
// Abort refuses it. Its error says whether the abort failed, the
// transaction left to the coordinator's timeout, or only the new epoch
// after it did (abortNewEpochFailed).
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	open := m.open()
	m.mu.Unlock()
	if !open {
		return nil
	}
	ended, err := m.abort(ctx, true)
	switch {
	case err == nil || errors.Is(err, ErrState): // ErrState: it ended meanwhile, or its commit was sent
		return nil
	case ended:
		return err
	}
	return fmt.Errorf("aborting the transaction under way: %w", err)
}
