package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
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
//
// The broker here is in-process, started by startBroker, a helper of
// these examples: it stands in for your cluster, whose addresses your code
// sets in Config.Brokers instead, such as
// []string{"kafka-1:9092", "kafka-2:9092"}.
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
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
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

// Send waits for the acknowledgement, or for its ctx: then a record already
// buffered may still be written (its error matches ErrMaybeWritten).
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
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

// Flush sends what lingers and returns once every record buffered before it
// has its outcome; Close does the same, then stops the producer.
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
func ExampleProducer_Flush() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	// A long Linger: without Flush, these batches would wait an hour.
	p, err := producer.New(producer.Config{Brokers: brokers, Linger: time.Hour})
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
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
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
