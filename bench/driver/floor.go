package driver

import (
	"context"
	"fmt"
	"sync"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/record"
)

// Floor is the race's floor: a client that sends nothing and does only
// what any asynchronous client must, whatever else it does. Its Produce
// stamps the record with the wall clock and writes it into a RecordBatch
// v2 (this repository's record package); a batch that reaches the batch
// size is closed, compressed with the workload's codec (over the same Go
// codecs the Go clients use), and the next one started. It wraps done in a
// closure (every adaptor converts the driver's done to its client's
// callback type) and queues it; one goroutine of its own takes the queue
// and calls each done, as a client's delivery or promise goroutine does
// after a response. Its CPU per record is what the harness, the record
// format, the codec and that hand-off cost on their own: a target below
// the floor's ratio is out of this repository's reach in this race.
type Floor struct {
	codec     compression.Codec
	batchSize int

	mu      sync.Mutex
	builder record.Builder
	buf     []byte // the batch buffer, reused
	sealed  int    // batches closed, for tests
	queue   []func()
	spare   []func()
	more    chan struct{}
	pending sync.WaitGroup
	stop    chan struct{}
	stopped chan struct{}
}

// OpenFloor starts a Floor for the settings' codec and batch size, as an
// Opener.
func OpenFloor(s Settings) (Client, []string, error) {
	codec, err := compression.ParseCodec(s.Compression)
	if err != nil {
		return nil, nil, err
	}
	f := &Floor{
		codec: codec, batchSize: s.BatchSize, buf: make([]byte, 0, s.BatchSize),
		more: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	f.builder.Reset(f.buf)
	go f.complete()
	config := []string{
		"sends nothing; one goroutine completes every record",
		"Compression=" + s.Compression,
		fmt.Sprintf("BatchSize=%d", s.BatchSize),
	}
	return f, config, nil
}

// Produce writes the record into the batch and queues its completion for
// the floor's goroutine.
func (f *Floor) Produce(key, value []byte, done func(error)) {
	f.pending.Add(1)
	ts := clock.WallMicros() / 1000
	f.mu.Lock()
	var err error
	if !f.builder.AppendWithin(f.batchSize, ts, key, value, nil) {
		if err = f.seal(); err == nil {
			f.builder.Append(ts, key, value, nil)
		}
	}
	f.queue = append(f.queue, func() { done(err) })
	f.mu.Unlock()
	select {
	case f.more <- struct{}{}:
	default:
	}
}

// seal closes and compresses the batch, as a client does before sending
// it, and starts the next. f.mu must be held.
func (f *Floor) seal() error {
	if f.builder.NumRecords() == 0 {
		return nil
	}
	_, err := f.builder.Close(record.CloseOptions{Codec: f.codec, Level: compression.DefaultLevel,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	f.builder.Reset(f.buf)
	f.sealed++
	return err
}

// complete runs queued completions until Close.
func (f *Floor) complete() {
	defer close(f.stopped)
	for {
		select {
		case <-f.more:
		case <-f.stop:
			return
		}
		f.mu.Lock()
		todo := f.queue
		f.queue, f.spare = f.spare[:0], nil
		f.mu.Unlock()
		for i, c := range todo {
			c()
			todo[i] = nil
			f.pending.Done()
		}
		f.mu.Lock()
		if f.spare == nil {
			f.spare = todo[:0]
		}
		f.mu.Unlock()
	}
}

// Flush seals the last batch and waits for every queued completion.
func (f *Floor) Flush(context.Context) error {
	f.mu.Lock()
	err := f.seal()
	f.mu.Unlock()
	f.pending.Wait()
	return err
}

// Close stops the floor's goroutine.
func (f *Floor) Close() error {
	close(f.stop)
	<-f.stopped
	return nil
}
