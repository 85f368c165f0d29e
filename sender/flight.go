package sender

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
)

// A flight is one ProduceRequest, from the batches drained for it until its
// answer is handled. The sender keeps the flights it has handled and builds
// its next request in one of them: the list of batches, the request with
// its topics and partitions, and the callback the connection calls are
// made once per flight, not once per request. At low rates and with linger
// 0 a request carries a few records, and those allocations were most of
// what a request allocated.
//
// A flight belongs to the sender's goroutine, except between SendVersion
// and the callback: then the connection holds it, and the callback, on the
// connection's goroutine, fills in the answer and hands it back over the
// results channel. The sender takes it back from that channel, after
// SendVersion has returned and done has run, when the connection keeps
// nothing of the request (Conn): the next request may be built in it.
type flight struct {
	batches []*accumulator.Batch
	req     protocol.ProduceRequest
	version int16 // the Produce version req went in
	conn    Conn  // the connection req went on
	// byID: the request named its topics by id (Produce v13+), and its
	// answer does too; req's topics give the name of each id. Below v13
	// they hold the ids too, unsent (byTopicID).
	byID bool

	resp protocol.Response
	err  error

	// When Events watch requests (timed), when the request was handed to
	// the connection, whether it never left, and when its answer came.
	// Only the sender's goroutine reads handed, which it set itself;
	// notSent is set inside SendVersion, possibly on the connection's
	// goroutine.
	timed    bool
	handed   time.Time
	notSent  atomic.Bool
	answered time.Time

	done    func(protocol.Response, error) // f.answer, bound once
	results chan<- *flight
	clock   clock.Clock
}

// topicID is the id the metadata gave topic when f's request was built,
// whether the request named its topics by id or by name, or the zero id
// when it gave none. It scans the request's topics, a few: only an answer
// with a leader hint asks.
func (f *flight) topicID(topic string) wire.UUID {
	for i := range f.req.Topics {
		if f.req.Topics[i].Name == topic {
			return f.req.Topics[i].TopicID
		}
	}
	return wire.UUID{}
}

func newFlight(results chan<- *flight, clk clock.Clock) *flight {
	f := &flight{results: results, clock: clk}
	f.done = f.answer
	return f
}

// answer is the connection's callback: it must not block, and the results
// channel has room for every flight in the air.
func (f *flight) answer(resp protocol.Response, err error) {
	if f.timed {
		if errors.Is(err, conn.ErrNotSent) {
			f.notSent.Store(true)
		}
		f.answered = f.clock.Now()
	}
	f.resp, f.err = resp, err
	if pause := f.pauseAsked(); pause > 0 {
		// Told here, on the connection's goroutine, not once the sender
		// handles the answer: the sender may be stuck meanwhile writing a
		// request that the muted broker does not read, and that write's
		// deadline needs the pause too (conn.Conn.Paused).
		f.conn.Paused(pause)
	}
	f.results <- f
}

// build groups the flight's batches by topic, in the order drained, into
// its request, reusing the room of the requests built in it before.
func (f *flight) build(acks int16, timeout time.Duration, txnID *string) {
	req := &f.req
	req.TransactionalID, req.Acks, req.TimeoutMs = txnID, acks, int32(timeout.Milliseconds())
	topics := req.Topics[:0]
	index := make(map[string]int, 4) // small enough to stay on the stack
	for _, b := range f.batches {
		i, ok := index[b.TP.Topic]
		if !ok {
			i = len(topics)
			index[b.TP.Topic] = i
			topics = appendTopic(topics, b.TP.Topic)
		}
		topics[i].Partitions = append(topics[i].Partitions,
			protocol.ProduceRequestPartition{Index: b.TP.Partition, Records: b.Encoded()})
	}
	req.Topics = topics
}

// appendTopic appends a topic named name with no partitions, keeping the
// room for partitions that an earlier request left in that place.
func appendTopic(topics []protocol.ProduceRequestTopic, name string) []protocol.ProduceRequestTopic {
	if len(topics) == cap(topics) {
		return append(topics, protocol.ProduceRequestTopic{Name: name})
	}
	topics = topics[:len(topics)+1]
	t := &topics[len(topics)-1]
	*t = protocol.ProduceRequestTopic{Name: name, Partitions: t.Partitions[:0]}
	return topics
}

// reset lets go of everything the flight's last request referred to (its
// batches, their bytes, the answer and the frame it was decoded from), so
// that a flight waiting for its next request holds no memory of its own
// beyond its slices' room.
func (f *flight) reset() {
	clear(f.batches[:cap(f.batches)])
	f.batches = f.batches[:0]
	topics := f.req.Topics[:cap(f.req.Topics)]
	for i := range topics {
		parts := topics[i].Partitions
		clear(parts[:cap(parts)])
		topics[i] = protocol.ProduceRequestTopic{Partitions: parts[:0]}
	}
	f.req.Topics = f.req.Topics[:0]
	f.byID, f.resp, f.err, f.conn = false, nil, nil, nil
	f.timed, f.handed, f.answered = false, time.Time{}, time.Time{}
	f.notSent.Store(false)
}
