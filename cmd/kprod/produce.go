package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
)

// produceOptions are the flags of kprod produce.
type produceOptions struct {
	commonOptions
	keySeparator string
	headers      []string
	partition    int32
}

func newProduceCommand(e *env) *cobra.Command {
	o := &produceOptions{}
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Read records from stdin, one per line",
		Long: `produce sends each line of stdin (without its newline) as one record's value.

With --key-separator SEP, the part of a line before the first SEP is the
record's key and the rest its value; a line without SEP has no key.`,
		Example: `  printf 'user1:hello\nuser2:world\n' | kprod produce --topic greetings --key-separator :`,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runProduce(cmd, e, o) },
	}
	fs := cmd.Flags()
	o.commonOptions.register(fs)
	fs.StringVar(&o.keySeparator, "key-separator", "", "split each line at the first `SEP` into key and value (none: no key)")
	fs.StringArrayVar(&o.headers, "header", nil, "header `key=value` added to every record (repeatable)")
	fs.Int32Var(&o.partition, "partition", -1, "partition to produce to; -1: the partitioner chooses")
	return cmd
}

func runProduce(cmd *cobra.Command, e *env, o *produceOptions) error {
	headers, err := parseHeaders(o.headers)
	if err != nil {
		return err
	}
	if o.partition < -1 {
		return usagef("--partition: %d is neither a partition nor -1", o.partition)
	}
	if err := o.validate(cmd); err != nil {
		return err
	}
	if o.progress == "auto" && isTerminal(e.stdin) {
		o.progress = "never" // someone is typing; a progress line would get in the way
	}
	sep := []byte(o.keySeparator)
	return execute(cmd, e, &o.commonOptions, workload{
		mode:   "produce",
		shards: 1,
		total:  -1,
		about:  "the lines of stdin",
		produce: func(ctx context.Context, p *producer.Producer, m *meter) error {
			return produceLines(ctx, e, p, m, producer.Record{
				Topic:             o.topic,
				Headers:           headers,
				Partition:         max(o.partition, 0),
				ExplicitPartition: o.partition >= 0,
			}, sep)
		},
	})
}

// produceLines produces a record per line of stdin until stdin ends or ctx
// is done. Reading happens on its own goroutine, so that Ctrl-C is not held
// up by a read that waits for input.
func produceLines(ctx context.Context, e *env, p *producer.Producer, m *meter, rec producer.Record, sep []byte) error {
	var stopping atomic.Bool
	done := make(chan error, 1)
	s := m.shard(0)
	go func() {
		done <- readLines(e.stdin, func(line []byte) bool {
			if stopping.Load() {
				return false
			}
			rec.Key, rec.Value = splitLine(line, sep)
			// Produce copies key and value before it returns, so the line
			// buffer can be reused.
			p.Produce(ctx, &rec, m.track(s, len(rec.Key)+len(rec.Value)))
			return true
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		return nil
	case <-ctx.Done():
		stopping.Store(true)
		return nil
	}
}
