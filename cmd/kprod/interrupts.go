package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupts is Ctrl-C (SIGINT) and SIGTERM as the end of a context, as
// signal.NotifyContext makes them, which can also say, once it stops
// listening, whether a signal came, however late: a run reads its context
// for the last time as its produce phase ends, and a Ctrl-C caught after
// that was ignored, the run exiting 0 without "(interrupted)". Until
// stopListening, a signal is caught; after it, or after the first signal,
// a signal has its default effect: a second Ctrl-C kills kprod at once.
type interrupts struct {
	context.Context
	cancel  context.CancelCauseFunc
	signals chan os.Signal
	quit    chan struct{} // closed by stopListening
	relayed chan struct{} // closed once relay has returned
	once    sync.Once
}

// notifyInterrupts listens for the signals until stopListening.
func notifyInterrupts(parent context.Context) *interrupts {
	ctx, cancel := context.WithCancelCause(parent)
	in := &interrupts{
		Context: ctx,
		cancel:  cancel,
		signals: make(chan os.Signal, 1),
		quit:    make(chan struct{}),
		relayed: make(chan struct{}),
	}
	signal.Notify(in.signals, os.Interrupt, syscall.SIGTERM)
	go in.relay()
	return in
}

// relay ends the context at the first signal.
func (in *interrupts) relay() {
	defer close(in.relayed)
	select {
	case s := <-in.signals:
		signal.Stop(in.signals)
		in.cancel(&interruptError{signal: s})
	case <-in.quit:
	}
}

// stopListening gives the signals back their default effect, and says
// whether one came before, whenever it came: then the context has ended
// with an *interruptError. It ends the context in any case.
func (in *interrupts) stopListening() bool {
	in.once.Do(func() {
		// Once Stop returns, every signal that came before it is in
		// in.signals, or relay has taken it.
		signal.Stop(in.signals)
		close(in.quit)
		<-in.relayed
		select {
		case s := <-in.signals: // came as relay was quitting
			in.cancel(&interruptError{signal: s})
		default:
			in.cancel(nil)
		}
	})
	return interrupted(in)
}

// interrupted says whether ctx ended, or one it derives from did, by a
// signal.
func interrupted(ctx context.Context) bool {
	var ie *interruptError
	return errors.As(context.Cause(ctx), &ie)
}

// interruptError is the cause of an interrupted run's end.
type interruptError struct{ signal os.Signal }

// Error says it as signal.NotifyContext does.
func (e *interruptError) Error() string { return e.signal.String() + " signal received" }
