package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// -X allow.auto.create.topics=true asks the broker to create the topic, as
// the Java producer's setting does, where the broker allows it.
func TestAllowAutoCreateTopics(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{AutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.Addrs(), ",")
	r := runKprod(t, "", "perf", "-b", brokers, "-t", "auto", "--num-records", "10")
	if r.code != exitFailed || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("without the setting: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runKprod(t, "", "perf", "-b", brokers, "-t", "auto", "--num-records", "10", "-X", "allow.auto.create.topics=true", "--json")
	if r.code != exitOK {
		t.Fatalf("with it: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.RecordsAcked != 10 {
		t.Errorf("acked %d, want 10", s.RecordsAcked)
	}
}

// Kafka 4.3.1 answers the metadata request that has it create a topic
// UNKNOWN_TOPIC_OR_PARTITION, where kfake answers with the new topic. kprod
// then waits for the topic the broker creates; with --create-topic it asks
// for no auto-creation, and creates the topic with the partitions asked
// for rather than racing the broker's num.partitions. A broker that does
// not create it leaves kprod waiting --max-block, as the producer would.
func TestAllowAutoCreateTopicsAsKafkaAnswersIt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		autoCreate bool // the broker's auto.create.topics.enable
		args       []string
		code       int
		want       string
	}{
		{"auto-created", true, nil, exitOK, "producing 10 records of 100 bytes to topic %s"},
		{"--create-topic", true, []string{"--create-topic", "--partitions", "3"}, exitOK, "created topic %s (3 partitions"},
		{"refused", false, []string{"-X", "max.block.ms=300"}, exitFailed,
			"topic %s does not exist, and the broker did not create it within 300ms as allow.auto.create.topics asks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster, err := embedded.Start(embedded.Options{AutoCreateTopics: tc.autoCreate})
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			topic := uniqueTopic("autocreated")
			if tc.autoCreate {
				answerAutoCreationAsKafka(t, cluster, topic)
			}
			args := append([]string{"perf", "-b", strings.Join(cluster.Addrs(), ","), "-t", topic, "--num-records", "10",
				"-X", "allow.auto.create.topics=true"}, tc.args...)
			r := runKprod(t, "", args...)
			if want := fmt.Sprintf(tc.want, topic); r.code != tc.code || !strings.Contains(r.stderr, want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d with %q", r.code, r.stderr, tc.code, want)
			}
		})
	}
}

// A wait for an auto-created topic that runs out while a poll is still at
// the broker says that the broker did not create the topic, as one that
// runs out between polls does: the last answer said it did not exist.
// Before, it said only that the poll's request ran out of time, which a
// loaded machine made the usual end of a 300 ms wait. The wait here is 2 s,
// so that its first poll, 20 ms in, reaches the broker whatever the load.
func TestAWaitForAnAutoCreatedTopicEndingDuringAPollSaysTheBrokerDidNotCreateIt(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	topic := uniqueTopic("autocreated")
	// The first request for the topic is answered (unknown); the second,
	// the wait's first poll, is held until kprod has exited.
	released := make(chan struct{})
	defer close(released)
	var asked atomic.Int32
	cluster.Kfake().ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.Kfake().KeepControl()
		mr := req.(*kmsg.MetadataRequest)
		if slices.ContainsFunc(mr.Topics, func(rt kmsg.MetadataRequestTopic) bool { return rt.Topic != nil && *rt.Topic == topic }) &&
			asked.Add(1) == 2 {
			cluster.Kfake().SleepControl(func() { <-released })
		}
		return nil, nil, false
	})
	r := runKprod(t, "", "perf", "-b", strings.Join(cluster.Addrs(), ","), "-t", topic, "--num-records", "10",
		"-X", "allow.auto.create.topics=true", "-X", "max.block.ms=2000")
	want := fmt.Sprintf("topic %s does not exist, and the broker did not create it within 2s", topic)
	if r.code != exitFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d with %q", r.code, r.stderr, exitFailed, want)
	}
	if n := asked.Load(); n < 2 {
		t.Errorf("the broker was asked for the topic %d times: the wait's poll was not held", n)
	}
}

// An interrupt (the run's ctx ending) during the wait for a topic the
// broker is to create says so, not that the broker did not create it
// within the wait: that message named the whole wait (1m0s) after an
// interrupt 200ms in. The errors are awaitLeaders' as its ctx ends with
// the topic still unknown: the run's ctx, or the wait's own deadline.
func TestAnInterruptedWaitForAnAutoCreatedTopicSaysItWasInterrupted(t *testing.T) {
	interrupted, interrupt := context.WithCancel(context.Background())
	interrupt()
	err := fmt.Errorf("topic t: %w: %w", kerr.UnknownTopicOrPartition, context.Canceled)
	if got := notAutoCreated(interrupted, err, "t", time.Minute); got != err {
		t.Errorf("interrupted: %v; want awaitLeaders' error, the interrupt, as it is", got)
	}
	err = fmt.Errorf("topic t: %w: %w", kerr.UnknownTopicOrPartition, context.DeadlineExceeded)
	want := "topic t does not exist, and the broker did not create it within 1m0s"
	if got := notAutoCreated(context.Background(), err, "t", time.Minute); !strings.Contains(got.Error(), want) {
		t.Errorf("the wait ran out: %v; want %q", got, want)
	}
}

// With the default --max-block, the wait for an auto-created topic is as
// long as ensureTopic's topicTimeout, begun before it, which then ends it
// first: its ctx has run out too, and that is no interrupt. The hint that
// the broker did not create the topic was lost, for awaitLeaders' error.
func TestAWaitForAnAutoCreatedTopicEndedByTheTopicTimeoutSaysTheBrokerDidNotCreateIt(t *testing.T) {
	timedOut, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-timedOut.Done()
	err := fmt.Errorf("topic t: %w: %w", kerr.UnknownTopicOrPartition, context.DeadlineExceeded)
	want := "did not create it within 1m0s as allow.auto.create.topics asks"
	if got := notAutoCreated(timedOut, err, "t", time.Minute); !strings.Contains(got.Error(), want) {
		t.Errorf("got %q; want %q", got, want)
	}
}

// answerAutoCreationAsKafka scripts the broker's answer to the first
// metadata request naming topic as Kafka 4.3.1 answers it when the request
// asks for the topic's creation: it creates the topic, with the broker's
// num.partitions, and says the topic is unknown.
func answerAutoCreationAsKafka(t *testing.T, cluster *embedded.Cluster, topic string) {
	cluster.Kfake().ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mr := req.(*kmsg.MetadataRequest)
		if !slices.ContainsFunc(mr.Topics, func(rt kmsg.MetadataRequestTopic) bool { return rt.Topic != nil && *rt.Topic == topic }) {
			return nil, nil, false // another request: the control stays
		}
		cluster.Kfake().DropControl()
		if !mr.AllowAutoTopicCreation {
			return nil, nil, false // the broker answers: unknown
		}
		// kfake serves administrative calls while a control function
		// runs, from another goroutine.
		created := make(chan error, 1)
		go func() { created <- cluster.CreateTopic(topic, 0) }()
		if err := <-created; err != nil {
			t.Error(err)
		}
		resp := mr.ResponseKind().(*kmsg.MetadataResponse)
		unknown := kmsg.NewMetadataResponseTopic()
		unknown.Topic = kmsg.StringPtr(topic)
		unknown.ErrorCode = kerr.UnknownTopicOrPartition.Code
		resp.Topics = append(resp.Topics, unknown)
		return resp, nil, true
	})
}
