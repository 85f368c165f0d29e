// Package floor is the race's floor: a client that sends nothing. It is a
// package of its own, not part of the driver every client links, so that
// the gokafka client built at an earlier commit (the race's gokafka@REF)
// needs only the producer's public API of that commit, while the floor
// writes its batches with this tree's record and compression packages.
package floor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/record"
)

// Floor is the race's floor: a client that sends nothing and does only
// what any asynchronous client must, whatever else it does. Its Produce
// stamps the record with the wall clock, writes it into a RecordBatch v2
// (this repository's record package) and keeps done as it is, as a client
// that carries done as the message's opaque data does. A batch is closed
// when it reaches the batch size or its linger ends, as a client's would
// be, and compressed with the workload's codec (this repository's
// compression package, as gokafka compresses); then its records'
// completions go to one goroutine of the floor's own, which calls them, as
// a client's delivery or promise goroutine does once a response has come.
// Its CPU per record is what the harness, the record format, the codec and
// that hand-off cost on their own: a CPU target below the floor's ratio
// asks a producer to spend less than the floor does, though the floor
// neither partitions, buffers, sends nor reads a response.
type Floor struct {
	codec     compression.Codec
	batchSize int
	linger    time.Duration

	mu      sync.Mutex
	builder record.Builder
	buf     []byte        // the batch buffer, reused
	open    []func(error) // the completions of the open batch's records
	sealed  int           // batches closed: a linger timer knows its own batch by it
	queue   []completion  // completions handed to the goroutine
	queued  int           // batches in queue
	spare   []completion
	more    chan struct{}
	pending sync.WaitGroup // batches closed and not yet completed
	stop    chan struct{}
	stopped chan struct{}
}

// Open starts a Floor for the settings' codec, batch size and linger, as a
// driver.Opener.
func Open(s driver.Settings) (driver.Client, []string, error) {
	codec, err := compression.ParseCodec(s.Compression)
	if err != nil {
		return nil, nil, err
	}
	f := &Floor{
		codec: codec, batchSize: s.BatchSize, linger: s.Linger, buf: make([]byte, 0, s.BatchSize),
		more: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	f.builder.Reset(f.buf)
	go f.complete()
	config := []string{
		"sends nothing; one goroutine completes every record",
		"Compression=" + s.Compression,
		fmt.Sprintf("BatchSize=%d", s.BatchSize),
		fmt.Sprintf("Linger=%v", s.Linger),
	}
	return f, config, nil
}

// Callback is done itself: the floor keeps it as it is.
func (f *Floor) Callback(done func(error)) any { return done }

// Produce writes the record into the open batch. The batch is closed when
// the record does not fit, or at once with no linger; the first record of
// a batch arms its linger.
func (f *Floor) Produce(key, value []byte, cb any) {
	ts := clock.WallMicros() / 1000
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.builder.AppendWithin(f.batchSize, &record.Data{TimestampMs: ts, Key: key, Value: value}) {
		f.seal()
		f.builder.Append(ts, key, value, nil)
	}
	f.open = append(f.open, cb.(func(error)))
	switch {
	case f.linger <= 0:
		f.seal()
	case len(f.open) == 1:
		batch := f.sealed
		time.AfterFunc(f.linger, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.sealed == batch {
				f.seal()
			}
		})
	}
}

// seal closes and compresses the open batch, as a client does before
// sending it, hands its completions to the floor's goroutine and starts the
// next batch. f.mu must be held.
func (f *Floor) seal() {
	if len(f.open) == 0 {
		return
	}
	_, err := f.builder.Close(record.CloseOptions{Codec: f.codec, Level: compression.DefaultLevel,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	for _, cb := range f.open {
		f.queue = append(f.queue, completion{cb: cb, err: err})
	}
	f.builder.Reset(f.buf)
	f.sealed++
	f.queued++
	f.pending.Add(1)
	clear(f.open)
	f.open = f.open[:0]
	select {
	case f.more <- struct{}{}:
	default:
	}
}

// completion is one record's callback and outcome.
type completion struct {
	cb  func(error)
	err error
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
		todo, batches := f.queue, f.queued
		f.queue, f.spare, f.queued = f.spare[:0], nil, 0
		f.mu.Unlock()
		for i, c := range todo {
			c.cb(c.err)
			todo[i] = completion{}
		}
		f.pending.Add(-batches)
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
	f.seal()
	f.mu.Unlock()
	f.pending.Wait()
	return nil
}

// Close stops the floor's goroutine.
func (f *Floor) Close() error {
	close(f.stop)
	<-f.stopped
	return nil
}
