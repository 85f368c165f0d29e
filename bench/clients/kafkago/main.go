// Command kafkago is the race's contender for segmentio's kafka-go.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gokafka/producer/bench/driver"
)

func main() { driver.Main("kafka-go", "github.com/segmentio/kafka-go", open) }

// client is kafka-go's Writer in async mode: each message carries its done
// callback in WriterData, and Completion hands the outcomes back per batch.
// The Writer has no idempotent mode, so it runs without idempotence
// whatever the settings ask (its configuration says so in the report).
type client struct{ w *kafka.Writer }

// minBatchTimeout stands for linger 0: kafka-go reads a zero BatchTimeout
// as its default, one second.
const minBatchTimeout = time.Microsecond

func open(s driver.Settings) (driver.Client, []string, error) {
	w := &kafka.Writer{
		Addr:         kafka.TCP(s.Brokers...),
		Topic:        s.Topic,
		RequiredAcks: map[string]kafka.RequiredAcks{"all": kafka.RequireAll, "1": kafka.RequireOne, "0": kafka.RequireNone}[s.Acks],
		Compression:  map[string]kafka.Compression{"none": 0, "lz4": kafka.Lz4, "zstd": kafka.Zstd}[s.Compression],
		BatchTimeout: max(s.Linger, minBatchTimeout),
		// BatchBytes counts an estimate of each message's size, not
		// the batch as encoded; the writer has no buffer limit.
		BatchBytes: int64(s.BatchSize),
		// BatchSize counts messages (default 100): make the byte limit
		// the one that binds, as in the other clients.
		BatchSize: s.BatchSize/s.ValueSize + 1,
		Async:     true,
		Completion: func(messages []kafka.Message, err error) {
			for i := range messages {
				messages[i].WriterData.(func(error))(err)
			}
		},
	}
	balancer := "default (round-robin per message)"
	if s.KeySize > 0 {
		w.Balancer = kafka.Murmur2Balancer{}
		balancer = "Murmur2Balancer (as Java for keys)"
	}
	config := []string{
		"RequiredAcks=" + s.Acks,
		fmt.Sprintf("BatchTimeout=%v", w.BatchTimeout),
		fmt.Sprintf("BatchBytes=%d", w.BatchBytes),
		fmt.Sprintf("BatchSize=%d messages", w.BatchSize),
		"Compression=" + s.Compression,
		"Async=true",
		"idempotence: not supported by kafka-go",
		"Balancer=" + balancer,
	}
	return &client{w: w}, config, nil
}

// Callback is done itself: the message carries it as its WriterData.
func (c *client) Callback(done func(error)) any { return done }

// Produce writes one message per WriteMessages call, as the harness hands
// over one record at a time; each call allocates a map of its messages'
// partitions and takes the writer's mutex, which a slice would share.
func (c *client) Produce(key, value []byte, cb any) {
	done := cb.(func(error))
	if err := c.w.WriteMessages(context.Background(), kafka.Message{Key: key, Value: value, WriterData: done}); err != nil {
		done(err)
	}
}

// Flush has nothing to do: the writer sends what it holds on its own, and
// the driver waits for every record's outcome.
func (c *client) Flush(context.Context) error { return nil }

func (c *client) Close() error { return c.w.Close() }
