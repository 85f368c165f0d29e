package embedded

import (
	"sync"

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
		if e == kerr.OutOfOrderSequenceNumber && c.sent.retriesLast(req) {
			return nil, nil, false // kfake answers it, as a duplicate if it has it
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

// An injected OUT_OF_ORDER_SEQUENCE_NUMBER must not meet a retry of the
// newest batch a producer sent to a partition: had the broker appended it,
// it would be the producer's last there, and Kafka would answer its retry
// as a duplicate, as it keeps the last batch's metadata even when it
// restarts from its snapshot; a producer may take the refusal of its
// newest batch sent as proof that it was not written. kfake keeps its
// producer state to itself, so the cluster watches the Produce requests,
// and lets kfake answer such a retry.

// sentKey names one producer's batches to one partition.
type sentKey struct {
	topic     string
	topicID   [16]byte
	partition int32
	producer  int64
}

// sentBatch is the newest batch sent under a sentKey: the highest epoch,
// then the highest sequences (they wrap only after 2^31 records). retried:
// the request watched last that carried a batch of the key repeated it.
type sentBatch struct {
	epoch       int16
	first, last int32
	retried     bool
}

type lastSent struct {
	mu      sync.Mutex
	batches map[sentKey]sentBatch
}

// watchProduce books the first batch of each partition of every Produce
// request, before any fault's control function sees it.
func (c *Cluster) watchProduce() {
	c.fake.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.sent.book(kreq.(*kmsg.ProduceRequest))
		return nil, nil, false
	})
}

// each calls fn with the key and batch of each partition's first batch
// with a producer id in req.
func each(req *kmsg.ProduceRequest, fn func(sentKey, sentBatch)) {
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			var rb kmsg.RecordBatch
			if rb.ReadFrom(rp.Records) != nil || rb.ProducerID < 0 {
				continue
			}
			fn(sentKey{rt.Topic, rt.TopicID, rp.Partition, rb.ProducerID},
				sentBatch{epoch: rb.ProducerEpoch, first: rb.FirstSequence, last: rb.FirstSequence + rb.LastOffsetDelta})
		}
	}
}

func (s *lastSent) book(req *kmsg.ProduceRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	each(req, func(k sentKey, b sentBatch) {
		n, ok := s.batches[k]
		switch {
		case !ok || b.epoch > n.epoch || b.epoch == n.epoch && b.first > n.last:
			s.batches[k] = b
		default:
			n.retried = b.epoch == n.epoch && b.first == n.first && b.last == n.last
			s.batches[k] = n
		}
	})
}

// retriesLast reports whether req, booked already, carries a retry of the
// newest batch its producer sent to one of its partitions.
func (s *lastSent) retriesLast(req *kmsg.ProduceRequest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	retry := false
	each(req, func(k sentKey, _ sentBatch) {
		retry = retry || s.batches[k].retried
	})
	return retry
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
