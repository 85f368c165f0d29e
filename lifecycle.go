package producer

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/internal/ctxerr"
)

// Flush sends every record buffered before the call without waiting for
// Linger, and returns when each has had its callback (or ctx ends). Records
// produced while Flush runs may or may not be waited for. Called from a
// callback, it returns once each has its outcome: the callbacks run after
// the current one returns. Since those callbacks give their batches'
// memory back, a record that waited for its topic's metadata and then
// waits for memory for its batch is not waited for from a callback, nor
// are the records of its topic behind it: they go, and get their outcomes,
// once the callbacks behind the current one have run, where waiting for
// them would stall every callback until MaxBlock and then fail the record.
func (p *Producer) Flush(ctx context.Context) error {
	if p.closed.Load() {
		return ErrClosed
	}
	to := flushToCallbacks
	if p.acc.InCallback() {
		to = flushToReachableOutcomes
	}
	if err := p.flushUntil(ctx, to); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return nil
}

// flushTo is how far a flush follows each record produced before it.
type flushTo int

const (
	// flushToCallbacks waits until each record has had its callback.
	flushToCallbacks flushTo = iota
	// flushToOutcomes waits only until each has its outcome: for a caller
	// the callbacks still to run may wait for (a flush from a callback, or
	// an abort the callbacks wait for; see txn.Manager.CloseFromCallback).
	flushToOutcomes
	// flushToReachableOutcomes, for a Flush from a callback, waits only for
	// the outcomes that can come before the callback returns: as
	// flushToOutcomes, but for a held record whose append waits for its
	// batch's memory, which only the callbacks behind the caller give
	// back, and the records of its topic behind it (held.await). A commit
	// from a callback still waits for them: it cannot commit without them.
	flushToReachableOutcomes
)

// flush is a flush for Close and the transaction calls: from a callback it
// follows each record to its outcome.
func (p *Producer) flush(ctx context.Context) error {
	if p.acc.InCallback() {
		return p.flushUntil(ctx, flushToOutcomes)
	}
	return p.flushUntil(ctx, flushToCallbacks)
}

// flushOutcomes is a flush that waits only until every record has its
// outcome, not for the callbacks: an abort the callbacks wait for (see
// txn.Manager.CloseFromCallback).
func (p *Producer) flushOutcomes(ctx context.Context) error {
	return p.flushUntil(ctx, flushToOutcomes)
}

func (p *Producer) flushUntil(ctx context.Context, to flushTo) error {
	// Records still waiting for metadata come first: once appended, their
	// batches are among those the accumulator's mark covers.
	if err := p.held.await(ctx, to); err != nil {
		return fmt.Errorf("flush: records waiting for metadata: %w", err)
	}
	mark := p.acc.BeginFlush()
	defer p.acc.EndFlush()
	p.wakeAll()
	await := p.acc.AwaitBatches
	if to != flushToCallbacks {
		await = p.acc.AwaitOutcomes
	}
	if err := await(ctx, mark); err != nil {
		return fmt.Errorf("flush: batches whose callbacks have not all run: %d: %w", p.acc.Incomplete(), err)
	}
	return nil
}

