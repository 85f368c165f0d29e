package fakebroker

import (
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// ProduceHook decides how one Produce request is answered. It runs on the
// connection's goroutine before the request is processed; req and its
// record bytes are valid only during the call unless KeepRecords is set.
// Topics carry their names at every version: from v13, which names them by
// id, the fake fills the names in (empty for an id it does not know).
type ProduceHook func(node int32, req *protocol.ProduceRequest) Action

// MetadataHook decides how one Metadata request is answered.
type MetadataHook func(node int32, req *protocol.MetadataRequest) Action

// InitProducerIdHook decides how one InitProducerId request is answered.
type InitProducerIdHook func(node int32, req *protocol.InitProducerIdRequest) Action

// Action is what a hook asks the fake to do with a request. The zero value
// answers normally. Delay applies first; then Drop or Hang, if set, replace
// the answer, and the request is not processed at all. LoseAnswer, by
// contrast, processes the request and only then breaks the connection.
type Action struct {
	// Delay holds the request this long (real time) before processing and
	// answering it. Later requests on the connection wait behind it, as
	// they do on a Kafka broker, which answers a connection in order.
	Delay time.Duration
	// Drop closes the connection without answering.
	Drop bool
	// Hang never answers: the connection stays open and its later requests
	// are read and ignored, as if the broker were stuck.
	Hang bool
	// LoseAnswer processes the request (Produce appends, InitProducerId
	// uses up an id) and then closes the connection instead of answering:
	// the broker acted and the client cannot know it. A retry of such a
	// Produce is what idempotence must turn into a duplicate.
	LoseAnswer bool

	// All fails every partition of a Produce request with the same error.
	// An OUT_OF_ORDER_SEQUENCE_NUMBER gives way to the duplicate answer
	// for a retry of the producer's last batch appended to the partition,
	// as Kafka answers it (repeatsLast); so it does in Partitions.
	All *Failure
	// Partitions fails the listed partitions of a Produce request, taking
	// precedence over All. Failed partitions' records are not appended,
	// but for a Failure that comes after the append (Failure.Appended).
	Partitions map[TopicPartition]*Failure
	// Throttle is the ThrottleTimeMs of a Produce answer: what a broker
	// holding a client to its quota says (the answer is not delayed).
	Throttle time.Duration

	// Hide answers these topics of a Metadata request as unknown
	// (UNKNOWN_TOPIC_OR_PARTITION), and leaves them out of "all topics".
	Hide []string
	// Refuse answers each of these topics of a Metadata request with its
	// error and no partitions, as a broker denying access to the topic
	// does (TOPIC_AUTHORIZATION_FAILED), and leaves it out of "all
	// topics", as such a broker lists only the topics it lets the client
	// describe.
	Refuse map[string]*kerr.Error
	// HideBrokers leaves these nodes out of a Metadata answer's brokers, as
	// when they have left the cluster.
	HideBrokers []int32
	// Shrink answers each of these topics with only its first n
	// partitions, as a broker that has not seen CreatePartitions yet.
	Shrink map[string]int32
	// ListTwice lists partition 0 of each of these topics of a Metadata
	// answer twice, as a corrupt answer would.
	ListTwice []string

	// Err answers an InitProducerId request with this error code and no
	// producer id (-1, epoch -1); no id is used up. On a Metadata request
	// (v13+) it is the answer's top-level error code (KIP-1102).
	Err *kerr.Error
}

// Failure is one partition's error answer to a Produce request.
type Failure struct {
	Err          *kerr.Error
	Message      string // the ErrorMessage (v8+); empty sends null
	RecordErrors []protocol.ProduceResponseRecordError
	// Appended writes the data as usual and only then answers Err, with
	// the append's base offset and log start offset: an error that came
	// after the leader's append, as a KAFKA_STORAGE_ERROR may (the
	// partition going offline while acks=all waits for the followers).
	// REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND always come
	// so, set or not: Kafka sends them only for an append done, once
	// acks=all has timed out or the ISR has shrunk (DelayedProduce). Data
	// the append refuses gets the refusal instead.
	Appended bool
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// FailAll is the Action failing every partition of a request with err and
// message.
func FailAll(err *kerr.Error, message string) Action {
	return Action{All: &Failure{Err: err, Message: message}}
}

// OnProduce installs the hook every node consults for Produce requests; nil
// removes it.
func (c *Cluster) OnProduce(h ProduceHook) {
	if h == nil {
		c.produceFn.Store(nil)
		return
	}
	c.produceFn.Store(&h)
}

// OnMetadata installs the hook every node consults for Metadata requests;
// nil removes it.
func (c *Cluster) OnMetadata(h MetadataHook) {
	if h == nil {
		c.metaFn.Store(nil)
		return
	}
	c.metaFn.Store(&h)
}

// OnInitProducerId installs the hook every node consults for InitProducerId
// requests; nil removes it.
func (c *Cluster) OnInitProducerId(h InitProducerIdHook) {
	if h == nil {
		c.initProducerIdFn.Store(nil)
		return
	}
	c.initProducerIdFn.Store(&h)
}

// FailInitProducerId is a hook answering the first n InitProducerId
// requests it sees with err, and the rest normally. COORDINATOR_LOAD_IN_PROGRESS
// is what a Kafka broker answers while it waits for a block of producer ids.
func FailInitProducerId(n int64, err *kerr.Error) InitProducerIdHook {
	var seen atomic.Int64
	return func(int32, *protocol.InitProducerIdRequest) Action {
		if seen.Add(1) <= n {
			return Action{Err: err}
		}
		return Action{}
	}
}

// failure returns the injected failure for a partition, if any.
func (a *Action) failure(topic string, partition int32) *Failure {
	if f := a.Partitions[TopicPartition{topic, partition}]; f != nil {
		return f
	}
	return a.All
}

// afterAppend reports whether f comes after the data is appended.
func (f *Failure) afterAppend() bool {
	return f.Appended || f.Err == kerr.RequestTimedOut || f.Err == kerr.NotEnoughReplicasAfterAppend
}

// hidden reports whether a Metadata action hides topic.
func (a *Action) hidden(topic string) bool {
	for _, h := range a.Hide {
		if h == topic {
			return true
		}
	}
	return false
}
