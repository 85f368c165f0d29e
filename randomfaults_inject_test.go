package producer

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// retriableProduceErrors are the answers a broker gives a Produce it may
// take on a retry: the producer must retry them without reordering or
// duplicating a partition's records.
var retriableProduceErrors = []*kerr.Error{kerr.NotLeaderOrFollower, kerr.RequestTimedOut,
	kerr.NotEnoughReplicas, kerr.LeaderNotAvailable, kerr.KafkaStorageError, kerr.NetworkException}

// faultCount counts the faults a scene injected, by kind, for its log: a
// scene that failed with few faults points at a different bug than one
// that failed under many.
type faultCount struct{ byKind sync.Map }

func (f *faultCount) add(kind string) {
	n, _ := f.byKind.LoadOrStore(kind, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

func (f *faultCount) String() string {
	var kinds []string
	f.byKind.Range(func(kind, n any) bool {
		kinds = append(kinds, fmt.Sprintf("%s=%d", kind, n.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(kinds)
	return fmt.Sprint(kinds)
}

// injectFaults makes c meet the scene's requests with faults, and starts a
// goroutine that moves leaders, drops connections and changes
// message.max.bytes. The returned stop ends every fault, so that the
// scene's last Flush and Close meet a healthy cluster; it may be called
// again.
func (s *scene) injectFaults(c *fakebroker.Cluster, count *faultCount) (stop func()) {
	var stopped atomic.Bool
	c.OnProduce(func(_ int32, req *protocol.ProduceRequest) fakebroker.Action {
		if stopped.Load() || !s.random.chance(s.faultOdds) {
			return fakebroker.Action{}
		}
		return s.produceFault(req, count)
	})
	c.OnInitProducerId(func(int32, *protocol.InitProducerIdRequest) fakebroker.Action {
		if stopped.Load() || !s.random.chance(s.faultOdds) {
			return fakebroker.Action{}
		}
		count.add("InitProducerId")
		switch s.random.IntN(3) {
		case 0:
			return fakebroker.Action{Err: kerr.CoordinatorLoadInProgress}
		case 1:
			return fakebroker.Action{LoseAnswer: true}
		default:
			return fakebroker.Action{Delay: 30 * time.Millisecond}
		}
	})

	done := make(chan struct{})
	var background sync.WaitGroup
	background.Add(1)
	go func() {
		defer background.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(2+s.random.IntN(30)) * time.Millisecond):
			}
			if s.random.chance(2 * s.faultOdds) {
				s.backgroundFault(c, count)
			}
		}
	}()
	var once sync.Once
	return func() { // at the scene's end, and again at cleanup
		once.Do(func() {
			close(done)
			background.Wait()
			stopped.Store(true)
			c.SetMaxMessageBytes(0)
		})
	}
}

// produceFault is one Produce request's fault: it is lost before or after
// the broker acts on it, held, left unanswered, or answered with an error
// for all its partitions or one of them. REQUEST_TIMED_OUT and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND come after the append, as on Kafka, and
// so does half the KAFKA_STORAGE_ERRORs: the log holds the batch that the
// producer must then treat as maybe written.
func (s *scene) produceFault(req *protocol.ProduceRequest, count *faultCount) fakebroker.Action {
	failure := func(err *kerr.Error) *fakebroker.Failure {
		f := &fakebroker.Failure{Err: err, Appended: err == kerr.KafkaStorageError && s.random.IntN(2) == 0}
		if f.Appended {
			count.add("appended " + err.Name)
		}
		return f
	}
	onePartition := func(err *kerr.Error) fakebroker.Action {
		tp := req.Topics[s.random.IntN(len(req.Topics))]
		pp := tp.Partitions[s.random.IntN(len(tp.Partitions))]
		return fakebroker.Action{Partitions: map[fakebroker.TopicPartition]*fakebroker.Failure{
			{Topic: tp.Name, Partition: pp.Index}: failure(err)}}
	}
	switch s.random.IntN(9) {
	case 0:
		count.add("drop")
		return fakebroker.Action{Drop: true}
	case 1:
		count.add("lose the answer")
		return fakebroker.Action{LoseAnswer: true}
	case 2:
		count.add("delay")
		return fakebroker.Action{Delay: time.Duration(s.random.IntN(int(s.maxDelay)))}
	case 3:
		if s.random.IntN(4) != 0 { // a hang costs a RequestTimeout
			return fakebroker.Action{}
		}
		count.add("hang")
		return fakebroker.Action{Hang: true}
	case 4:
		err := retriableProduceErrors[s.random.IntN(len(retriableProduceErrors))]
		count.add("all partitions " + err.Name)
		return fakebroker.Action{All: failure(err)}
	case 5:
		err := retriableProduceErrors[s.random.IntN(len(retriableProduceErrors))]
		count.add("one partition " + err.Name)
		return onePartition(err)
	case 6:
		count.add(kerr.OutOfOrderSequenceNumber.Name)
		return onePartition(kerr.OutOfOrderSequenceNumber)
	case 7:
		// An answer older brokers or other implementations may send: Kafka
		// has not sent it since 2.5 (KIP-360).
		count.add(kerr.UnknownProducerID.Name)
		return onePartition(kerr.UnknownProducerID)
	default:
		count.add(kerr.NotEnoughReplicasAfterAppend.Name)
		return fakebroker.FailAll(kerr.NotEnoughReplicasAfterAppend, "")
	}
}

// backgroundFault changes the cluster under the producer.
func (s *scene) backgroundFault(c *fakebroker.Cluster, count *faultCount) {
	switch s.random.IntN(3) {
	case 0:
		count.add("move a leader")
		topic := []string{"a", "b"}[s.random.IntN(2)]
		partition := int32(s.random.IntN(int(sceneTopics[topic])))
		_ = c.SetLeader(topic, partition, int32(s.random.IntN(3)))
	case 1:
		count.add("drop connections")
		_ = c.DropConnections(int32(s.random.IntN(3)))
	default:
		// A smaller limit makes the producer split batches it had sent.
		count.add("message.max.bytes")
		if s.random.IntN(2) == 0 {
			c.SetMaxMessageBytes(120 + s.random.IntN(530))
		} else {
			c.SetMaxMessageBytes(0)
		}
	}
}
