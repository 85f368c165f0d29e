package accumulator

// AbortTransaction begins the abort of a transactional producer's
// transaction: every batch not in flight fails with err now, whether it was
// never sent or waits to be sent again (for a retry, or for the new epoch
// that a partition whose sequences must restart can only get once the
// transaction has ended); a batch in flight fails with err when its answer
// asks for a retry; and Append refuses records with err, those waiting for
// a new batch's memory included, whose wait ends. It lasts until
// EndTransaction. Without it, an abort that waits for every record's
// outcome would wait for batches that wait for the abort, and for appends
// that wait for memory only the callbacks of the abort's records may give
// back (an abort, or a Close, called from a callback), to refuse them then.
func (a *Accumulator) AbortTransaction(err error) {
	a.txnAbort.Store(&err)
	a.cfg.Pool.StopWaits(err)
	a.failAll(err)
}

// EndTransaction makes every partition ask Config.Admit again before its
// next batch: a new transaction must add its partitions anew. It ends an
// AbortTransaction.
func (a *Accumulator) EndTransaction() {
	a.txnAbort.Store(nil)
	a.cfg.Pool.ResumeWaits()
	a.transactions.Add(1)
}

// SequencesInDoubt reports whether a partition's sequence numbers must
// restart under a newer epoch before it sends again: a batch sent failed
// and left a gap, or may have been written with no answer to say so. A
// transactional producer then ends its transaction with a new epoch from
// the coordinator (KIP-360). A doubt booked under an epoch the producer
// has left since is not counted: that newer epoch fences it, and the
// partition restarts under it at its next pass without asking for another
// (nextEpoch). Such a partition keeps its mark until a pass visits it,
// which comes only once its leader's sender has something to send; counted,
// the mark asked every v1 abort meanwhile for an epoch nothing needed. The
// producer's identity is read once: the transaction manager asks only as
// it ends a transaction, when nothing moves the epoch but itself.
func (a *Accumulator) SequencesInDoubt() bool {
	current, have := a.ProducerID()
	if !have {
		return false // the id to come fences whatever was in doubt
	}
	doubt := false
	a.eachPartition(func(p *partition) {
		p.mu.Lock()
		if p.producer == current && (p.restart || p.settled > 0) {
			doubt = true
		}
		p.mu.Unlock()
	})
	return doubt
}

// SetEpochNeeded sets Config.EpochNeeded, for a transaction manager made
// after the accumulator. Call it before the first record.
func (a *Accumulator) SetEpochNeeded(f func(tp TopicPartition, cause error)) { a.cfg.EpochNeeded = f }

// SetFailed sets Config.Failed, for a transaction manager made after the
// accumulator. Call it before the first record.
func (a *Accumulator) SetFailed(f func(tp TopicPartition, err error)) { a.cfg.Failed = f }

// SetAdmit sets Config.Admit, for a transaction manager made after the
// accumulator. Call it before the first record.
func (a *Accumulator) SetAdmit(admit func(TopicPartition) (bool, error)) { a.cfg.Admit = admit }
