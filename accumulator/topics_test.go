package accumulator

import (
	"fmt"
	"runtime"
	"testing"
)

// TestANewTopicDoesNotCopyTheOthers counts the bytes the accumulator
// allocates to add a topic, with few topics known and with many: adding
// one must not copy every topic known before it, or producing to n new
// topics costs n² (the copied map of 50,000 topics took 45% of a
// producer's CPU at 20,000). Bytes are counted, not time.
func TestANewTopicDoesNotCopyTheOthers(t *testing.T) {
	h := newHarness(t, nil)
	added := 0
	perTopic := func() uint64 {
		const n = 200
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			h.acc.topic(fmt.Sprintf("topic-%d", added))
			added++
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / n
	}
	few := perTopic()
	for added < 5_000 {
		h.acc.topic(fmt.Sprintf("topic-%d", added))
		added++
	}
	many := perTopic()
	if many > 2*few+256 {
		t.Fatalf("adding a topic allocates %d bytes with %d topics known, %d with 0: it copies what it knows", many, added-200, few)
	}
}
