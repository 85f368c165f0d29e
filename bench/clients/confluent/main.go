//go:build confluent

// Command confluent is the race's contender for confluent-kafka-go, which
// wraps librdkafka through cgo (the librdkafka it bundles). It builds only
// with -tags confluent and a C compiler, so that the module's other
// packages build and vet without either.
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/gokafka/producer/bench/driver"
)

func main() {
	driver.Main("confluent-kafka-go", "github.com/confluentinc/confluent-kafka-go/v2", open)
}

// client is a librdkafka producer whose delivery reports come on its
// Events channel: each message carries its done callback as Opaque.
type client struct {
	p      *kafka.Producer
	topic  string
	events sync.WaitGroup
}

// queueFullWait is how long Produce waits before it tries again when
// librdkafka's queue is full (its buffer-memory limit).
const queueFullWait = 100 * time.Microsecond

func open(s driver.Settings) (driver.Client, []string, error) {
	idempotent := "false"
	if s.Idempotent {
		idempotent = "true"
	}
	cm := kafka.ConfigMap{
		"bootstrap.servers":            strings.Join(s.Brokers, ","),
		"acks":                         s.Acks,
		"linger.ms":                    int(s.Linger.Milliseconds()),
		"batch.size":                   s.BatchSize,
		"compression.type":             s.Compression,
		"enable.idempotence":           idempotent,
		"queue.buffering.max.kbytes":   s.BufferMemory >> 10,
		"queue.buffering.max.messages": 10_000_000,
		// The delivery report needs only the outcome, not the record's
		// key and value copied back into Go.
		"go.delivery.report.fields": "none",
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return nil, nil, err
	}
	c := &client{p: p, topic: s.Topic}
	c.events.Add(1)
	go func() {
		defer c.events.Done()
		for e := range p.Events() {
			if m, ok := e.(*kafka.Message); ok {
				m.Opaque.(func(error))(m.TopicPartition.Error)
			}
		}
	}()
	config := []string{}
	for _, k := range []string{"acks", "linger.ms", "batch.size", "compression.type", "enable.idempotence", "queue.buffering.max.kbytes", "queue.buffering.max.messages", "go.delivery.report.fields"} {
		config = append(config, fmt.Sprintf("%s=%v", k, cm[k]))
	}
	// librdkafka sends records without a key to one partition of a topic
	// for sticky.partitioning.linger.ms (10 ms by default), then another.
	config = append(config, "partitioner=default (consistent_random: CRC32 for keys; sticky for no key, sticky.partitioning.linger.ms=10)")
	_, version := kafka.LibraryVersion()
	config = append(config, "librdkafka="+version)
	return c, config, nil
}

// Callback is done itself: the message carries it as its Opaque, as an
// application that tells its records' outcomes apart writes it. A non-nil
// Opaque costs a record more here than elsewhere: confluent-kafka-go puts
// it in a map behind a mutex for the delivery report to find.
func (c *client) Callback(done func(error)) any { return done }

func (c *client) Produce(key, value []byte, cb any) {
	done := cb.(func(error))
	m := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &c.topic, Partition: kafka.PartitionAny},
		Key:            key,
		Value:          value,
		Opaque:         done,
	}
	for {
		err := c.p.Produce(m, nil)
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
			time.Sleep(queueFullWait)
			continue
		}
		if err != nil {
			done(err)
		}
		return
	}
}

func (c *client) Flush(ctx context.Context) error {
	for c.p.Flush(100) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) Close() error {
	c.p.Close()
	c.events.Wait()
	return nil
}
