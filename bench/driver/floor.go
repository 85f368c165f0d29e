package driver

import (
	"context"
	"sync"
)

// Floor is the race's floor: a client that sends nothing and completes
// every record as an asynchronous client must, whatever else it does. Its
// Produce wraps done in a closure (every adaptor converts the driver's
// done to its client's callback type) and queues it; one goroutine of its
// own takes the queue and calls each done, as a client's delivery or
// promise goroutine does after a response. Its CPU per record is what the
// harness and that hand-off cost on their own, so a target below the
// floor's ratio is out of any client's reach in this race.
type Floor struct {
	mu      sync.Mutex
	queue   []func()
	spare   []func()
	more    chan struct{}
	pending sync.WaitGroup
	stop    chan struct{}
	stopped chan struct{}
}

// OpenFloor starts a Floor, as an Opener: it ignores the settings but
// their workload, which the driver runs.
func OpenFloor(Settings) (Client, []string, error) {
	f := &Floor{more: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go f.complete()
	return f, []string{"sends nothing; one goroutine completes every record"}, nil
}

// Produce queues the record's completion for the floor's goroutine.
func (f *Floor) Produce(_, _ []byte, done func(error)) {
	f.pending.Add(1)
	f.mu.Lock()
	f.queue = append(f.queue, func() { done(nil) })
	f.mu.Unlock()
	select {
	case f.more <- struct{}{}:
	default:
	}
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

// Flush waits for every queued completion.
func (f *Floor) Flush(context.Context) error {
	f.pending.Wait()
	return nil
}

// Close stops the floor's goroutine.
func (f *Floor) Close() error {
	close(f.stop)
	<-f.stopped
	return nil
}
