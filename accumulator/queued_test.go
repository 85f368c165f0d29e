package accumulator

// Queued reports how many batches of tp wait to be sent and how many are in
// flight, for the tests. The producer reads a partition's load through
// Load, which walks no batch list.
func (a *Accumulator) Queued(tp TopicPartition) (queued, inFlight int) {
	p := a.lookup(tp)
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.batches {
		if !b.settled && !b.inFlight {
			queued++
		}
	}
	return queued, p.inFlight
}
