package txn

import (
	"context"
	"fmt"
)

// EnterProduce admits a record to the transaction under way, or says why
// it may not be produced now (see CheckProduce). An admitted record's
// Produce must call ExitProduce once the record is appended, held for its
// topic's metadata, or refused: a commit waits for those calls, so that a
// record produced before the commit began, whose append came after it
// (it waited for buffer memory), is not left behind for the next
// transaction.
func (m *Manager) EnterProduce() error {
	// Counted before the state is read, as the commit changes the state
	// before it reads the count: one of the two sees the other.
	m.inProduce.Add(1)
	err := m.CheckProduce()
	if err != nil {
		m.ExitProduce()
	}
	return err
}

// ExitProduce ends what EnterProduce admitted.
func (m *Manager) ExitProduce() {
	if m.inProduce.Add(-1) == 0 && m.awaitingProduce.Load() {
		m.produced.Notify()
	}
}

// awaitProduce waits until no record admitted before the commit began is
// still on its way into the accumulator. The commit has left
// InTransaction, so no more are admitted.
func (m *Manager) awaitProduce(ctx context.Context) error {
	m.awaitingProduce.Store(true)
	defer m.awaitingProduce.Store(false)
	for {
		done := m.produced.C()
		n := m.inProduce.Load()
		if n == 0 {
			return nil
		}
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("%d records produced before the commit are still being appended: %w", n, ctx.Err())
		}
	}
}
