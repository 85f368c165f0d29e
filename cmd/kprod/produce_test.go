package main

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

// consumeTimeout bounds reading back what a test produced.
const consumeTimeout = time.Minute

// consumed is a record as read back by franz-go, a client we did not write.
type consumed struct {
	key, value string
	nilKey     bool
	headers    map[string]string
}

// consume reads the records of topic from the start, expecting n, with the
// integration suite's reader (franz-go's kgo).
func consume(t *testing.T, brokers, topic string, n int) []consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consumeTimeout)
	defer cancel()
	recs, err := readback.ReadAll(ctx, strings.Split(brokers, ","), topic, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("read %d records of %s, want %d", len(recs), topic, n)
	}
	var out []consumed
	for _, r := range recs {
		c := consumed{key: string(r.Key), value: string(r.Value), nilKey: r.Key == nil, headers: map[string]string{}}
		for _, h := range r.Headers {
			c.headers[h.Key] = string(h.Value)
		}
		out = append(out, c)
	}
	return out
}

// produceAndReadBack produces lines with keys to a new one-partition topic
// and checks, record by record and in order, what a consumer reads.
func produceAndReadBack(t *testing.T, brokers string) {
	topic := uniqueTopic("produce")
	input := "k1:v1\nk2:v2\nno separator here\n:empty key\nk3:value:with:colons\n\nlast line without newline"
	want := []consumed{
		{key: "k1", value: "v1"},
		{key: "k2", value: "v2"},
		{value: "no separator here", nilKey: true},
		{key: "", value: "empty key"},
		{key: "k3", value: "value:with:colons"},
		{value: "", nilKey: true},
		{value: "last line without newline", nilKey: true},
	}
	r := runKprod(t, input, "produce", "--brokers", brokers, "--create-topic", "--topic", topic, "--partitions", "1",
		"--key-separator", ":", "--header", "source=kprod-test", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	s := parseSummary(t, r)
	if s.Mode != "produce" || s.RecordsSent != int64(len(want)) || s.RecordsAcked != int64(len(want)) {
		t.Errorf("summary %+v, want %d acked", s, len(want))
	}
	got := consume(t, brokers, topic, len(want))
	for i, w := range want {
		g := got[i]
		if g.key != w.key || g.nilKey != w.nilKey || g.value != w.value {
			t.Errorf("record %d: key %q (nil %t) value %q, want key %q (nil %t) value %q",
				i, g.key, g.nilKey, g.value, w.key, w.nilKey, w.value)
		}
		if g.headers["source"] != "kprod-test" {
			t.Errorf("record %d: headers %v", i, g.headers)
		}
	}
}

func TestProduceStdinWithKeys(t *testing.T) {
	produceAndReadBack(t, sharedBroker(t))
}

func TestProduceEmptyStdin(t *testing.T) {
	r := runKprod(t, "", "produce", "--brokers", sharedBroker(t), "--create-topic", "--topic", uniqueTopic("empty"), "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.RecordsSent != 0 || s.Error != "" {
		t.Errorf("sent %d records from empty stdin, error %q", s.RecordsSent, s.Error)
	}
}

// --brokers defaults to $KPROD_BROKERS, which `kprod broker` prints, as
// its help says: produce refused to run without --brokers, and perf
// started a broker of its own. An explicit --brokers, or --embedded, wins.
func TestBrokersDefaultToTheEnvironment(t *testing.T) {
	brokers := sharedBroker(t)
	env := []string{brokersEnv + "=" + brokers}
	for _, args := range [][]string{
		{"produce", "--create-topic", "-t", uniqueTopic("env")},
		{"perf", "--create-topic", "-t", uniqueTopic("env"), "--num-records", "10"},
		{"produce", "--create-topic", "-t", uniqueTopic("env"), "-b", brokers},
	} {
		env := env
		if slices.Contains(args, "-b") {
			env = []string{brokersEnv + "=nosuchhost.invalid:9092"}
		}
		r := runKprodEnv(t, env, "a\nb\n", append(args, "--json")...)
		if r.code != exitOK {
			t.Errorf("%s %v: exit %d\nstderr:\n%s", env[0], args, r.code, r.stderr)
			continue
		}
		if s := parseSummary(t, r); s.Embedded || strings.Join(s.Brokers, ",") != brokers || s.RecordsAcked == 0 {
			t.Errorf("%s %v: embedded %v, brokers %v, acked %d; want %s", env[0], args, s.Embedded, s.Brokers, s.RecordsAcked, brokers)
		}
	}
	r := runKprodEnv(t, []string{brokersEnv + "=nohostport"}, "", "produce", "-t", "x")
	if want := `$KPROD_BROKERS: "nohostport" is not host:port`; r.code != exitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %d and %q", r.code, r.stderr, exitUsage, want)
	}
	r = runKprodEnv(t, []string{brokersEnv + "=nosuchhost.invalid:9092"}, "", "produce", "--embedded", "--json")
	if s := parseSummary(t, r); r.code != exitOK || !s.Embedded {
		t.Errorf("--embedded with $KPROD_BROKERS set: exit %d, embedded %v\nstderr:\n%s", r.code, s.Embedded, r.stderr)
	}
}

