// Command franzgo is the race's contender for franz-go's kgo client.
package main

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer/bench/driver"
)

func main() { driver.Main("franz-go", "github.com/twmb/franz-go", open) }

type client struct{ cl *kgo.Client }

func open(s driver.Settings) (driver.Client, []string, error) {
	acks := map[string]kgo.Acks{"all": kgo.AllISRAcks(), "1": kgo.LeaderAck(), "0": kgo.NoAck()}[s.Acks]
	codec := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[s.Compression]
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.Brokers...),
		kgo.DefaultProduceTopic(s.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(s.Linger),
		kgo.ProducerBatchMaxBytes(int32(s.BatchSize)),
		kgo.MaxBufferedBytes(s.BufferMemory),
		// The default partitioner for records without a key is sticky,
		// and murmur2 for keys, as Java's and ours.
	}
	if !s.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	config := []string{
		"RequiredAcks=" + s.Acks,
		fmt.Sprintf("ProducerLinger=%v", s.Linger),
		fmt.Sprintf("ProducerBatchMaxBytes=%d", s.BatchSize),
		fmt.Sprintf("MaxBufferedBytes=%d", s.BufferMemory),
		"ProducerBatchCompression=" + s.Compression,
		fmt.Sprintf("idempotent=%v", s.Idempotent),
		"partitioner=default (sticky; murmur2 for keys)",
	}
	return &client{cl: cl}, config, nil
}

func (c *client) Produce(key, value []byte, done func(error)) {
	c.cl.Produce(context.Background(), &kgo.Record{Key: key, Value: value},
		func(_ *kgo.Record, err error) { done(err) })
}

func (c *client) Flush(ctx context.Context) error { return c.cl.Flush(ctx) }

func (c *client) Close() error { c.cl.Close(); return nil }
