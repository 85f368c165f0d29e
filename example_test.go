package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/sasl/scram"
)

// The examples run against a small in-process broker with a topic "events"
// of three partitions: where they call startBroker, your code has your
// cluster's addresses, such as []string{"kafka-1:9092", "kafka-2:9092"}.

// startBroker starts the examples' broker, with opts' changes.
func startBroker(opts fakebroker.Options) (brokers []string, stop func()) {
	opts.Topics = map[string]int32{"events": 3}
	c, err := fakebroker.Start(opts)
	if err != nil {
		log.Fatal(err)
	}
	return c.Addrs(), c.Close
}

// startSilentBroker starts a broker that takes requests and never answers
// them, as a broker stuck or cut off after it received them.
func startSilentBroker() (brokers []string, stop func()) {
	c, err := fakebroker.Start(fakebroker.Options{Topics: map[string]int32{"events": 3}})
	if err != nil {
		log.Fatal(err)
	}
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	return c.Addrs(), c.Close
}

// Produce a record and wait for its acknowledgement.
func Example() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()

	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	md, err := p.Send(context.Background(), &producer.Record{Topic: "events", Value: []byte("hello")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(md.Topic, "offset", md.Offset)
	// Output: events offset 0
}

// New checks the whole Config and names the field it rejects; it contacts
// no broker.
func ExampleNew() {
	_, err := producer.New(producer.Config{Brokers: []string{"kafka-1"}})
	var bad *producer.ConfigError
	if errors.As(err, &bad) {
		fmt.Println(bad.Field+":", bad.Reason)
	}

	p, err := producer.New(producer.Config{
		Brokers:     []string{"kafka-1:9092", "kafka-2:9092"},
		Acks:        producer.AcksAll,  // the default; a number does not compile
		Linger:      producer.NoLinger, // send at once; 0 is the default, 5ms
		Compression: compression.Zstd,
		ClientID:    "billing",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created, not connected yet")
	p.Close(context.Background())
	// Output:
	// Brokers: "kafka-1" is not host:port
	// created, not connected yet
}

// Produce returns once the record is buffered; its callback runs later,
// once, with the outcome. Callbacks run one at a time, in each partition's
// offset order.
func ExampleProducer_Produce() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	for _, v := range []string{"a", "b", "c"} {
		rec := &producer.Record{Topic: "events", Partition: 2, ExplicitPartition: true, Value: []byte(v)}
		p.Produce(context.Background(), rec, func(md producer.RecordMetadata, err error) {
			if err != nil {
				fmt.Println(v, "failed:", err)
				return
			}
			fmt.Printf("%s at %d/%d\n", v, md.Partition, md.Offset)
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// a at 2/0
	// b at 2/1
	// c at 2/2
}

// Send waits for the acknowledgement, or for its ctx: then the record may
// still be written.
func ExampleProducer_Send() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := p.Send(ctx, &producer.Record{
		Topic:   "events",
		Value:   []byte(`{"amount": 42}`),
		Headers: []producer.Header{{Key: "content-type", Value: []byte("application/json")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written at offset", md.Offset, "with a", md.SerializedValueSize, "byte value")
	// Output: written at offset 0 with a 14 byte value
}

// Records with the same key go to the same partition (murmur2, as the Java
// client hashes them), so a key's records stay in order.
func Example_keyedRecords() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	partitions := map[string][]int32{}
	for _, key := range []string{"user-1", "user-4", "user-1", "user-4", "user-1"} {
		md, err := p.Send(context.Background(), &producer.Record{Topic: "events", Key: []byte(key), Value: []byte("click")})
		if err != nil {
			log.Fatal(err)
		}
		partitions[key] = append(partitions[key], md.Partition)
	}
	fmt.Println("user-1:", partitions["user-1"])
	fmt.Println("user-4:", partitions["user-4"])
	// Output:
	// user-1: [2 2 2]
	// user-4: [1 1]
}

// Flush sends what lingers and returns once every record buffered before it
// has its outcome; Close does the same, then stops the producer.
func ExampleProducer_Flush() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	// A long Linger: without Flush, these batches would wait an hour.
	p, err := producer.New(producer.Config{Brokers: brokers, Linger: time.Hour, DeliveryTimeout: 2 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	var mu sync.Mutex
	acked := 0
	for i := range 100 {
		p.Produce(context.Background(), &producer.Record{Topic: "events", Value: fmt.Appendf(nil, "%d", i)},
			func(_ producer.RecordMetadata, err error) {
				if err == nil {
					mu.Lock()
					acked++
					mu.Unlock()
				}
			})
	}
	if err := p.Flush(context.Background()); err != nil {
		log.Fatal(err)
	}
	mu.Lock()
	fmt.Println("acknowledged:", acked)
	mu.Unlock()
	// Output: acknowledged: 100
}

// Close is idempotent: a second Close returns what the first returned, so
// a deferred Close beside an explicit one is harmless. Everything else
// fails with ErrClosed afterwards.
func ExampleProducer_Close() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background()) // returns nil again

	p.Produce(context.Background(), &producer.Record{Topic: "events", Value: []byte("last")}, func(md producer.RecordMetadata, err error) {
		fmt.Println("the last record:", err)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println("Close:", p.Close(ctx))
	_, err = p.Send(ctx, &producer.Record{Topic: "events"})
	fmt.Println("Send after Close:", errors.Is(err, producer.ErrClosed))
	fmt.Println("Flush after Close:", p.Flush(ctx))
	// Output:
	// the last record: <nil>
	// Close: <nil>
	// Send after Close: true
	// Flush after Close: producer closed
}

// Compression applies to whole batches; Stats tells what it saved.
func Example_compression() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers, Compression: compression.Zstd, Linger: time.Hour, DeliveryTimeout: 2 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	line := []byte(strings.Repeat("GET /index.html 200 ", 10))
	for range 1000 {
		p.Produce(context.Background(), &producer.Record{Topic: "events", Value: line}, nil)
	}
	if err := p.Flush(context.Background()); err != nil {
		log.Fatal(err)
	}
	s := p.Stats()
	fmt.Println("records:", s.BatchRecords)
	fmt.Println("less than a tenth on the wire:", s.CompressedBytes*10 < s.UncompressedBytes)
	// Output:
	// records: 1000
	// less than a tenth on the wire: true
}

// A partitioner of your own: any function of the topic's view and the key.
func Example_customPartitioner() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	// European customers' records to partition 0, the others spread over
	// the rest by key.
	byRegion := partitioner.Func(func(t *partitioner.Topic, key []byte) int32 {
		if strings.HasPrefix(string(key), "eu-") {
			return 0
		}
		return 1 + int32(len(key))%(t.Partitions-1)
	})
	p, err := producer.New(producer.Config{Brokers: brokers, Partitioner: byRegion})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	for _, key := range []string{"eu-anna", "us-bob", "eu-chen", "ap-dev"} {
		md, err := p.Send(context.Background(), &producer.Record{Topic: "events", Key: []byte(key)})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(key, "->", md.Partition)
	}
	// Output:
	// eu-anna -> 0
	// us-bob -> 1
	// eu-chen -> 0
	// ap-dev -> 1
}

// slowRecords is a hook: it counts acknowledged records, and those that
// took longer than a limit to be acknowledged, per topic.
type slowRecords struct {
	limit time.Duration
	mu    sync.Mutex
	acked map[string]int
	slow  map[string]int
}

func (h *slowRecords) OnRecordAcknowledged(_ context.Context, a producer.RecordAcknowledged) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acked[a.Metadata.Topic]++
	if a.Latency > h.limit {
		h.slow[a.Metadata.Topic]++
	}
}

// retries is another: it hears of every batch sent again.
type retries struct{ n int }

func (r *retries) OnBatchRetried(e producer.BatchRetried) {
	r.n++
	fmt.Printf("retrying %d records of %s-%d: %v\n", e.Records, e.Topic, e.Partition, e.Err)
}

// Hooks watch the producer: each implements the Hook interfaces of the
// events it wants. They run on the callbacks' goroutine, never on one that
// talks to brokers.
func Example_hooks() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	slow := &slowRecords{limit: time.Minute, acked: map[string]int{}, slow: map[string]int{}}
	retried := &retries{}
	p, err := producer.New(producer.Config{Brokers: brokers, Hooks: []producer.Hook{slow, retried}})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 10 {
		p.Produce(context.Background(), &producer.Record{Topic: "events", Value: fmt.Appendf(nil, "%d", i)}, nil)
	}
	if err := p.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("acknowledged:", slow.acked["events"], "slower than a minute:", slow.slow["events"], "retried:", retried.n)
	// Output: acknowledged: 10 slower than a minute: 0 retried: 0
}

// Idempotence is on by default: retries neither duplicate nor reorder. A
// record whose request went unanswered before its DeliveryTimeout may
// nevertheless have been written: its error says so with ErrMaybeWritten.
func Example_idempotence() {
	brokers, stop := startSilentBroker()
	defer stop()
	p, err := producer.New(producer.Config{
		Brokers:         brokers,
		Linger:          producer.NoLinger,
		RequestTimeout:  200 * time.Millisecond,
		DeliveryTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	_, err = p.Send(context.Background(), &producer.Record{Topic: "events", Value: []byte("pay 42")})
	switch {
	case errors.Is(err, producer.ErrMaybeWritten):
		// Check before producing it again: it may be there already.
		fmt.Println("timed out:", errors.Is(err, producer.ErrDeliveryTimeout), "- may have been written")
	case err != nil:
		fmt.Println("certainly not written:", err)
	}

	// AcksLeader or AcksNone need idempotence off: New says so.
	_, err = producer.New(producer.Config{Brokers: brokers, Acks: producer.AcksLeader})
	fmt.Println(err != nil)
	q, err := producer.New(producer.Config{Brokers: brokers, Acks: producer.AcksLeader, DisableIdempotence: true})
	fmt.Println(err)
	q.Close(context.Background())
	// Output:
	// timed out: true - may have been written
	// true
	// <nil>
}

// SASL authenticates every connection; SCRAM never sends the password, and
// checks that the broker knows it too.
func Example_sasl() {
	brokers, stop := startBroker(fakebroker.Options{SCRAM: map[string]string{"alice": "alice-secret"}})
	defer stop()

	p, err := producer.New(producer.Config{Brokers: brokers, SASL: scram.SHA512("alice", "alice-secret")})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	md, err := p.Send(context.Background(), &producer.Record{Topic: "events", Partition: 1, ExplicitPartition: true})
	fmt.Println("authenticated, written at", md.Partition, md.Offset, err)

	// Refused credentials fail records at once, not after DeliveryTimeout.
	wrong, err := producer.New(producer.Config{Brokers: brokers, SASL: scram.SHA512("alice", "guess"), MaxBlock: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer wrong.Close(context.Background())
	_, err = wrong.Send(context.Background(), &producer.Record{Topic: "events"})
	fmt.Println("refused:", errors.Is(err, producer.ErrAuthentication))
	// Output:
	// authenticated, written at 1 0 <nil>
	// refused: true
}
