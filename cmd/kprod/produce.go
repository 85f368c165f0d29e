package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
)

// produceOptions are the flags of kprod produce.
type produceOptions struct {
	commonOptions
	textOptions
	key       string
	partition int32
}

func newProduceCommand(e *env) *cobra.Command {
	o := &produceOptions{}
	o.needBrokers = true
	cmd := &cobra.Command{
		Use:   "produce [FILE...]",
		Short: "Produce the lines of stdin, or each file as one record",
		Long: `produce sends each line of stdin (without its newline) as one record's value,
as kcat -P and kafka-console-producer do. --delimiter separates records
otherwise; --key-separator splits a key off each record; --parse-headers reads
headers at the start of each; --null-marker stands for null.

With FILE arguments, each file is one record, whole ("-" is stdin, once).

--brokers is required: --embedded produces to a throw-away broker instead.`,
		Example: `  printf 'user1:hello\nuser2:world\n' | kprod produce -b localhost:9092 -t greetings -K :
  printf 'trace:abc\tuser1:hello\n' | kprod produce -b localhost:9092 -t greetings -K : --parse-headers
  kprod produce -b localhost:9092 -t images -k logo logo.png`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runProduce(cmd, e, o, args) },
	}
	fs := cmd.Flags()
	o.commonOptions.register(fs)
	o.textOptions.register(fs)
	fs.StringVarP(&o.key, "key", "k", "", "the key of every record (without it and --key-separator: no key)")
	fs.Int32VarP(&o.partition, "partition", "p", -1, "partition to produce to; -1: the partitioner chooses")
	return cmd
}

func runProduce(cmd *cobra.Command, e *env, o *produceOptions, files []string) error {
	changed := cmd.Flags().Changed
	if o.partition < -1 {
		return usagef("--partition: %d is neither a partition nor -1", o.partition)
	}
	if changed("key") && changed("key-separator") {
		return usagef("--key: not with --key-separator: the key is either fixed or in each record")
	}
	if i := slices.Index(files, "-"); i >= 0 && slices.Contains(files[i+1:], "-") {
		// The first reads stdin whole; the second found it ended, and
		// was an empty record.
		return usagef("FILE: \"-\" (stdin) given twice: stdin is one record, read once")
	}
	if len(files) > 0 {
		for _, f := range stdinFormatFlags {
			if changed(f) {
				return usagef("--%s: not with FILE arguments, which are one record each, whole", f)
			}
		}
	}
	if err := o.textOptions.checkCombination(changed); err != nil {
		return err
	}
	format, err := o.textOptions.format()
	if err != nil {
		return err
	}
	if changed("key") {
		format.fixedKey = []byte(o.key)
	}
	if err := o.validate(cmd); err != nil {
		return err
	}
	interactive := len(files) == 0 && isTerminal(e.stdin)
	if o.progress == "auto" && interactive {
		o.progress = "never" // someone is typing; a progress line would get in the way
	}
	base := producer.Record{
		Topic:             o.topic,
		Partition:         max(o.partition, 0),
		ExplicitPartition: o.partition >= 0,
	}
	w := workload{mode: "produce", shards: 1, total: -1, about: "the lines of stdin", interactive: interactive}
	if o.partition >= 0 {
		inRange := func(n int, has string) error {
			if int(o.partition) < n {
				return nil
			}
			return usagef("--partition: %d is not a partition of topic %s, which %s %s (0 to %d)",
				o.partition, o.topic, has, plural(int64(n), "partition"), n-1)
		}
		// A count kprod would create the topic with (which --partitions
		// also asks of one that exists) is checked before anything is
		// created; the topic's own count, once its metadata is read.
		if n := o.topicSpec(cmd).partitions; n > 0 {
			if err := inRange(int(n), "would have"); err != nil {
				return err
			}
		}
		w.checkPartitions = func(n int) error { return inRange(n, "has") }
	}
	w.produce = func(stop, produceCtx context.Context, p recordSink, m *meter, con *console) error {
		return produceStream(stop, produceCtx, e.stdin, p, m, con, base, format)
	}
	if len(files) > 0 {
		w.total = int64(len(files))
		w.about = fmt.Sprintf("%s, one record each", plural(w.total, "file"))
		w.produce = func(stop, produceCtx context.Context, p recordSink, m *meter, _ *console) error {
			return produceFiles(stop, produceCtx, e.stdin, files, p, m, base, format)
		}
	}
	return execute(cmd, e, &o.commonOptions, w)
}

