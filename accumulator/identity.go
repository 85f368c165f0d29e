package accumulator

import (
	"cmp"
	"fmt"
	"math"
	"sync"
)

// ProducerID is an idempotent producer's identity on the brokers: the id
// InitProducerId assigned and the epoch its sequence numbers belong to.
type ProducerID struct {
	ID    int64
	Epoch int16
}

// noProducer is what a batch carries without idempotence.
var noProducer = ProducerID{ID: -1, Epoch: -1}

func (id ProducerID) String() string { return fmt.Sprintf("producer %d epoch %d", id.ID, id.Epoch) }

// identity is the producer's current id and epoch, shared by every
// partition. Partitions adopt it when they start, and when their sequences
// restart (partition.go); the epoch only grows, so a partition restarting
// after another has bumped it adopts the bumped epoch instead of bumping
// again.
type identity struct {
	mu        sync.Mutex
	current   ProducerID
	have      bool // current is valid
	requested bool // NeedProducerID was called and no id has come since
	// noIDErr is why the last InitProducerId gave no id (NoProducerID),
	// while the producer has none: a batch that times out never sent says
	// so (timedOut). The id, once it comes, clears it.
	noIDErr error
}

func (ids *identity) init() { ids.current = noProducer }

// SetProducerID gives the producer the id and epoch InitProducerId
// returned, and lets the partitions waiting for them go on.
func (a *Accumulator) SetProducerID(id ProducerID) {
	a.ids.mu.Lock()
	a.ids.current, a.ids.have, a.ids.requested = id, true, false
	a.ids.noIDErr = nil
	a.ids.mu.Unlock()
}

// NoProducerID books err, why InitProducerId gave the idempotent producer
// no id, until one comes: without an id no batch can be numbered and sent,
// and one that times out meanwhile says why rather than only that it was
// sent 0 times.
func (a *Accumulator) NoProducerID(err error) {
	a.ids.mu.Lock()
	a.ids.noIDErr = err
	a.ids.mu.Unlock()
}

// whyNoID is why the producer has no id (NoProducerID), nil while it has
// one. Called with a partition's lock held, as adopt takes ids.mu.
func (a *Accumulator) whyNoID() error {
	a.ids.mu.Lock()
	defer a.ids.mu.Unlock()
	if a.ids.have {
		return nil
	}
	return a.ids.noIDErr
}

// Recreated books that the named topics may have been deleted and created
// again under their names: the metadata gave a topic another id, or
// partitions after none. Their leaders may have no state for the producer,
// as for a new id, and take any first sequence: each of their partitions
// keeps one request in flight until its leader acknowledges a batch sent
// from now on. Without idempotence it does nothing.
func (a *Accumulator) Recreated(topics []string) {
	if !a.cfg.Idempotent {
		return
	}
	for _, name := range topics {
		tps := a.topicNamed(name)
		if tps == nil {
			continue // nothing produced to it yet
		}
		for _, p := range *tps.partitions.Load() {
			if p != nil {
				p.mu.Lock()
				p.recreated()
				p.mu.Unlock()
			}
		}
	}
}

// ProducerID returns the producer's id and epoch, if it has them.
func (a *Accumulator) ProducerID() (ProducerID, bool) {
	a.ids.mu.Lock()
	defer a.ids.mu.Unlock()
	return a.ids.current, a.ids.have
}

// Idempotent reports whether batches carry a producer id and sequence
// numbers (Config.Idempotent).
func (a *Accumulator) Idempotent() bool { return a.cfg.Idempotent }

// currentID returns the id a partition starting now takes, asking for one
// if there is none.
func (a *Accumulator) currentID() (ProducerID, bool) {
	a.ids.mu.Lock()
	id, have := a.ids.current, a.ids.have
	ask := !have && !a.ids.requested
	if ask {
		a.ids.requested = true
	}
	a.ids.mu.Unlock()
	if ask && a.cfg.NeedProducerID != nil {
		a.cfg.NeedProducerID()
	}
	return id, have
}

// nextEpoch returns an identity newer than from, for a partition whose
// sequences must restart: the current one if another partition already
// moved past from, else the current one with its epoch bumped locally, as
// KIP-360 lets an idempotent producer do (the broker accepts a higher epoch
// whose first sequence is 0). When the epoch is exhausted the producer
// needs a new id, and nextEpoch reports false until it has one.
func (a *Accumulator) nextEpoch(p *partition) (ProducerID, bool) {
	from := p.producer
	a.ids.mu.Lock()
	if a.ids.have && (a.ids.current.ID != from.ID || a.ids.current.Epoch > from.Epoch) {
		id := a.ids.current
		a.ids.mu.Unlock()
		return id, true
	}
	if a.cfg.Transactional {
		// The coordinator moves a transactional producer's epoch (the
		// transaction must be aborted first): ask, and wait.
		ask := !a.ids.requested
		a.ids.requested = true
		a.ids.mu.Unlock()
		switch {
		case ask && a.cfg.EpochNeeded != nil:
			a.cfg.EpochNeeded(p.tp, cmp.Or(p.restartCause, p.lastErr))
		case ask && a.cfg.NeedProducerID != nil:
			a.cfg.NeedProducerID()
		}
		return noProducer, false
	}
	if a.ids.have && a.ids.current.Epoch < math.MaxInt16 {
		a.ids.current.Epoch++
		id := a.ids.current
		a.ids.mu.Unlock()
		return id, true
	}
	a.ids.have = false
	a.ids.mu.Unlock()
	return a.currentID()
}

// outdated reports whether the producer has moved past id: to a newer
// epoch, or a new id (or is waiting for one).
func (a *Accumulator) outdated(id ProducerID) bool {
	a.ids.mu.Lock()
	defer a.ids.mu.Unlock()
	return !a.ids.have || a.ids.current.ID != id.ID || a.ids.current.Epoch > id.Epoch
}

// addSeq advances a sequence number by n records. Sequences are int32 and
// wrap from math.MaxInt32 to 0, as the broker's do.
func addSeq(seq int32, n int) int32 {
	return int32((int64(seq) + int64(n)) % (math.MaxInt32 + 1))
}
