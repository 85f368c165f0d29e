package metadata

import (
	"fmt"
	"testing"
)

func benchCache() *Cache {
	c := NewCache()
	var topics []protocolTopic
	for i := 0; i < 100; i++ {
		parts := make([]protocolPartition, 32)
		for p := range parts {
			parts[p] = part(int32(p), int32(p%3)+1, 0)
		}
		topics = append(topics, topic(fmt.Sprintf("topic-%d", i), none0, parts...))
	}
	c.Apply(resp(brokers(1, 2, 3), topics...), answerVersion, nil, t0)
	return c
}

// TestLookupsDoNotAllocate pins the per-record path at zero allocations.
func TestLookupsDoNotAllocate(t *testing.T) {
	c := benchCache()
	allocs := testing.AllocsPerRun(1000, func() {
		s := c.Snapshot()
		if s.Topic("topic-42").View == nil {
			t.Fatal("no view")
		}
		if _, _, ok := s.Leader("topic-42", 7); !ok {
			t.Fatal("no leader")
		}
		_ = s.LedBy(2)
	})
	if allocs != 0 {
		t.Fatalf("lookups allocate %.1f times per run", allocs)
	}
}

func BenchmarkSnapshotTopic(b *testing.B) {
	c := benchCache()
	b.ReportAllocs()
	for b.Loop() {
		if c.Snapshot().Topic("topic-42") == nil {
			b.Fatal("topic unknown")
		}
	}
}

func BenchmarkSnapshotLeader(b *testing.B) {
	c := benchCache()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := c.Snapshot().Leader("topic-42", 7); !ok {
			b.Fatal("no leader")
		}
	}
}