// produceStream produces a record per delimited piece of in until in ends,
// a record is malformed, or stop is done (Ctrl-C, or the producer can send
// nothing more). Reading happens on its own goroutine, so that stopping is
// not held up by a read that waits for input.
func produceStream(stop, produceCtx context.Context, in io.Reader, p recordSink, m *meter, con *console, rec producer.Record, f *lineFormat) error {
	// mu makes stopping and producing exclusive: once produceStream has
	// returned at stop, no record is handed over, so none races with the
	// final flush and Close.
	var mu sync.Mutex
	done := make(chan error, 1)
	s := m.shard(0)
	sr := &streamReader{r: in}
	sr.unfinished.Store(-1)
	go func() {
		n := 0
		var parseErr error
		err := readRecords(sr, f.delimiter, func(text []byte) bool {
			n++
			unterminated := sr.ended+int64(len(text)) == sr.read // the last, at EOF
			sr.ended += int64(len(text) + len(f.delimiter))
			mu.Lock()
			defer mu.Unlock()
			// stop itself, not a flag this function's caller sets once it
			// sees stop: Ctrl-C in a terminal kills the command writing
			// stdin too, whose end, with its last line unfinished, may
			// come before the caller has seen the interrupt.
			if stop.Err() != nil {
				return false
			}
			if parseErr = f.parse(text, &rec); parseErr != nil {
				parseErr = fmt.Errorf("record %d of stdin: %w; it and the rest were not produced", n, parseErr)
				return false
			}
			p.Produce(produceCtx, &rec, m.track(s, len(rec.Key)+len(rec.Value)))
			if unterminated {
				sr.unfinished.Store(0) // produced, not left unfinished
			}
			return true
		})
		if err != nil {
			err = fmt.Errorf("reading stdin: %w", err)
		}
		done <- cmp.Or(parseErr, err)
	}()
	var err error
	select {
	case err = <-done:
	case <-stop.Done():
		// Waits for a record being handed over, if one is: the reader
		// hands over none after stop.
		mu.Lock()
		mu.Unlock()
	}
	if stop.Err() != nil {
		// Not produced, as it may be a torn line, but said: a stdin
		// that ends before the interrupt produces it, and dropping it
		// silently looked the same.
		if n := sr.unfinished.Load(); n > 0 {
			con.line("an unfinished record of %s, read without its delimiter, was not produced", plural(n, "byte"))
		}
	}
	return err
}

// streamReader is produceStream's input, which tells how much of it was
// read but not yet ended by the delimiter while readRecords waits for
// more. readRecords asks for more only once what it holds has no
// delimiter's last byte, that is no whole record: all it holds then is
// the unfinished one.
type streamReader struct {
	r io.Reader
	// read and ended, the bytes read and those of the records ended
	// (delimiters included), belong to the reading goroutine.
	read, ended int64
	// unfinished is read - ended during a Read, or -1 when bytes came
	// that may end records not yet handed over.
	unfinished atomic.Int64
}

func (sr *streamReader) Read(p []byte) (int, error) {
	sr.unfinished.Store(sr.read - sr.ended)
	n, err := sr.r.Read(p)
	if n > 0 {
		sr.read += int64(n)
		sr.unfinished.Store(-1)
	}
	return n, err
}

// produceFiles produces each file as one record, whole; "-" is stdin.
func produceFiles(stop, produceCtx context.Context, stdin io.Reader, files []string, p recordSink, m *meter, rec producer.Record, f *lineFormat) error {
	s := m.shard(0)
	for _, name := range files {
		if stop.Err() != nil {
			return nil
		}
		data, err := readFile(stop, stdin, name)
		if err != nil {
			return fmt.Errorf("%w; it and the files after it were not produced", err)
		}
		if stop.Err() != nil {
			return nil // Ctrl-C came during the read: nothing more is handed over
		}
		rec.Key, rec.Value, rec.Headers = f.fixedKey, data, f.headers
		p.Produce(produceCtx, &rec, m.track(s, len(rec.Key)+len(rec.Value)))
	}
	return nil
}

// readFile reads a file whole ("-" is stdin) on a goroutine of its own, so
// that Ctrl-C is not held up by a read that waits for input: a terminal, a
// FIFO whose writer is slow. After Ctrl-C the read is left behind, as
// kprod is about to exit, and readFile returns nothing.
func readFile(stop context.Context, stdin io.Reader, name string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	read := make(chan result, 1)
	go func() {
		var r result
		if name == "-" {
			r.data, r.err = io.ReadAll(stdin)
		} else {
			r.data, r.err = os.ReadFile(name)
		}
		read <- r
	}()
	select {
	case r := <-read:
		return r.data, r.err
	case <-stop.Done():
		return nil, nil
	}
}
