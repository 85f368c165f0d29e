package metadata

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/producer/internal/slot"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// ErrMalformed is wrapped by the error of a topic whose metadata cannot be
// right: its partitions are not numbered 0 to n-1. One broker's corrupt
// answer says nothing of the topic, and the next may be right: it is no
// refusal (Topic.Refused).
var ErrMalformed = errors.New("malformed metadata")

// Apply merges a Metadata response into the cache and reports what changed.
// version is the one resp was read at, which the error of a topic it
// describes wrongly names; requested is the list of topics the request
// asked for, nil when it asked for all topics. The rules follow the Java
// client's Metadata.update:
//
//   - Brokers: the response's broker list replaces the known one, because a
//     broker lists every live broker whatever topics were asked for. A broker
//     missing from it is gone (reported in BrokersRemoved); partitions it
//     still leads in topics this response did not cover stay in the cache
//     but stop counting as available until a refresh names a live leader. A
//     response with no brokers at all carries no information about them and
//     leaves the list unchanged.
//   - Topics named in the response replace their cached state; topics not
//     named are kept, unless requested is nil, in which case the response
//     lists every topic and an absent one was deleted (RemovedTopics).
//   - A partition's leader epoch never goes backwards: when the response
//     carries an older epoch than the cache (a lagging broker answered), the
//     cached partition is kept whole. An epoch of -1 (Metadata before v7, or
//     an error) carries no order and is taken as is; a changed topic id means
//     the topic was re-created and its epochs restarted, so the response wins.
//     The newest epoch seen of each partition is kept apart from the
//     partitions, under the topic id, until the id changes or the topic is
//     forgotten: after an answer that drops the partitions (below), a
//     lagging broker's older epoch leaves the partition without a leader, at
//     the epoch seen, until a broker names that epoch's leader or a newer
//     one. Under the zero id nothing is kept apart: an unknown topic may
//     have been deleted and re-created, its epochs starting over.
//   - A topic's partition count never goes down: Kafka cannot remove a
//     partition, so an answer that lists fewer under the topic id last seen
//     comes from a broker that has not seen CreatePartitions yet, and the
//     cached partitions past its count are kept; those an answer dropped
//     since (below) come back without a leader, at the epoch seen, until a
//     broker names them. Under the zero id (Metadata before v10) a lagging
//     broker cannot be told from a topic re-created with fewer partitions,
//     and the answer's count is taken: the producer then sends to no
//     partition that may not exist, and the batches left on the missing
//     ones make the metadata loop poll (cluster's awaiting) until a broker
//     names them again or they expire.
//   - UNKNOWN_TOPIC_OR_PARTITION and INVALID_TOPIC_EXCEPTION record the
//     error and drop the topic's partitions: there is nothing to send to.
//   - Any other retriable topic error (LEADER_NOT_AVAILABLE while a new topic
//     elects its leaders) records the error and keeps the partitions already
//     known, so an election does not stall partitions that still work;
//     unless the answer names a new topic id (the topic was re-created).
//   - A non-retriable topic error (TOPIC_AUTHORIZATION_FAILED) records the
//     error and drops the partitions.
//   - A topic whose partitions are not numbered 0 to n-1 (a partition
//     listed twice, or an index past the count: a corrupt or absurd answer)
//     records an error wrapping ErrMalformed, naming the answer (Metadata,
//     its version) and what was wrong, and keeps the partitions already
//     known, rather than trusting the answer with placeholders. It is no
//     refusal: the topic is asked for again while awaited.
//
// Apply keeps slices of resp; the caller must not modify resp afterwards.
func (c *Cache) Apply(resp *protocol.MetadataResponse, version int16, requested []string, now time.Time) Changes {
	return c.ApplyTelling(resp, version, requested, now, nil)
}

