package txn

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/internal/ctxerr"
)

// EnterProduce admits a record to the transaction under way, or says why
// it may not be produced now (see CheckProduce). An admitted record's
// Produce must call ExitProduce once the record is appended or held for
// its topic's metadata, or, refused, before its outcome runs (a callback
// that ends the transaction would wait for itself): a commit or an abort
// waits for those calls, so that a record produced before it began, whose
// append came after it (it waited for buffer memory), is not left behind
// for the next transaction.
func (m *Manager) EnterProduce() error {
	// A call the state refuses is refused before it is counted: once a
	// commit or an abort has begun, calls that keep coming (goroutines
	// producing in a loop) would otherwise keep the count it waits for
	// from ever being zero when it looks. Only a call that read the state
	// before the end changed it is counted, once, and refused
	// (enterChecked).
	if !m.producing.Load() {
		if err := m.CheckProduce(); err != nil {
			return err
		}
	}
	return m.enterChecked()
}

// enterChecked counts a record whose Produce found the transaction taking
// records, and reads the state again: a commit or an abort may have begun
// since, and looked at the count before this call added to it. Counted
// before the state is read again, as the end changes the state before it
// reads the count: one of the two sees the other.
func (m *Manager) enterChecked() error {
	m.inProduce.Add(1)
	err := m.CheckProduce()
	if err != nil {
		m.ExitProduce()
	}
	return err
}

// Generation is the transaction a record between EnterProduce and
// ExitProduce belongs to: no transaction ends while one is admitted, so it
// is the one the record was admitted to. A record held for its topic's
// metadata keeps it, to enter that transaction again when it is appended
// (EnterHeld), as does one whose admission Produce ends while its hooks
// run (EnterAfterHooks).
func (m *Manager) Generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// EnterHeld admits again, as it is appended, a record that Produce held
// for its topic's metadata while transaction gen (Generation) was under
// way, and counts it as EnterProduce does until ExitProduce. It refuses it
// with ErrAborted once that transaction is being aborted or has ended:
// appended then, it would be sent, and committed, in whatever transaction
// is open by then. In an abortable transaction the record is still
// appended, and the abort fails it; in one being committed too, as the
// commit waits for held records (the producer's Flush).
func (m *Manager) EnterHeld(gen uint64) error {
	return m.enterAgain(gen, true, "the record waited for its topic's metadata until its transaction ended")
}

// EnterAfterHooks admits again a record whose admission to transaction gen
// (Generation, read while it was admitted) Produce ended for its hooks to
// run, as a hook may end the transaction, which would wait for the very
// record whose Produce ran it. It counts it as EnterHeld does, but refuses
// it with ErrAborted once that transaction has begun to commit, too:
// nothing waited for the record, so the commit may have gone past it.
func (m *Manager) EnterAfterHooks(gen uint64) error {
	return m.enterAgain(gen, false, "the record's transaction began to end while its HookRecordBuffered hooks ran")
}

// enterAgain admits again, counted, a record once admitted to transaction
// gen, while that transaction takes it: InTransaction, AbortableError
// (whose abort fails it), and Committing if the commit waits for it
// (commitWaits). Else it is refused, with ErrAborted and why (ended) if its
// transaction is ending or has ended.
func (m *Manager) enterAgain(gen uint64, commitWaits bool, ended string) error {
	m.inProduce.Add(1) // before the state is read, as in EnterProduce
	m.mu.Lock()
	state, lastErr, current := m.state, m.lastErr, gen == m.gen
	m.mu.Unlock()
	var err error
	switch {
	case !current || state == Aborting || (state == Committing && !commitWaits):
		err = fmt.Errorf("%w: %s", ErrAborted, ended)
	case state == InTransaction || state == Committing || state == AbortableError:
		return nil
	case state == FatalError:
		err = lastErr
	default:
		err = fmt.Errorf("%w: a record admitted again in state %v", ErrState, state)
	}
	m.ExitProduce()
	return err
}

// ExitProduce ends what EnterProduce, EnterHeld or EnterAfterHooks
// admitted.
func (m *Manager) ExitProduce() {
	if m.inProduce.Add(-1) == 0 && m.awaitingProduce.Load() {
		m.produced.Notify()
	}
}

// awaitProduce waits until no record admitted before the commit or abort
// began is still on its way into the accumulator. The call has left
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
			records := "1 record produced before the transaction began to end is"
			if n > 1 {
				records = fmt.Sprintf("%d records produced before the transaction began to end are", n)
			}
			return fmt.Errorf("%s still being appended: %w", records, ctxerr.Of(ctx))
		}
	}
}
