// Command gokafka is the race's contender for this repository's producer.
package main

import (
	"context"
	"fmt"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/compression"
)

func main() { driver.Main("gokafka", "github.com/gokafka/producer", open) }

type client struct {
	p     *producer.Producer
	topic string
}

func open(s driver.Settings) (driver.Client, []string, error) {
	acks, err := producer.ParseAcks(s.Acks)
	if err != nil {
		return nil, nil, err
	}
	codec, err := compression.ParseCodec(s.Compression)
	if err != nil {
		return nil, nil, err
	}
	linger := s.Linger
	if linger == 0 {
		linger = producer.NoLinger
	}
	cfg := producer.Config{
		Brokers:            s.Brokers,
		Acks:               acks,
		Linger:             linger,
		BatchSize:          s.BatchSize,
		BufferMemory:       int64(s.BufferMemory),
		Compression:        codec,
		DisableIdempotence: !s.Idempotent,
	}
	p, err := producer.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	config := []string{
		"Acks=" + s.Acks,
		fmt.Sprintf("Linger=%v", s.Linger),
		fmt.Sprintf("BatchSize=%d", s.BatchSize),
		fmt.Sprintf("BufferMemory=%d", s.BufferMemory),
		"Compression=" + s.Compression,
		fmt.Sprintf("DisableIdempotence=%v", !s.Idempotent),
		"Partitioner=default (sticky; murmur2 for keys)",
	}
	return &client{p: p, topic: s.Topic}, config, nil
}

func (c *client) Produce(key, value []byte, done func(error)) {
	c.p.Produce(context.Background(), &producer.Record{Topic: c.topic, Key: key, Value: value},
		func(_ producer.RecordMetadata, err error) { done(err) })
}

func (c *client) Flush(ctx context.Context) error { return c.p.Flush(ctx) }

func (c *client) Close() error { return c.p.Close(context.Background()) }
