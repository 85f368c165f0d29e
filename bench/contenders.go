package bench

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
)

// Ours is this repository's producer.
type Ours struct {
	p     *producer.Producer
	topic string
}

// NewOurs starts our producer with its defaults and the workload's acks and
// idempotence.
func NewOurs(brokers []string, w Workload) (*Ours, error) {
	acks, err := producer.ParseAcks(w.Acks)
	if err != nil {
		return nil, err
	}
	p, err := producer.New(producer.Config{Brokers: brokers, Acks: acks, DisableIdempotence: !w.Idempotent})
	if err != nil {
		return nil, err
	}
	return &Ours{p: p, topic: w.Topic}, nil
}

func (o *Ours) Name() string { return "gokafka" }

func (o *Ours) Produce(ctx context.Context, value []byte, done func(error)) {
	o.p.Produce(ctx, &producer.Record{Topic: o.topic, Value: value}, func(_ producer.RecordMetadata, err error) { done(err) })
}

func (o *Ours) Flush(ctx context.Context) error { return o.p.Flush(ctx) }

func (o *Ours) Close() { _ = o.p.Close(context.Background()) }

// FranzGo is franz-go's kgo client, configured like ours: same acks, linger,
// batch size, buffer and idempotence, and no compression (kgo's default is
// snappy).
type FranzGo struct {
	cl *kgo.Client
}

// NewFranzGo starts a kgo client for the workload.
func NewFranzGo(brokers []string, w Workload) (*FranzGo, error) {
	acks := kgo.AllISRAcks()
	switch w.Acks {
	case "1":
		acks = kgo.LeaderAck()
	case "0":
		acks = kgo.NoAck()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(w.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(producer.DefaultLinger),
		kgo.ProducerBatchMaxBytes(producer.DefaultBatchSize),
		kgo.MaxBufferedBytes(producer.DefaultBufferMemory),
	}
	if !w.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &FranzGo{cl: cl}, nil
}

func (f *FranzGo) Name() string { return "franz-go" }

func (f *FranzGo) Produce(ctx context.Context, value []byte, done func(error)) {
	f.cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) { done(err) })
}

func (f *FranzGo) Flush(ctx context.Context) error { return f.cl.Flush(ctx) }

func (f *FranzGo) Close() { f.cl.Close() }
