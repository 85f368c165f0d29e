package bench

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/compression"
)

// The two clients the in-process benchmark runs. The race's contenders for
// them (clients/gokafka, clients/franzgo) are these same adaptors in a
// process of their own, so that both measure the clients configured alike.

// OpenOurs starts this repository's producer for s and returns it with its
// configuration, as driver.Opener.
func OpenOurs(s driver.Settings) (driver.Client, []string, error) {
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
	p, err := producer.New(producer.Config{
		Brokers:            s.Brokers,
		Acks:               acks,
		Linger:             linger,
		BatchSize:          s.BatchSize,
		BufferMemory:       int64(s.BufferMemory),
		Compression:        codec,
		DisableIdempotence: !s.Idempotent,
	})
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
	return &ours{p: p, topic: s.Topic}, config, nil
}

type ours struct {
	p     *producer.Producer
	topic string
}

func (o *ours) Callback(done func(error)) any {
	return producer.Callback(func(_ producer.RecordMetadata, err error) { done(err) })
}

func (o *ours) Produce(key, value []byte, cb any) {
	o.p.Produce(context.Background(), &producer.Record{Topic: o.topic, Key: key, Value: value}, cb.(producer.Callback))
}

func (o *ours) Flush(ctx context.Context) error { return o.p.Flush(ctx) }

func (o *ours) Close() error { return o.p.Close(context.Background()) }

// OpenFranzGo starts franz-go's kgo client for s and returns it with its
// configuration, as driver.Opener. Compression is set even when none:
// kgo's default is snappy.
func OpenFranzGo(s driver.Settings) (driver.Client, []string, error) {
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
		// kgo also stops at 50,000 buffered records by default, about
		// 5 MB of the race's records, well before the bytes. A cap of one
		// record per byte lets the bytes bind, as the race does for
		// confluent-kafka-go's message cap.
		kgo.MaxBufferedRecords(s.BufferMemory),
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
		fmt.Sprintf("MaxBufferedRecords=%d", s.BufferMemory),
		"ProducerBatchCompression=" + s.Compression,
		fmt.Sprintf("idempotent=%v", s.Idempotent),
		"partitioner=default (sticky; murmur2 for keys)",
	}
	return &franzGo{cl: cl}, config, nil
}

type franzGo struct{ cl *kgo.Client }

func (f *franzGo) Callback(done func(error)) any {
	return func(_ *kgo.Record, err error) { done(err) }
}

func (f *franzGo) Produce(key, value []byte, cb any) {
	f.cl.Produce(context.Background(), &kgo.Record{Key: key, Value: value}, cb.(func(*kgo.Record, error)))
}

func (f *franzGo) Flush(ctx context.Context) error { return f.cl.Flush(ctx) }

func (f *franzGo) Close() error { f.cl.Close(); return nil }