// Close stops accepting records, sends what is buffered, and returns when
// every record has had its callback. If ctx ends first, what is left fails
// with ErrClosed (records in flight also with ErrMaybeWritten), so Close
// never drops a record silently; Close then returns at once, and the
// callbacks of what it failed, like any still to run, run after it
// returns: a later Close waits for them. Called from a callback, Close
// returns once every record has its outcome; the callbacks behind the
// current one run after it returns. Since those callbacks give their
// batches' memory back, none comes back meanwhile: a record that waited
// for its topic's metadata and then finds no memory for its batch fails at
// once with ErrClosed rather than wait for it until MaxBlock. A
// transaction under way is aborted first (see AbortTransaction): its
// records not sent yet, those waiting for metadata or for memory after it
// included, fail with ErrTransactionAborted; an abort that fails (its ctx
// ended, say) is told in Close's error, after the failure of the flush or
// of the callbacks if there is one too, and so is one that aborted the
// transaction but could not get the new epoch after it, in words that say
// the transaction was aborted. A CommitTransaction under way is
// waited for, within ctx, unless Close is called from a callback and the
// commit still waits for its records, which it would wait for for ever
// (the callbacks behind this one): that commit then fails with ErrClosed,
// and the transaction is aborted.
//
// Close is idempotent: a later Close waits (within its own ctx) for the
// first one and for every callback still to run, then returns what the
// first returned, so that a deferred Close beside an explicit one is
// harmless and both see the same outcome; if its ctx ends first, it returns
// ctx's error, which also matches the cause ctx was given, if any. After a
// Close from a callback, or one whose ctx ended, a later Close is thus how
// to wait for the callbacks left (Flush fails once closed). From a callback
// a later Close waits for nothing: while the first still waits for
// callbacks it returns nil at once, since waiting would wait for itself.
// Every other method called after Close fails with ErrClosed, but for the
// transaction calls of a producer without a TransactionalID, which fail
// with ErrTransactionState whenever they are called.
func (p *Producer) Close(ctx context.Context) error {
	if !p.closed.CompareAndSwap(false, true) {
		return p.closedAgain(ctx)
	}
	p.closeErr = p.close(ctx)
	close(p.closeDone)
	return p.closeErr
}

// closedAgain is a Close after the first. Outside a callback it also waits
// for the callbacks the first left to run: a first Close from a callback
// could not wait for those behind it, nor one whose ctx ended for the
// outcomes it had just failed, for those behind a slow callback, or for
// the record a drain of held records has inside
// the user's partitioner (awaitDrains), whose callback is queued only when
// the partitioner returns; Flush fails once closed, so this is the only way
// left to wait for them (before the program exits, say).
func (p *Producer) closedAgain(ctx context.Context) error {
	if p.acc.InCallback() {
		// Both the first Close, while it waits for callbacks, and the
		// callbacks behind this one wait for this one to return.
		select {
		case <-p.closeDone:
			return p.closeErr
		default:
			return nil
		}
	}
	if err := p.awaitClose(ctx); err != nil {
		return err
	}
	if err := p.awaitDrains(ctx); err != nil {
		return fmt.Errorf("producer: close: a record that waited for metadata is still being appended: %w", err)
	}
	if err := p.acc.Close(ctx); err != nil {
		return fmt.Errorf("producer: close: callbacks still running: %w", err)
	}
	return p.closeErr
}

// awaitClose waits for the first Close to be done.
func (p *Producer) awaitClose(ctx context.Context) error {
	select {
	case <-p.closeDone:
		return nil // even if ctx has ended
	default:
	}
	select {
	case <-p.closeDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("producer: close: waiting for the Close under way: %w", ctxerr.Of(ctx))
	}
}

// close is the first Close.
func (p *Producer) close(ctx context.Context) error {
	abortErr := p.abortOnClose(ctx)
	p.acc.BeginClose()
	if p.acc.InCallback() {
		p.held.endMemoryWaits()
	}
	flushErr := p.flush(ctx)

	// Whatever is left now fails; with a completed flush that is only what
	// raced with Close.
	p.acc.Abort(ErrClosed)
	p.held.failAll(ErrClosed)
	// Cancelling stops the background loops and unblocks appends of held
	// records waiting for memory; closing the connections fails the requests
	// in flight, and their batches fail rather than retry (see
	// accumulator.Reenqueue after Abort). Then every goroutine that could
	// still complete a record is waited for, the transaction's partition
	// adder included, whose request the cancel ends (AwaitAdder). Loops New
	// has not started by the cancel never start (startLoops).
	p.loopsMu.Lock()
	p.cancel()
	p.loopsMu.Unlock()
	p.cluster.Close()
	p.senders.wait()
	if p.txn != nil {
		p.txn.AwaitAdder()
	}
	_ = p.awaitDrains(ctx) // given up once ctx ends; a later Close waits for them (closedAgain)
	p.bg.Wait()
	deliverErr := p.acc.Close(ctx)
	p.pool.Close()
	var err error
	switch {
	case flushErr != nil:
		err = fmt.Errorf("producer: close: %w", flushErr)
	case deliverErr != nil:
		err = fmt.Errorf("producer: close: callbacks still running: %w", deliverErr)
	}
	switch {
	case abortErr == nil:
		return err
	case err == nil:
		return fmt.Errorf("producer: %w", abortErr)
	}
	// An abort that failed leaves the transaction open at the coordinator
	// until it times it out, holding back consumers reading committed
	// records (one that aborted and then missed its new epoch alone says
	// so): told after the words a failed flush has alone.
	return fmt.Errorf("%w; %w", err, abortErr)
}

