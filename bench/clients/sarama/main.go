// Command sarama is the race's contender for IBM's sarama.
package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/IBM/sarama"

	"github.com/gokafka/producer/bench/driver"
)

func main() { driver.Main("sarama", "github.com/IBM/sarama", open) }

// client is sarama's AsyncProducer with successes returned: each message
// carries its done callback in Metadata, and two goroutines hand the
// outcomes back.
type client struct {
	p       sarama.AsyncProducer
	topic   string
	readers sync.WaitGroup
}

func open(s driver.Settings) (driver.Client, []string, error) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.Producer.RequiredAcks = map[string]sarama.RequiredAcks{"all": sarama.WaitForAll, "1": sarama.WaitForLocal, "0": sarama.NoResponse}[s.Acks]
	cfg.Producer.Compression = map[string]sarama.CompressionCodec{"none": sarama.CompressionNone, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}[s.Compression]
	if s.Linger > 0 {
		// A request goes at Frequency or at Bytes, whichever comes
		// first: Bytes counts what sarama holds for a broker, over
		// all its partitions, so a batch is a share of it. What caps a
		// partition's batch is MaxMessageBytes, left at its default.
		cfg.Producer.Flush.Frequency = s.Linger
		cfg.Producer.Flush.Bytes = s.BatchSize
	}
	// else both zero: sarama sends whatever it holds as soon as it can
	// (Flush.Bytes alone would hold records until that many bytes came).
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	if s.Idempotent {
		// sarama allows idempotence only with one request in flight per
		// broker.
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewAsyncProducer(s.Brokers, cfg)
	if err != nil {
		return nil, nil, err
	}
	c := &client{p: p, topic: s.Topic}
	c.readers.Add(2)
	go func() {
		defer c.readers.Done()
		for m := range p.Successes() {
			m.Metadata.(func(error))(nil)
		}
	}()
	go func() {
		defer c.readers.Done()
		for e := range p.Errors() {
			e.Msg.Metadata.(func(error))(e.Err)
		}
	}()
	config := []string{
		"Version=" + cfg.Version.String(),
		"Producer.RequiredAcks=" + s.Acks,
		fmt.Sprintf("Producer.Flush.Frequency=%v", cfg.Producer.Flush.Frequency),
		fmt.Sprintf("Producer.Flush.Bytes=%d", cfg.Producer.Flush.Bytes),
		fmt.Sprintf("Producer.MaxMessageBytes=%d (default)", cfg.Producer.MaxMessageBytes),
		"Producer.Compression=" + s.Compression,
		fmt.Sprintf("Producer.Idempotent=%v", cfg.Producer.Idempotent),
		fmt.Sprintf("Net.MaxOpenRequests=%d", cfg.Net.MaxOpenRequests),
		"Producer.Partitioner=default (hash: FNV-1a for keys, random for no key)",
		"no buffer-memory limit (ChannelBufferSize=256 messages)",
	}
	return c, config, nil
}

// Callback is done itself: the message carries it as its Metadata.
func (c *client) Callback(done func(error)) any { return done }

func (c *client) Produce(key, value []byte, cb any) {
	m := &sarama.ProducerMessage{Topic: c.topic, Value: sarama.ByteEncoder(value), Metadata: cb}
	if key != nil {
		m.Key = sarama.ByteEncoder(key)
	}
	c.p.Input() <- m
}

// Flush has nothing to do: sarama sends what it holds on its own, and the
// driver waits for every record's outcome.
func (c *client) Flush(context.Context) error { return nil }

func (c *client) Close() error {
	c.p.AsyncClose()
	c.readers.Wait()
	return nil
}