// ApplyTelling is Apply, telling tell (if not nil) what the answer changed
// before it stores the new snapshot: no reader of the cache (Snapshot)
// sees the answer before tell has returned. A producer must hear that a
// topic was re-created before its senders can build a request under the
// new topic id. tell runs under the cache's lock, and must not call the
// cache's writers (Apply, ApplyLeaderHint, Forget).
func (c *Cache) ApplyTelling(resp *protocol.MetadataResponse, version int16, requested []string, now time.Time, tell func(*Changes)) Changes {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	var ch Changes

	next := &Snapshot{updated: now}
	brokerSetChanged := applyBrokers(old, next, resp.Brokers, &ch)

	c.answers++
	next.topics = make(map[string]*Topic, max(len(old.topics), len(resp.Topics)))
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Name == nil {
			continue // asked for by id; this producer asks by name
		}
		t := mergeTopic(old.topics[*rt.Name], rt, version, &ch)
		t.View = buildView(t, next.brokers)
		t.answer = c.answers
		next.topics[t.Name] = t
	}
	for name, t := range old.topics {
		if _, named := next.topics[name]; named {
			continue
		}
		if requested == nil {
			ch.RemovedTopics = append(ch.RemovedTopics, name)
			continue
		}
		if brokerSetChanged {
			t = withView(t, next.brokers)
		}
		next.topics[name] = t
	}
	next.ledBy = buildLedBy(next.topics)

	ch.sort()
	if tell != nil {
		tell(&ch)
	}
	c.snap.Store(next)
	return ch
}

// applyBrokers fills next's broker index from the response and records the
// differences; it reports whether the set of ids changed, which is what
// invalidates the partitioner views of topics the response did not cover.
func applyBrokers(old, next *Snapshot, rbs []protocol.MetadataResponseBroker, ch *Changes) bool {
	if len(rbs) == 0 {
		next.brokers, next.brokerList = old.brokers, old.brokerList
		return false
	}
	next.brokers = make(map[int32]Broker, len(rbs))
	for _, rb := range rbs {
		next.brokers[rb.NodeID] = Broker{ID: rb.NodeID, Host: rb.Host, Port: rb.Port, Rack: rb.Rack}
	}
	next.brokerList = make([]Broker, 0, len(next.brokers))
	changed := false
	for id, b := range next.brokers {
		next.brokerList = append(next.brokerList, b)
		prev, ok := old.brokers[id]
		switch {
		case !ok:
			ch.BrokersAdded = append(ch.BrokersAdded, id)
			changed = true
		case prev.Host != b.Host || prev.Port != b.Port:
			ch.BrokersMoved = append(ch.BrokersMoved, id)
		}
	}
	sortBrokers(next.brokerList)
	for id := range old.brokers {
		if _, ok := next.brokers[id]; !ok {
			ch.BrokersRemoved = append(ch.BrokersRemoved, id)
			changed = true
		}
	}
	return changed
}

// mergeTopic builds a topic's new state from its response entry, read at
// version, and its cached state (nil if none), recording what changed. The
// View is left for the caller, which knows the new broker set.
func mergeTopic(prev *Topic, rt *protocol.MetadataResponseTopic, version int16, ch *Changes) *Topic {
	err := kerr.ForCode(rt.ErrorCode)
	t := &Topic{Name: *rt.Name, ID: rt.TopicID, Err: err}
	if prev != nil && prev.Slot != nil {
		t.Slot = prev.Slot
	} else {
		t.Slot = new(slot.Slot)
	}
	if err == nil {
		err = checkNumbering(t.Name, rt.Partitions, version)
		t.Err = err
	}
	seen := seenFor(prev, t.ID)
	switch {
	case err == nil:
		t.Partitions = mergePartitions(prev, seen, t.ID, rt.Partitions)
	case errors.Is(err, ErrMalformed):
		if prev != nil {
			t.Partitions, t.ID, seen = prev.Partitions, prev.ID, prev.seen
		}
	case errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.InvalidTopicException):
		ch.UnknownTopics = append(ch.UnknownTopics, t.Name)
	case kerr.IsRetriable(err) && prev != nil && recreated(prev.ID, t.ID):
		// The topic was re-created: the old incarnation's leaders and
		// epochs are nothing to keep, and kept under the new id they
		// would win over the new incarnation's lower epochs.
	case kerr.IsRetriable(err) && prev != nil:
		t.Partitions = prev.Partitions
		if t.ID == (wire.UUID{}) {
			t.ID = prev.ID // error responses may omit it
		}
	}
	t.seen = seen.with(t.ID, t.Partitions)
	recordTopicChanges(prev, t, ch)
	return t
}

