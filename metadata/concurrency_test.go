package metadata

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// TestConcurrentReadersAndWriters runs lock-free readers against Apply and
// ApplyLeaderHint; run under -race it proves snapshots are never written
// after publication. Readers also check that each snapshot is internally
// consistent, which a torn update would break.
func TestConcurrentReadersAndWriters(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2, 3), topic("a", none0, part(0, 1, 0), part(1, 2, 0), part(2, 3, 0))), answerVersion, nil, t0)

	// Readers make a fixed number of passes; the writer keeps updating until
	// they are all done, so every read overlaps updates.
	const passes = 2000
	var readersDone atomic.Bool
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range passes {
				s := c.Snapshot()
				top := s.Topic("a")
				if top == nil {
					t.Error("topic a vanished")
					return
				}
				if int(top.View.Partitions) != len(top.Partitions) {
					t.Errorf("view counts %d partitions, topic has %d", top.View.Partitions, len(top.Partitions))
					return
				}
				led := 0
				for _, b := range s.Brokers() {
					led += len(s.LedBy(b.ID))
				}
				if led != len(top.Partitions) {
					t.Errorf("LedBy covers %d partitions, topic has %d", led, len(top.Partitions))
					return
				}
				for p := int32(0); p < int32(len(top.Partitions)); p++ {
					s.Leader("a", p)
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		readersDone.Store(true)
	}()

	for i := int32(1); !readersDone.Load() || i <= 200; i++ {
		n := 3 + i%5 // the partition count grows and, on re-creation, shrinks
		parts := make([]protocolPartition, n)
		for p := range parts {
			parts[p] = part(int32(p), 1+(int32(p)+i)%3, i)
		}
		tp := topic("a", none0, parts...)
		tp.TopicID[0] = byte(n) // a new id whenever the count shrinks
		c.Apply(resp(brokers(1, 2, 3), tp), answerVersion, []string{"a"}, t0)
		c.ApplyLeaderHint("a", wire.UUID{}, 0, 1+i%3, i*10, nil)
	}
}
