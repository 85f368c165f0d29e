package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	producer "github.com/gokafka/producer"
)

// A producer stopped for good after Ctrl-C did not cut the run short:
// Ctrl-C had, and the run is an interrupted one, not one "stopped early"
// with records "not yet handed to it", as stderr and the JSON's error said.
func TestAStopAfterCtrlCDoesNotCutTheRunShort(t *testing.T) {
	// Nothing is produced: the flush has nothing to wait for.
	cfg := producer.Config{Brokers: []string{"127.0.0.1:1"}}
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	}()
	stop, ctrlC := context.WithCancelCause(context.Background())
	stopped := fmt.Errorf("%w: fenced", producer.ErrProducerStopped)
	m := newMeter(1)
	ph := runPhase(stop, newConsole(&bytes.Buffer{}), p, nil, m, cfg, workload{
		produce: func(halt, _ context.Context, _ recordSink, m *meter, _ *console) error {
			ctrlC(&interruptError{signal: os.Interrupt})
			<-halt.Done()
			m.recordError(stopped)
			return nil
		},
	})
	if !ph.interrupted || !errors.Is(ph.stoppedBy, producer.ErrProducerStopped) {
		t.Fatalf("interrupted %t, stopped by %v; want both", ph.interrupted, ph.stoppedBy)
	}
	if ph.cutShort {
		t.Error("the stop after Ctrl-C is said to have cut the run short")
	}
}

// The run's error is the first failure: a transaction's failure, found as
// the last one ends, does not replace the produce phase's own (a file that
// could not be read), which came before.
func TestTheFirstFailureIsTheRunsError(t *testing.T) {
	readErr, txnErr := errors.New("reading f.txt: input/output error"), errors.New("transaction failed")
	ph := phase{produceErr: readErr}
	ph.endTransactions(context.Background(), &transactions{err: txnErr})
	if ph.produceErr != readErr {
		t.Errorf("error %v, want the first, %v", ph.produceErr, readErr)
	}
	ph = phase{}
	ph.endTransactions(context.Background(), &transactions{err: txnErr})
	if ph.produceErr != txnErr {
		t.Errorf("error %v, want the transaction's, %v", ph.produceErr, txnErr)
	}
}
