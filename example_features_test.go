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
	"github.com/gokafka/producer/sasl/scram"
)

// Examples of features, on the broker of example_test.go.

// Records with the same key go to the same partition (murmur2, as the Java
// client hashes them), so a key's records stay in order.
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
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

// Compression applies to whole batches; Stats tells what it saved.
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
func Example_compression() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers, Compression: compression.Zstd, Linger: time.Hour})
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
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
func Example_customPartitioner() {
	brokers, stop := startBroker(fakebroker.Options{})
	defer stop()
	// European customers' records to partition 0, the others spread over
	// the rest by a hash of the key (the Java client's, as the default
	// partitioner's), so that each key keeps to one partition. A topic of
	// one partition has no rest: all of it goes to partition 0.
	byRegion := partitioner.Func(func(t *partitioner.Topic, key []byte) int32 {
		if strings.HasPrefix(string(key), "eu-") || t.Partitions < 2 {
			return 0
		}
		return 1 + partitioner.KeyPartition(key, t.Partitions-1)
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
	// us-bob -> 2
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
// events it wants. No hook runs on a goroutine that talks to brokers. These
// two run on the callbacks' goroutine (OnRecordAcknowledged on Produce's
// caller's for a record that fails inside Produce, as its callback does);
// OnRecordBuffered and OnRecordRefused run on Produce's caller's, in
// Produce (see Hook).
//
// startBroker's in-process broker stands in for your cluster: set
// Config.Brokers to your cluster's addresses instead.
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
//
// startSilentBroker's in-process broker, which takes requests and never
// answers them, stands in for a broker cut off from the producer: set
// Config.Brokers to your cluster's addresses instead.
func Example_idempotence() {
	brokers, stop := startSilentBroker()
	defer stop()
	p, err := producer.New(producer.Config{
		Brokers:         brokers,
		Linger:          producer.NoLinger,
		RequestTimeout:  500 * time.Millisecond,
		DeliveryTimeout: time.Second,
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
	fmt.Println(err)
	q, err := producer.New(producer.Config{Brokers: brokers, Acks: producer.AcksLeader, DisableIdempotence: true})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close(context.Background())
	fmt.Println("acks=1 without idempotence: accepted")
	// Output:
	// timed out: true - may have been written
	// producer config: Acks: idempotence (on by default) needs AcksAll; set DisableIdempotence to use acks=1
	// acks=1 without idempotence: accepted
}

// SASL authenticates every connection; SCRAM never sends the password, and
// checks that the broker knows it too.
//
// startBroker's in-process broker, which knows alice's SCRAM credentials,
// stands in for your cluster: set Config.Brokers to your cluster's
// addresses instead, and SASL to your credentials.
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
