package producer

import (
	"time"

	"github.com/gokafka/producer/metadata"
)

// Version is this library's version, sent to brokers in ApiVersions (KIP-511).
const Version = "0.1.0"

// expiryLoop fails batches whose DeliveryTimeout passed, wherever they are
// (waiting for a leader, for a retry, or for an answer), and records whose
// metadata did not come within MaxBlock.
func (p *Producer) expiryLoop() {
	defer p.bg.Done()
	clk := p.cfg.clock
	for {
		now := clk.Now()
		next := min(p.acc.Expire(now), p.held.expire(now))
		// Every batch and every held record is counted in next from its
		// first moment, so it is exact; what appears after this pass
		// expires no sooner than a full timeout from now, which bounds the
		// sleep.
		next = min(next, p.heldLimit(), p.cfg.DeliveryTimeout)
		if p.loads != nil {
			p.reportLoad()
			next = min(next, loadReportInterval)
		}
		// The wait ends at now+next, the now this pass read: time that
		// passed during the pass counts (on a fake clock, a test may move
		// it before the timer is armed).
		if !p.pause(now.Add(next).Sub(clk.Now())) {
			return
		}
	}
}

// pause waits d on the producer's clock, for a background loop; it reports
// false, at once, when the producer closes.
func (p *Producer) pause(d time.Duration) bool {
	t := p.cfg.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-p.ctx.Done():
		return false
	}
}

// loadReportInterval is how often queue lengths are reported to a
// partitioner that steers by load. Queues change batch by batch, so once a
// second follows them closely enough at negligible cost.
const loadReportInterval = time.Second

// reportLoad tells the partitioner how many batches wait per partition, so
// the sticky partitioner can favour partitions whose leaders keep up
// (KIP-794's adaptive partitioning).
func (p *Producer) reportLoad() {
	snap := p.cluster.Snapshot()
	var sizes []int32 // SetLoad copies, so one slice serves every topic
	for _, name := range snap.Topics() {
		t := snap.Topic(name)
		if t == nil || len(t.Partitions) == 0 {
			continue
		}
		if n := len(t.Partitions); cap(sizes) < n {
			sizes = make([]int32, n)
		} else {
			sizes = sizes[:n]
		}
		for i := range sizes {
			queued, inFlight := p.acc.Queued(metadata.TopicPartition{Topic: name, Partition: int32(i)})
			sizes[i] = int32(queued + inFlight)
		}
		p.loads.SetLoad(name, sizes)
	}
}
