package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/integration/embedded/child"
)

// notEnoughReplicas is Kafka's NOT_ENOUGH_REPLICAS, a retriable error.
const notEnoughReplicas = 19

// A record that times out says why: the error that kept its batch from
// being acknowledged. Here every produce fails with NOT_ENOUGH_REPLICAS and
// the retry backoff (5 s, less 20% jitter at most) outlasts the delivery
// timeout, so the batch expires while it waits to be retried, with an error
// that says only how long it waited. The delivery timeout is seconds, as
// the first answer must come within it on a machine that may be loaded;
// the run takes the backoff longer, which paces the metadata refresh that
// finds the topic.
func TestDeliveryTimeoutNamesItsCause(t *testing.T) {
	t.Parallel() // it waits on timers; the others run meanwhile
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers, topic := strings.Join(cluster.Addrs(), ","), uniqueTopic("timeout")
	if err := cluster.CreateTopic(topic, 1); err != nil {
		t.Fatal(err)
	}
	cluster.FailNextProduce(1000, notEnoughReplicas)
	r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--num-records", "5", "--linger", "0",
		"--request-timeout", "1s", "--delivery-timeout", "3s",
		"-X", "retry.backoff.ms=5000", "-X", "retry.backoff.max.ms=5000", "--json")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitFailed, r.stderr)
	}
	s := parseSummary(t, r)
	if s.Errors["DELIVERY_TIMEOUT"] != 5 {
		t.Fatalf("errors %v, want 5 DELIVERY_TIMEOUT\nstderr:\n%s", s.Errors, r.stderr)
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, "failed with DELIVERY_TIMEOUT") {
			if !strings.Contains(line, "the last error the producer logged") || !strings.Contains(line, "NOT_ENOUGH_REPLICAS") {
				t.Errorf("the timeout does not name its cause:\n%s", line)
			}
			return
		}
	}
	t.Errorf("no DELIVERY_TIMEOUT line on stderr:\n%s", r.stderr)
}

// -v prints the library's log on stderr; without it, there is none.
func TestDebugPrintsTheLibraryLog(t *testing.T) {
	brokers := sharedBroker(t)
	for _, debug := range []bool{false, true} {
		args := []string{"perf", "-b", brokers, "--create-topic", "-t", uniqueTopic("debug"), "--num-records", "10", "--json"}
		if debug {
			args = append(args, "-v")
		}
		r := runKprod(t, "", args...)
		if r.code != exitOK {
			t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
		}
		if got := strings.Contains(r.stderr, `level=DEBUG msg="kafka connection established"`); got != debug {
			t.Errorf("with -v %t: library log on stderr %t\nstderr:\n%s", debug, got, r.stderr)
		}
		parseSummary(t, r) // the log stays off stdout
	}
}

// An address that answers with something other than Kafka is called that,
// not "a response size of 1213486160 bytes". The web server here answers
// 400 to whatever it reads, as servers do to a request line they cannot
// parse.
func TestSomethingNotKafka(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Read(make([]byte, 512)); err == nil {
					_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				}
			}()
		}
	}()
	r := runKprod(t, "", "perf", "-b", ln.Addr().String(), "-t", "t", "--num-records", "1")
	if r.code != exitFailed || !strings.Contains(r.stderr, "not a Kafka broker") || !strings.Contains(r.stderr, `"HTTP/1.1 400`) {
		t.Errorf("exit %d, stderr:\n%s\nwant it to say the peer is not a Kafka broker", r.code, r.stderr)
	}
}

// messageTooLarge is Kafka's MESSAGE_TOO_LARGE: a batch larger than the
// topic's max.message.bytes, which the producer splits and sends again.
const messageTooLarge = 10

// A batch the broker refuses as too large is split and sent again: the
// summary counts the split, which is not a retry (a run against a topic
// of small max.message.bytes said "0 retries" of batches nearly all
// split). The ten records go in one batch, lingering until the final
// flush; the broker refuses its first request.
func TestTheSummaryCountsBatchesSplit(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers, topic := strings.Join(cluster.Addrs(), ","), uniqueTopic("split")
	if err := cluster.CreateTopic(topic, 1); err != nil {
		t.Fatal(err)
	}
	cluster.FailNextProduce(1, messageTooLarge)
	r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--num-records", "10", "--linger", "1h", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.RecordsAcked != 10 {
		t.Errorf("acked %d, want 10", s.RecordsAcked)
	}
	var fields struct {
		Splits *int64 `json:"splits"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &fields); err != nil {
		t.Fatal(err)
	}
	if fields.Splits == nil || *fields.Splits != 1 {
		t.Errorf("splits %v, want 1 (the one batch refused):\n%s", fields.Splits, r.stdout)
	}
}

// Every line kprod writes to stderr starts with "kprod: ", those of an
// error made with errors.Join too: two seed brokers that do not answer
// make one line each, and the second went out bare.
func TestEveryLineOfAJoinedErrorSaysKprod(t *testing.T) {
	r := runKprod(t, "", "perf", "-b", refusingBroker(t)+","+refusingBroker(t))
	if r.code != exitFailed || strings.Count(r.stderr, "\n") < 2 {
		t.Fatalf("exit %d, stderr:\n%s\nwant %d and a line per broker", r.code, r.stderr, exitFailed)
	}
	for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
		if !strings.HasPrefix(line, "kprod: ") {
			t.Errorf("a line without kprod's prefix: %q\nstderr:\n%s", line, r.stderr)
		}
	}
	var b strings.Builder
	newConsole(&b).line("first\nsecond")
	if want := "kprod: first\nkprod: second\n"; b.String() != want {
		t.Errorf("console line %q, want %q", b.String(), want)
	}
}

// The embedded broker's own output, which the error of a broker that did
// not start quotes after "its output:", is not kprod's: its lines are
// indented, not prefixed, where they read as kprod's own lines. The broker
// here is kprod's, asked for no brokers, which makes its output a line that
// starts with "kprod: " itself.
func TestTheEmbeddedBrokersOutputIsQuotedNotPrefixed(t *testing.T) {
	_, err := child.Start(context.Background(), exec.Command(kprodBin, "broker", "--count", "0"), brokerAddrPrefix, brokerStartTimeout)
	if err == nil {
		t.Fatal("a broker of no brokers served")
	}
	got := prefixed("starting the embedded broker: " + err.Error())
	want := "kprod: starting the embedded broker: the broker exited before it served; its output:\n" +
		"  kprod: --count: 0 is less than 1\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
