package producer

// topicsForgotten drops what the producer keeps per topic only as a hint
// for the topics its metadata forgot as idle (Config.MetadataMaxIdle):
// the time of the last load report, and the partitioner's state, if it
// would drop it (partitioner.Forgetter). Kept, they grew by the topic for
// the producer's life, however briefly each was used. A record for such a
// topic later makes them afresh, as for a new topic; an append racing the
// forget may make one again at once, which the topic's next forget drops.
//
// The accumulator's partitions of the topic stay: with idempotence they
// carry the producer's sequence numbers for them, which the broker still
// holds for the topic it still has, and a restart at sequence 0 under the
// same epoch would be refused (OUT_OF_ORDER_SEQUENCE_NUMBER). The Java
// client, too, keeps a partition's sequence until the epoch changes.
func (p *Producer) topicsForgotten(names []string) {
	for _, name := range names {
		p.loadReports.Delete(name)
	}
	if p.forgets != nil {
		for _, name := range names {
			p.forgetInPartitioner(name)
		}
	}
}

// forgetInPartitioner tells the partitioner that topic is forgotten. Its
// panic, on the metadata loop's goroutine, where no caller could recover
// it, is logged with its stack, and the loop goes on.
func (p *Producer) forgetInPartitioner(topic string) {
	defer func() {
		if v := recover(); v != nil {
			p.logPartitionerPanic(v, "Forget", "a topic the metadata forgot", "its state for the topic may stay", topic, -1)
		}
	}()
	p.forgets.Forget(topic)
}