// checkNumbering reports a topic's partitions, in an answer read at
// version, that are not numbered 0 to n-1, each once: a broker lists every
// partition of a topic it names.
func checkNumbering(topic string, rps []protocol.MetadataResponsePartition, version int16) error {
	seen := make([]bool, len(rps))
	for i := range rps {
		idx := rps[i].PartitionIndex
		var wrong string
		switch {
		case idx < 0 || int(idx) >= len(rps):
			wrong = fmt.Sprintf("partition %d listed among %d", idx, len(rps))
		case seen[idx]:
			wrong = fmt.Sprintf("partition %d listed twice", idx)
		default:
			seen[idx] = true
			continue
		}
		return fmt.Errorf("%w: %s v%d answer: topic %q: %s", ErrMalformed, protocol.Metadata, version, topic, wrong)
	}
	return nil
}

// mergePartitions turns the response's partitions, numbered 0 to n-1, into
// a slice indexed by partition id, keeping a cached partition whose leader
// epoch is newer than the response's. Under the topic id the epochs were
// seen under, it keeps the partitions past the response's count too: the
// cached ones, and those an answer dropped since, which, like a partition
// no longer cached whose epoch seen is newer than the response's, have no
// known leader.
func mergePartitions(prev *Topic, seen epochsSeen, id wire.UUID, rps []protocol.MetadataResponsePartition) []Partition {
	var known []Partition
	if prev != nil && !recreated(prev.ID, id) {
		known = prev.Partitions
	}
	n := len(rps)
	if seen.under(id) {
		n = max(n, len(known), len(seen.epochs))
	}
	if n == 0 {
		return nil
	}
	parts := make([]Partition, n)
	copy(parts[len(rps):], known[min(len(rps), len(known)):])
	for i := max(len(rps), len(known)); i < n; i++ {
		parts[i] = seen.unled(i)
	}
	for i := range rps {
		rp := &rps[i]
		idx := int(rp.PartitionIndex)
		p := Partition{
			ID:          rp.PartitionIndex,
			Leader:      rp.LeaderID,
			LeaderEpoch: rp.LeaderEpoch,
			Replicas:    rp.ReplicaNodes,
			ISR:         rp.IsrNodes,
			Offline:     rp.OfflineReplicas,
			Err:         kerr.ForCode(rp.ErrorCode),
		}
		switch {
		case idx < len(known) && p.LeaderEpoch >= 0 && known[idx].LeaderEpoch > p.LeaderEpoch:
			p = known[idx] // a lagging broker answered; keep what we know
		case seen.newer(idx, p.LeaderEpoch):
			// A lagging broker answered after one that dropped the
			// partitions: who leads the newer epoch is not known.
			p = seen.unled(idx)
		}
		parts[idx] = p
	}
	return parts
}

// recreated reports whether two topic ids name different incarnations of a
// topic. The zero id (Metadata before v10, or an error) proves nothing.
func recreated(old, new wire.UUID) bool {
	var zero wire.UUID
	return old != zero && new != zero && old != new
}

// recordTopicChanges compares a topic's partitions before and after, and
// its id with the last one seen of it: an answer that called the topic
// unknown gave none, and the topic may have been deleted and created again
// meanwhile.
func recordTopicChanges(prev, t *Topic, ch *Changes) {
	var before []Partition
	if prev != nil {
		before = prev.Partitions
		if recreated(prev.seen.id, t.ID) {
			ch.RecreatedTopics = append(ch.RecreatedTopics, t.Name)
		}
	}
	after := t.Partitions
	switch {
	case len(before) == 0 && len(after) > 0:
		ch.NewTopics = append(ch.NewTopics, t.Name)
	case len(before) > 0 && len(after) > len(before):
		ch.GrownTopics = append(ch.GrownTopics, t.Name)
	}
	for i := 0; i < min(len(before), len(after)); i++ {
		if before[i].Leader != after[i].Leader {
			ch.LeadersMoved = append(ch.LeadersMoved, TopicPartition{Topic: t.Name, Partition: int32(i)})
		}
	}
}
