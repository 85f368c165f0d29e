package fakebroker

// What a test can read, and change, of the cluster's idempotence state.

// ProducerState is what a partition remembers of one idempotent producer.
type ProducerState struct {
	Epoch int16
	// Batches are its last appended batches at Epoch, oldest first: at
	// most 5, the ones a retry is recognised against.
	Batches []BatchMetadata
}

// BatchMetadata describes one appended batch.
type BatchMetadata struct {
	FirstSequence, LastSequence int32
	BaseOffset                  int64
}

// LastSequence is the last sequence appended at Epoch, -1 if none.
func (s ProducerState) LastSequence() int32 {
	if len(s.Batches) == 0 {
		return -1
	}
	return s.Batches[len(s.Batches)-1].LastSequence
}

// ProducerState returns a copy of what the partition remembers of producer
// id; false if nothing (the partition never appended a batch of it, or
// ForgetProducer forgot it).
func (c *Cluster) ProducerState(topic string, partition int32, id int64) (ProducerState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.partitionLocked(topic, partition)
	if err != nil {
		return ProducerState{}, false
	}
	st := p.producers[id]
	if st == nil {
		return ProducerState{}, false
	}
	out := ProducerState{Epoch: st.epoch, Batches: make([]BatchMetadata, st.n)}
	for i := range out.Batches {
		b := st.batch(i)
		out.Batches[i] = BatchMetadata{FirstSequence: b.firstSeq, LastSequence: b.lastSeq, BaseOffset: b.baseOffset}
	}
	return out, true
}

// ForgetProducer drops producer id's state from every partition, as Kafka
// does once the latest batch of it on a partition carries timestamps older
// than producer.id.expiration.ms, or its records are deleted. Its next
// batch to a partition is accepted at any sequence, and a retry of an
// earlier one is appended again.
func (c *Cluster) ForgetProducer(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.topics {
		for _, p := range t.partitions {
			delete(p.producers, id)
		}
	}
}

// InitProducerIdRequests is the number of InitProducerId requests received,
// answered or not.
func (c *Cluster) InitProducerIdRequests() int64 { return c.initProducerIdReqs.Load() }

// DuplicateBatches is the number of batches recognised as retries of an
// appended batch: answered with success and the original offset, not
// appended again.
func (c *Cluster) DuplicateBatches() int64 { return c.duplicates.Load() }

// OutOfOrderBatches is the number of partitions' data refused with
// OUT_OF_ORDER_SEQUENCE_NUMBER (a producer sends one batch per partition
// per request).
func (c *Cluster) OutOfOrderBatches() int64 { return c.outOfOrder.Load() }

// InvalidEpochBatches is the number of partitions' data refused with
// INVALID_PRODUCER_EPOCH.
func (c *Cluster) InvalidEpochBatches() int64 { return c.invalidEpoch.Load() }