// Stats counts the producer's work so far. A batch is counted, its memory
// given back and it leaves BufferedBatches just after its last callback
// has run, so a callback, or a Send that has just returned, may see
// figures without its batch; once Flush returns they include every batch
// it waited for.
type Stats struct {
	// Batches and BatchRecords count completed batches (acknowledged or
	// failed) and the records in them.
	Batches      int64
	BatchRecords int64
	// UncompressedBytes and CompressedBytes are those batches' sizes before
	// and after compression; their ratio is the compression ratio. A batch
	// that failed with its request still unanswered adds its sizes when the
	// answer comes.
	UncompressedBytes int64
	CompressedBytes   int64
	// Requests is how many ProduceRequests were sent, counted as each is
	// answered or fails after it left (one still in flight is not yet).
	Requests int64
	// Retries counts batches sent again after a retriable error; Splits,
	// batches split after the broker refused them as too large
	// (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE).
	Retries int64
	Splits  int64
	// BufferedBatches is the number of batches whose records' callbacks
	// have not all run yet: open, sent, or completed and queued for their
	// callbacks (and, for a moment after the last, not yet counted as
	// done).
	BufferedBatches int
	// BufferTotalBytes is BufferMemory; BufferAvailableBytes what of it is
	// free now (the Java client's buffer-total-bytes and
	// buffer-available-bytes); BufferWaiters how many waits for memory
	// there are (its waiting-threads): Produce calls waiting for a batch's
	// memory, or for the share of it records waiting for metadata may take,
	// and the appends of such records, once it came, waiting for a batch's.
	BufferTotalBytes     int64
	BufferAvailableBytes int64
	BufferWaiters        int
}

// Stats returns the counters so far.
func (p *Producer) Stats() Stats {
	a := p.acc.Stats()
	return Stats{
		Batches:           a.Batches,
		BatchRecords:      a.Records,
		UncompressedBytes: a.UncompressedBytes,
		CompressedBytes:   a.EncodedBytes,
		Requests:          p.counters.Requests.Load(),
		Retries:           p.counters.Retries.Load(),
		Splits:            p.counters.Splits.Load(),
		BufferedBatches:   p.acc.Incomplete(),

		BufferTotalBytes:     p.cfg.BufferMemory,
		BufferAvailableBytes: int64(p.pool.Available()),
		BufferWaiters:        p.pool.Waiters() + p.held.shareWaits(),
	}
}

// awaitDrains waits, while ctx lasts, for the goroutines appending records
// that waited for metadata, and returns ctx's cause if it ends first. Each
// has at most one record left, which fails at once against the aborted
// accumulator, unless it is inside a user's partitioner: then, once ctx
// has ended, the first Close returns without it, that record gets its
// outcome when the partitioner returns, and a later Close waits for it.
func (p *Producer) awaitDrains(ctx context.Context) error {
	select {
	case <-p.held.drained:
		return nil // even if ctx has ended
	default:
	}
	select {
	case <-p.held.drained:
		return nil
	case <-ctx.Done():
		return ctxerr.Of(ctx)
	}
}