// refusingBroker is an address that accepts connections and closes them at
// once, as no broker does: every dial to it fails.
func refusingBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// Brokers from $KPROD_BROKERS that do not answer are said to come from
// it: a variable left from an earlier session sent the main job, kprod
// with no flags, to a broker long gone, and the error named only the
// address. Brokers given on the command line are not said to.
func TestBrokersFromTheEnvironmentThatDoNotAnswerNameIt(t *testing.T) {
	gone := refusingBroker(t)
	r := runKprodEnv(t, []string{brokersEnv + "=" + gone}, "")
	if want := "kprod: no broker answered (from $KPROD_BROKERS): "; r.code != exitFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %d and %q", r.code, r.stderr, exitFailed, want)
	}
	r = runKprodEnv(t, []string{brokersEnv + "=" + gone}, "", "perf", "-b", gone)
	if want := "kprod: no broker answered: "; r.code != exitFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("-b: exit %d, stderr:\n%s\nwant %d and %q", r.code, r.stderr, exitFailed, want)
	}
}

// Text read but not yet ended by the delimiter when produce is stopped
// (Ctrl-C) is not produced, as it may be a torn line, but is no longer
// dropped without a word: stderr says how much was left. A stdin that
// closes still produces it.
func TestAnUnfinishedRecordAtCtrlCIsSaid(t *testing.T) {
	in, w := io.Pipe()
	defer w.Close()
	stop, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var stderr strings.Builder
	con := newConsole(&stderr)
	sink := &stallingSink{stallAt: -1}
	f := format(t, textOptions{})
	done := make(chan error, 1)
	go func() {
		done <- produceStream(stop, context.Background(), in, sink, newMeter(1), con, producer.Record{Topic: "t"}, f)
	}()
	if _, err := io.WriteString(w, "whole\nhalf"); err != nil {
		t.Fatal(err)
	}
	// An empty write returns once the reader reads again: "whole" is
	// handed over, and "half" waits for the rest of its line.
	if _, err := w.Write(nil); err != nil {
		t.Fatal(err)
	}
	interrupt()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := "kprod: an unfinished record of 4 bytes, read without its delimiter, was not produced\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.calls) != 1 {
		t.Errorf("%d records produced, want 1 (the whole line)", len(sink.calls))
	}
}

// endingReader reads r, and calls atEOF as r ends, before saying so.
type endingReader struct {
	r     io.Reader
	atEOF func()
}

func (e *endingReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) && e.atEOF != nil {
		e.atEOF()
		e.atEOF = nil
	}
	return n, err
}

// Ctrl-C in a terminal kills the command writing kprod's stdin too, which
// may end, its last line torn, as the interrupt comes. That line is not
// produced once the interrupt is received, even by the reading goroutine
// before produceStream's own has seen it: the reader used to ask only a
// flag that goroutine set, and produced the torn line first. Here the
// interrupt comes as stdin ends, after "whole".
func TestAnUnfinishedRecordThatStdinEndsAsCtrlCComesIsNotProduced(t *testing.T) {
	stop, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var stderr strings.Builder
	sink := &stallingSink{stallAt: -1}
	in := &endingReader{r: strings.NewReader("whole\nhalf"), atEOF: interrupt}
	err := produceStream(stop, context.Background(), in, sink, newMeter(1), newConsole(&stderr),
		producer.Record{Topic: "t"}, format(t, textOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	produced := len(sink.calls)
	sink.mu.Unlock()
	if produced != 1 {
		t.Errorf("%d records produced, want 1 (the whole line, not the torn one after Ctrl-C)", produced)
	}
	if want := "kprod: an unfinished record of 4 bytes, read without its delimiter, was not produced\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// interruptingSink records the values produced, and calls interrupt as
// it is handed the value interruptAt.
type interruptingSink struct {
	ackingSink
	interruptAt string
	interrupt   func()

	mu     sync.Mutex
	values []string
}

func (s *interruptingSink) Produce(ctx context.Context, r *producer.Record, cb producer.Callback) {
	s.mu.Lock()
	s.values = append(s.values, string(r.Value))
	s.mu.Unlock()
	if string(r.Value) == s.interruptAt {
		s.interrupt()
	}
	s.ackingSink.Produce(ctx, r, cb)
}

// A last record that stdin ends without its delimiter before Ctrl-C is
// produced, and is not said to be left unfinished when Ctrl-C comes as it
// is handed over.
func TestAnUnfinishedLastRecordBeforeCtrlCIsProduced(t *testing.T) {
	stop, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var stderr strings.Builder
	sink := &interruptingSink{interruptAt: "last", interrupt: interrupt}
	err := produceStream(stop, context.Background(), strings.NewReader("whole\nlast"), sink, newMeter(1), newConsole(&stderr),
		producer.Record{Topic: "t"}, format(t, textOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if got := strings.Join(sink.values, ","); got != "whole,last" || stderr.String() != "" {
		t.Errorf("produced %q, stderr %q; want whole,last and nothing said", got, stderr.String())
	}
}
