package txn

import (
	"context"
	"errors"
)

// Close aborts the transaction under way, if any, as the producer closes:
// left open, it would hold up every consumer reading committed records of
// its partitions until the coordinator timed it out (the Java client aborts
// it too). Records not sent fail with ErrAborted. A transaction whose
// commit was sent is left to the coordinator, which may have committed it:
// Abort refuses it.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	open := m.open()
	m.mu.Unlock()
	if !open {
		return nil
	}
	if err := m.Abort(ctx); err != nil && !errors.Is(err, ErrState) { // ErrState: it ended meanwhile, or its commit was sent
		return err
	}
	return nil
}
