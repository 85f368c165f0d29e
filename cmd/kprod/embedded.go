package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/integration/embedded/child"
)

// The embedded broker runs in a child process, `kprod broker --child`, not in
// kprod's own: the CPU time and the allocations a run reports are then the
// producer's alone, not the broker's too, and the two do not share a garbage
// collector. The child prints its addresses on one line and lives until its
// stdin closes, which happens when the parent exits, however it exits
// (package child keeps both sides of that).
//
// Ctrl-C in a terminal signals the whole foreground process group. The
// child must outlive the parent's final flush, so it runs in a process group
// of its own (detach) and, should a SIGINT reach it anyway, ignores it: the
// parent alone decides when its broker goes.

const (
	brokersEnv         = "KPROD_BROKERS" // perf's and produce's brokers without --brokers
	brokerAddrPrefix   = brokersEnv + "="
	brokerStartTimeout = 60 * time.Second
	brokerStopTimeout  = 10 * time.Second
)

func newBrokerCommand(e *env) *cobra.Command {
	var child bool
	var count int
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run an embedded broker until interrupted, for other kprod runs to use",
		Long: `broker starts the embedded broker that perf and produce use without --brokers,
with the topic ` + defaultTopic + ` of ` + fmt.Sprint(defaultEmbeddedPartitions) + ` partitions, which they write to without --topic
(other topics need --create-topic), prints "` + brokerAddrPrefix + `host:port" on stdout and
serves until Ctrl-C; perf and produce use the brokers $` + brokersEnv + ` names when --brokers
is not given:

  kprod broker &                # prints KPROD_BROKERS=127.0.0.1:PORT
  kprod perf --brokers 127.0.0.1:PORT
  export KPROD_BROKERS=127.0.0.1:PORT; kprod perf`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 1 {
				return usagef("--count: %d is less than 1", count)
			}
			return serveBroker(cmd.Context(), e, count, child)
		},
	}
	cmd.Flags().IntVar(&count, "count", 1, "brokers in the embedded cluster")
	cmd.Flags().BoolVar(&child, "child", false, "run as kprod's child: ignore Ctrl-C, stop when stdin closes")
	_ = cmd.Flags().MarkHidden("child")
	return cmd
}

// serveBroker runs the embedded cluster until a signal or, as a child, until
// stdin closes.
func serveBroker(ctx context.Context, e *env, count int, child bool) error {
	stopOn := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if child {
		// Not os.Interrupt: subscribing to it would undo the Ignore.
		signal.Ignore(os.Interrupt)
		stopOn = stopOn[1:]
	}
	ctx, stop := signal.NotifyContext(ctx, stopOn...)
	defer stop()
	cluster, err := embedded.Start(embedded.Options{Brokers: count})
	if err != nil {
		return err
	}
	defer cluster.Close()
	// A broker for other runs holds the default topic, so that a bare
	// `kprod perf` against it runs as it does against a broker of its own.
	// kprod's own child leaves it to the run, which creates the topic with
	// the run's --partitions.
	if !child {
		if err := cluster.CreateTopic(defaultTopic, defaultEmbeddedPartitions); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "%s%s\n", brokerAddrPrefix, joinComma(cluster.Addrs()))
	if child {
		go func() {
			_, _ = io.Copy(io.Discard, e.stdin)
			stop()
		}()
	}
	<-ctx.Done()
	return nil
}

// startEmbeddedBroker starts `kprod broker --child` and waits for its
// addresses.
func startEmbeddedBroker(ctx context.Context) (*child.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding kprod's own executable: %w", err)
	}
	cmd := exec.Command(self, "broker", "--child")
	detach(cmd)
	return child.Start(ctx, cmd, brokerAddrPrefix, brokerStartTimeout)
}

// embeddedBroker is the run's embedded broker, watched: its exit on its own
// ends the run.
type embeddedBroker struct {
	*child.Process
	watched <-chan struct{} // closed once the watch is over
}

// startWatchedBroker starts the embedded broker, says where it serves, and
// watches it: should it exit on its own, the run ends with endRun.
func startWatchedBroker(ctx context.Context, con *console, endRun context.CancelCauseFunc) (*embeddedBroker, error) {
	b, err := startEmbeddedBroker(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the embedded broker: %w", err)
	}
	con.line("embedded broker at %s", joinComma(b.Addrs))
	return &embeddedBroker{Process: b, watched: watchEmbeddedBroker(b, con, endRun)}, nil
}

// stop stops the broker, if there is one, and waits for its watch to be
// over: then what the watch had to say is said. Only the first call stops
// it; every call waits.
func (b *embeddedBroker) stop() {
	if b == nil {
		return
	}
	_ = b.Stop(brokerStopTimeout)
	<-b.watched
}

// brokerExitedError is why a run ended when its embedded broker exited on
// its own.
type brokerExitedError struct{ exit error }

func (e *brokerExitedError) Error() string {
	return fmt.Sprintf("the embedded broker exited during the run (%v)", e.exit)
}

// brokerExitOr is err, with which a wait before the produce phase failed,
// unless the embedded broker's exit ended ctx: then it is that exit, after
// what was waited for, which the library's error buries behind "context
// canceled".
func brokerExitOr(ctx context.Context, what string, err error) error {
	var exited *brokerExitedError
	if errors.As(context.Cause(ctx), &exited) {
		return fmt.Errorf("%s: %w", what, exited)
	}
	return err
}

// watchEmbeddedBroker says at once that b exited, if it did so on its own,
// and ends the run with why. The returned channel is closed once the
// watch is over, which b's exit ends, Stop's included: after Stop, what
// the watch had to say is said.
func watchEmbeddedBroker(b *child.Process, con *console, endRun context.CancelCauseFunc) <-chan struct{} {
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		<-b.Exited()
		if err := b.ExitedEarly(); err != nil {
			// Only its exit: records may not have been handed over yet,
			// and report says how many of them it failed.
			exited := &brokerExitedError{exit: err}
			con.line("%v", exited)
			endRun(exited)
		}
	}()
	return watched
}

func joinComma(s []string) string { return strings.Join(s, ",") }
