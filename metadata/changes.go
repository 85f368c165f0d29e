package metadata

// Changes says what one Apply changed, so that the producer can react
// without diffing snapshots itself: wake records waiting for a new topic,
// re-partition after growth, move batches to new leaders, fail or keep
// waiting on unknown topics, and retarget or drop broker connections.
// Every list is sorted.
type Changes struct {
	// NewTopics have partitions now and had none before.
	NewTopics []string
	// GrownTopics had partitions and now have more.
	GrownTopics []string
	// LeadersMoved are partitions, known before and after, whose leader id
	// changed (to or from -1 included).
	LeadersMoved []TopicPartition
	// UnknownTopics were answered with UNKNOWN_TOPIC_OR_PARTITION or
	// INVALID_TOPIC_EXCEPTION.
	UnknownTopics []string
	// RemovedTopics were dropped because a response to an all-topics request
	// no longer listed them (the topic was deleted).
	RemovedTopics []string
	// RecreatedTopics were deleted and created again under their name: the
	// answer gives another topic id than the last one seen of them, in this
	// answer or an earlier one (an answer calling the topic unknown in
	// between gives none). Their leaders know nothing of what was written
	// to the old topic, nor of its producers. The zero id (Metadata before
	// v10) proves nothing: such a topic may be among NewTopics, after an
	// answer that called it unknown, or in no list at all.
	RecreatedTopics []string
	// BrokersAdded, BrokersRemoved and BrokersMoved (same id, new host or
	// port) are node ids.
	BrokersAdded, BrokersRemoved, BrokersMoved []int32
}

// Empty reports whether nothing the producer acts on changed.
func (c *Changes) Empty() bool {
	return len(c.NewTopics) == 0 && len(c.GrownTopics) == 0 && len(c.LeadersMoved) == 0 &&
		len(c.UnknownTopics) == 0 && len(c.RemovedTopics) == 0 && len(c.RecreatedTopics) == 0 &&
		len(c.BrokersAdded) == 0 && len(c.BrokersRemoved) == 0 && len(c.BrokersMoved) == 0
}

// sort puts every list in a stable order: Apply walks maps.
func (c *Changes) sort() {
	sortStrings(c.NewTopics, c.GrownTopics, c.UnknownTopics, c.RemovedTopics, c.RecreatedTopics)
	sortInt32s(c.BrokersAdded, c.BrokersRemoved, c.BrokersMoved)
	sortTPs(c.LeadersMoved)
}
