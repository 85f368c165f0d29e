package cluster

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
)

// refreshedTwice waits for two refreshes requested one after the other:
// the second began after the first was applied, so it saw whatever the
// test changed before the call.
func (r *rig) refreshedTwice() {
	r.t.Helper()
	for range 2 {
		r.mu.Lock()
		before := r.updates
		r.mu.Unlock()
		r.c.RequestRefresh("test")
		require.Eventually(r.t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.updates > before
		}, waitFor, time.Millisecond, "no refresh applied within %v", waitFor)
	}
}

// A cached topic that is neither buffered, nor used, nor awaited for
// MaxIdle is forgotten by the next refresh, which no longer asks for it
// (metadata.max.idle.ms): before, every refresh asked for every topic the
// producer ever wrote to. Here MaxIdle is a nanosecond: idle at once.
func TestAnIdleTopicIsForgotten(t *testing.T) {
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 2}}, 1,
		func(c *Config) { c.MaxIdle = time.Nanosecond })
	r.awaitTopic("t")
	r.refreshedTwice()
	require.Nil(t, r.c.Snapshot().Topic("t"), "an idle topic is still cached")
	require.Empty(t, r.c.Node(0).Led(), "the broker still leads the forgotten topic's partitions")
	r.c.wantMu.Lock()
	defer r.c.wantMu.Unlock()
	require.Empty(t, r.c.released, "the release of a forgotten topic is still kept")
}

// A topic is kept while it has batches, while a batch of it started within
// MaxIdle, and while it is awaited; once none holds, it is forgotten.
func TestATopicInUseIsKept(t *testing.T) {
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"buffered": 1, "used": 1, "awaited": 1}}, 1,
		func(c *Config) { c.MaxIdle = time.Nanosecond })
	r.buffered.Store(&[]metadata.TopicPartition{{Topic: "buffered"}})
	r.used.Store(&[]string{"used"})
	release := r.c.Want("awaited")
	for _, name := range []string{"buffered", "used", "awaited"} {
		r.awaitTopic(name)
	}
	r.refreshedTwice()
	for _, name := range []string{"buffered", "used", "awaited"} {
		tp := r.c.Snapshot().Topic(name)
		require.NotNil(t, tp, "topic %q in use was forgotten", name)
		require.Len(t, tp.Partitions, 1)
	}

	r.buffered.Store(nil)
	r.used.Store(nil)
	release()
	r.refreshedTwice()
	for _, name := range []string{"buffered", "used", "awaited"} {
		require.Nil(t, r.c.Snapshot().Topic(name), "topic %q no longer in use is still cached", name)
	}
}

// A topic used while a refresh that found it idle waits for its answer is
// kept: records appended meanwhile against the cached metadata started a
// batch of it. That refresh forgot it, and the batch waited for a leader
// until a later refresh asked for its topic again.
func TestATopicUsedDuringTheRefreshThatFoundItIdleIsKept(t *testing.T) {
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 2}}, 1,
		func(c *Config) { c.MaxIdle = time.Nanosecond })
	r.awaitTopic("t")
	asked, release := make(chan struct{}), make(chan struct{})
	answer := sync.OnceFunc(func() { close(release) })
	t.Cleanup(answer) // should the test fail: the fake cluster's Close waits for its hook
	var once sync.Once
	r.fake.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		if !slices.ContainsFunc(req.Topics, func(rt protocol.MetadataRequestTopic) bool { return rt.Name != nil && *rt.Name == "t" }) {
			once.Do(func() { close(asked); <-release })
		}
		return fakebroker.Action{}
	})
	r.c.RequestRefresh("test")
	select {
	case <-asked:
	case <-time.After(waitFor):
		t.Fatalf("no refresh found the topic idle within %v", waitFor)
	}
	r.mu.Lock()
	before := r.updates
	r.mu.Unlock()
	r.used.Store(&[]string{"t"})
	answer()
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.updates > before
	}, waitFor, time.Millisecond, "the held refresh was not applied within %v", waitFor)
	require.NotNil(t, r.c.Snapshot().Topic("t"), "a topic used during the refresh that found it idle was forgotten")
}

// A topic awaited a moment ago (a PartitionsFor call, or records that
// waited for it) is in use until MaxIdle has passed since.
func TestATopicAwaitedWithinMaxIdleIsKept(t *testing.T) {
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 2}}, 1,
		func(c *Config) { c.MaxIdle = time.Hour })
	r.awaitTopic("t")
	r.refreshedTwice()
	require.NotNil(t, r.c.Snapshot().Topic("t"), "a topic awaited a moment ago was forgotten")
}
