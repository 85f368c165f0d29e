package embedded

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// failProducerState answers each of the next n Produce requests with e, an
// error about the broker's state for the producer, as a real broker does:
// per partition, after checking that it leads the partition, and with the
// partition's log start offset (Kafka's ReplicaManager fills it in for every
// error an append raises). kfake's own fault injection answers before it
// looks at the partition, with a log start offset of -1, which the Java
// client takes as "retry until the broker says more"; hence a control
// function. Requests with acks=0 get no answer to fault and pass.
func (c *Cluster) failProducerState(n int, e *kerr.Error) *Fault {
	b := newBudget(n)
	c.fake.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		if req.Acks == 0 {
			return nil, nil, false
		}
		if !b.take() {
			c.fake.DropControl()
			return nil, nil, false
		}
		if b.armed() {
			c.fake.KeepControl() // a handled request drops it otherwise
		}
		node := c.fake.CurrentNode()
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				info := c.partitionInControl(rt.Topic, rt.TopicID, rp.Partition)
				switch {
				case info == nil:
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case info.Leader != node:
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				default:
					sp.ErrorCode = e.Code
					sp.LogStartOffset = info.LogStartOffset
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return b.fault()
}

// partitionInControl looks a partition up, by topic name or (Produce v13+)
// topic ID, from a control function. kfake serves its administrative calls
// while a control function runs, but never once it is closed, so the lookup
// gives up (nil) when the cluster closes.
func (c *Cluster) partitionInControl(topic string, id [16]byte, partition int32) *kfake.PartitionInfo {
	got := make(chan *kfake.PartitionInfo, 1)
	go func() {
		if topic == "" {
			ti := c.fake.TopicIDInfo(id)
			if ti == nil {
				got <- nil
				return
			}
			topic = ti.Topic
		}
		got <- c.fake.PartitionInfo(topic, partition)
	}()
	select {
	case info := <-got:
		return info
	case <-c.closing:
		return nil
	}
}
