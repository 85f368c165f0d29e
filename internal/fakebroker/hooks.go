package fakebroker

import (
	"time"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// ProduceHook decides how one Produce request is answered. It runs on the
// connection's goroutine before the request is processed; req and its
// record bytes are valid only during the call unless KeepRecords is set.
type ProduceHook func(node int32, req *protocol.ProduceRequest) Action

// MetadataHook decides how one Metadata request is answered.
type MetadataHook func(node int32, req *protocol.MetadataRequest) Action

// Action is what a hook asks the fake to do with a request. The zero value
// answers normally. Delay applies first; then Drop or Hang, if set, replace
// the answer, and the request is not processed at all.
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

	// All fails every partition of a Produce request with the same error.
	All *Failure
	// Partitions fails the listed partitions of a Produce request, taking
	// precedence over All. Failed partitions' records are not appended.
	Partitions map[TopicPartition]*Failure

	// Hide answers these topics of a Metadata request as unknown
	// (UNKNOWN_TOPIC_OR_PARTITION), and leaves them out of "all topics".
	Hide []string
}

// Failure is one partition's error answer to a Produce request.
type Failure struct {
	Err          *kerr.Error
	Message      string // the ErrorMessage (v8+); empty sends null
	RecordErrors []protocol.ProduceResponseRecordError
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

// failure returns the injected failure for a partition, if any.
func (a *Action) failure(topic string, partition int32) *Failure {
	if f := a.Partitions[TopicPartition{topic, partition}]; f != nil {
		return f
	}
	return a.All
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
