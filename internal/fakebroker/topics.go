package fakebroker

import (
	"fmt"
	"slices"
	"sort"

	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/record"
)

// topic is one topic's partitions; guarded by Cluster.mu.
type topic struct {
	name       string
	id         wire.UUID
	partitions []*partition
}

// partition is one partition's leadership, log and producer state; guarded
// by Cluster.mu.
type partition struct {
	leader    int32
	epoch     int32
	next      int64                    // the offset the next record gets
	log       []Record                 // KeepRecords only
	producers map[int64]*producerState // by producer id; nil until an idempotent batch
}

// Record is a record as the fake stored it: the decoded record plus the
// absolute offset the fake assigned, its absolute timestamp (ms), and the
// idempotence fields of its batch, so that a test can check exactly-once
// delivery record by record.
type Record struct {
	record.Record
	Offset    int64
	Timestamp int64
	// ProducerID and ProducerEpoch are the batch's (record.NoProducerID
	// and record.NoProducerEpoch when not idempotent); Sequence is the
	// record's own: the batch's base sequence plus its offset delta,
	// wrapped past math.MaxInt32, or record.NoSequence.
	ProducerID    int64
	ProducerEpoch int16
	Sequence      int32
}

// CreateTopic creates a topic with n partitions, leaders assigned as
// Options.Leader says. It fails if the topic exists or n < 1.
func (c *Cluster) CreateTopic(name string, n int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.createLocked(name, n)
	return err
}

// createLocked creates a topic; c.mu is held.
func (c *Cluster) createLocked(name string, n int32) (*topic, error) {
	if _, ok := c.topics[name]; ok {
		return nil, fmt.Errorf("fakebroker: topic %q exists", name)
	}
	if n < 1 {
		return nil, fmt.Errorf("fakebroker: topic %q: %d partitions", name, n)
	}
	c.created++
	t := &topic{name: name, partitions: make([]*partition, n)}
	// A readable, unique, non-zero id: the creation index in the last bytes.
	t.id[0] = 0xfa
	for i := 0; i < 8; i++ {
		t.id[15-i] = byte(c.created >> (8 * i))
	}
	for p := range t.partitions {
		leader := int32((c.created - 1 + p) % c.opts.Nodes)
		if c.opts.Leader != nil {
			leader = c.opts.Leader(name, int32(p))
		}
		t.partitions[p] = &partition{leader: leader}
	}
	c.topics[name] = t
	c.byID[t.id] = t
	return t, nil
}

// RecreateTopic deletes a topic and creates it again under its name, with
// as many partitions and the same leaders, as an admin's delete and create
// would leave it: a new topic id, leader epochs and offsets from 0, no
// records, and no producer state, so that a leader takes any first sequence
// from a producer that wrote to the old topic. A Produce naming the old id
// (v13+) is refused with UNKNOWN_TOPIC_ID; one naming the topic writes to
// the new one. It fails if the topic does not exist.
func (c *Cluster) RecreateTopic(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.topics[name]
	if old == nil {
		return fmt.Errorf("fakebroker: topic %q does not exist", name)
	}
	delete(c.topics, name)
	delete(c.byID, old.id)
	t, err := c.createLocked(name, int32(len(old.partitions)))
	if err != nil {
		return err
	}
	for i, p := range old.partitions {
		t.partitions[i].leader = p.leader
	}
	return nil
}

// SetLeader moves a partition's leadership to node and bumps its leader
// epoch, as a controller's election would. Produce requests to the old
// leader then get NOT_LEADER_OR_FOLLOWER.
func (c *Cluster) SetLeader(topic string, partition, node int32) error {
	if _, err := c.node(node); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.partitionLocked(topic, partition)
	if err != nil {
		return err
	}
	p.leader = node
	p.epoch++
	return nil
}

// FreezeMetadata makes Metadata answers describe the leaders as they are
// now, whatever SetLeader does afterwards, until ThawMetadata: a lagging
// metadata cache, the case where only the KIP-951 hint in a Produce answer
// tells the client where a leader went.
func (c *Cluster) FreezeMetadata() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = make(map[string][]partition, len(c.topics))
	for name, t := range c.topics {
		ps := make([]partition, len(t.partitions))
		for i, p := range t.partitions {
			ps[i] = partition{leader: p.leader, epoch: p.epoch}
		}
		c.frozen[name] = ps
	}
}

// ThawMetadata makes Metadata answers current again.
func (c *Cluster) ThawMetadata() {
	c.mu.Lock()
	c.frozen = nil
	c.mu.Unlock()
}

// Leader returns a partition's leader and leader epoch.
func (c *Cluster) Leader(topic string, partition int32) (node, epoch int32, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.partitionLocked(topic, partition)
	if err != nil {
		return -1, -1, err
	}
	return p.leader, p.epoch, nil
}

// Records returns a copy of the records stored for a partition, in offset
// order; nil unless Options.KeepRecords is set. A batch recognised as a
// retry of an appended one is not stored again.
func (c *Cluster) Records(topic string, partition int32) []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.partitionLocked(topic, partition)
	if err != nil {
		return nil
	}
	return slices.Clone(p.log)
}

// HighWatermark is the offset the partition's next record will get: the
// number of records it accepted. It works without KeepRecords.
func (c *Cluster) HighWatermark(topic string, partition int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.partitionLocked(topic, partition)
	if err != nil {
		return -1
	}
	return p.next
}

// Partitions is a topic's partition count, 0 if it does not exist.
func (c *Cluster) Partitions(topic string) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.topics[topic]; t != nil {
		return int32(len(t.partitions))
	}
	return 0
}

func (c *Cluster) partitionLocked(name string, partition int32) (*partition, error) {
	t := c.topics[name]
	if t == nil {
		return nil, fmt.Errorf("fakebroker: no topic %q", name)
	}
	if partition < 0 || int(partition) >= len(t.partitions) {
		return nil, fmt.Errorf("fakebroker: topic %q has no partition %d", name, partition)
	}
	return t.partitions[partition], nil
}

// sortedTopicsLocked lists the topics by name, for "all topics" metadata.
func (c *Cluster) sortedTopicsLocked() []*topic {
	out := make([]*topic, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// validTopicName applies Kafka's rule for topic names, so auto-creation
// refuses what a broker would.
func validTopicName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AddPartitions grows topic to n partitions, as Kafka's CreatePartitions
// does; the new ones are led round-robin. Producers learn of them from their
// next metadata refresh.
func (c *Cluster) AddPartitions(name string, n int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.topics[name]
	if !ok {
		return fmt.Errorf("fakebroker: topic %q does not exist", name)
	}
	if int(n) <= len(t.partitions) {
		return fmt.Errorf("fakebroker: topic %q has %d partitions, cannot grow to %d", name, len(t.partitions), n)
	}
	for p := int32(len(t.partitions)); p < n; p++ {
		leader := p % int32(c.opts.Nodes)
		if c.opts.Leader != nil {
			leader = c.opts.Leader(name, p)
		}
		t.partitions = append(t.partitions, &partition{leader: leader})
	}
	return nil
}
