package metadata

import (
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// epochsSeen is the newest leader epoch seen for each partition of one
// incarnation of a topic (KIP-320), kept apart from the partitions: an
// answer that drops them (UNKNOWN_TOPIC_OR_PARTITION from a broker that has
// not caught up with the topic's creation) must not leave the next lagging
// answer nothing to compare its older epochs with, nor, since Kafka never
// removes a partition, a lagging answer listing fewer partitions nothing
// to compare its count with. The Java client keeps the epochs too
// (Metadata.lastSeenLeaderEpochs), until the topic id changes.
//
// They are kept only under a topic id: under the zero id (Metadata before
// v10) an unknown topic may have been deleted and re-created, its epochs
// starting over, and kept epochs would stall its partitions until the new
// ones passed them.
type epochsSeen struct {
	id wire.UUID
	// epochs has one entry for each partition seen under id, -1 where no
	// epoch was. Read-only.
	epochs []int32
}

// seenFor returns the epochs seen of t (nil: none) that an answer under id
// must not go back on: none when id names another incarnation.
func seenFor(t *Topic, id wire.UUID) epochsSeen {
	if t == nil || recreated(t.seen.id, id) {
		return epochsSeen{}
	}
	return t.seen
}

// under reports whether s was seen under id, which then proves that an
// answer under id describes the incarnation s saw, not a topic re-created
// under its name. The zero id proves nothing.
func (s epochsSeen) under(id wire.UUID) bool {
	return id != (wire.UUID{}) && s.id == id
}

// newer reports whether an epoch newer than epoch was seen for partition i.
// An epoch of -1 carries no order: nothing is newer.
func (s epochsSeen) newer(i int, epoch int32) bool {
	return epoch >= 0 && i < len(s.epochs) && s.epochs[i] > epoch
}

// unled is partition i, seen at s.epochs[i], when the cache does not know
// who leads it at that epoch: a lagging broker named an older one, or none.
func (s epochsSeen) unled(i int) Partition {
	return Partition{ID: int32(i), Leader: -1, LeaderEpoch: s.epochs[i], Err: kerr.LeaderNotAvailable}
}

// with returns s once parts, under id, have been seen too. id is the
// answer's; the zero id (an error answer may omit it) keeps s's.
func (s epochsSeen) with(id wire.UUID, parts []Partition) epochsSeen {
	if id != (wire.UUID{}) {
		s.id = id
	}
	if s.id == (wire.UUID{}) {
		return epochsSeen{}
	}
	var grown []int32 // a copy: snapshots share s.epochs
	for i := range parts {
		e := parts[i].LeaderEpoch
		if i < len(s.epochs) && (e < 0 || s.epochs[i] >= e) {
			continue
		}
		if grown == nil {
			grown = make([]int32, max(len(s.epochs), len(parts)))
			for j := copy(grown, s.epochs); j < len(grown); j++ {
				grown[j] = -1
			}
		}
		grown[i] = e
	}
	if grown != nil {
		s.epochs = grown
	}
	return s
}
