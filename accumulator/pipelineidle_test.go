package accumulator

import (
	"testing"
	"time"
)

// A partition whose leader acknowledged a batch pipelines, until it has
// sent nothing for PipelineIdle: its leader may have forgotten the
// producer meanwhile (its state expired) and take any first sequence, so
// it sends one request first again, as under a new id, though its topic
// stayed in use (nothing called Recreated). A partition sending more often
// keeps pipelining.
func TestAPartitionIdleForPipelineIdleSendsOneRequestFirstAgain(t *testing.T) {
	h := idempotent(t, false, nil) // tp0 pipelines
	h.add(tp0, 0, big)
	h.acc.Complete(h.drainOne("b0"), 0, -1, nil)

	h.clk.Advance(PipelineIdle - time.Millisecond)
	h.add(tp0, 1, big)
	h.add(tp0, 2, big)
	b1 := h.drainOne("b1, sent within PipelineIdle of b0")
	b2 := h.drainOne("b2, pipelined behind b1")
	h.acc.Complete(b1, 1, -1, nil)
	h.acc.Complete(b2, 2, -1, nil)

	h.clk.Advance(PipelineIdle)
	for i := 3; i < 6; i++ {
		h.add(tp0, i, big)
	}
	b3 := h.drainOne("b3, after PipelineIdle without a send")
	h.drainNone("nothing behind b3 until its leader acknowledges a batch again")
	h.retry(b3, 0) // NOT_ENOUGH_REPLICAS, say
	b3 = h.drainOne("b3 again")
	h.drainNone("a refusal acknowledges nothing")
	h.acc.Complete(b3, 3, -1, nil)
	h.drainOne("once acknowledged, the batches behind go")
	h.drainOne("pipelined")
}
