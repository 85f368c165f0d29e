package metadata

// Forget drops the named topics from the cache, as if no update had
// mentioned them: the producer has not used them for MetadataMaxIdle, and
// keeping them would have every refresh ask for them for ever (the Java
// client's metadata.max.idle.ms). A topic used again is looked up afresh.
// Names the cache does not hold are ignored; it returns the names it
// dropped, for whoever keeps something per topic on the cache's word.
func (c *Cache) Forget(names []string) (forgotten []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := &Snapshot{brokers: old.brokers, brokerList: old.brokerList, updated: old.updated}
	next.topics = make(map[string]*Topic, len(old.topics))
	for name, t := range old.topics {
		next.topics[name] = t
	}
	for _, name := range names {
		if _, ok := next.topics[name]; ok {
			delete(next.topics, name)
			forgotten = append(forgotten, name)
		}
	}
	if len(forgotten) == 0 {
		return nil
	}
	next.ledBy = buildLedBy(next.topics)
	c.snap.Store(next)
	return forgotten
}
