package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/testbroker"
)

// TestClusterIDsNeverStartWithADash draws cluster ids as broker.sh makes
// them. kafka-storage reads an id that starts with '-' as an option and
// fails to format the node: with a plain base64url draw, one start in 64.
// 500 draws would all miss that start with odds under 1 in 2,500.
func TestClusterIDsNeverStartWithADash(t *testing.T) {
	cmd := exec.Command("bash", "-c", `source kafka/nodes.sh && for _ in $(seq 500); do printf "%s\n" "$(cluster_id)"; done`)
	cmd.Env = append(os.Environ(), "STATE_DIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drawing cluster ids with kafka/nodes.sh: %v", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) != 500 {
		t.Fatalf("%d ids drawn, want 500", len(ids))
	}
	// Kafka's Uuid: 16 bytes, base64url without padding.
	uuid := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{21}$`)
	for _, id := range ids {
		if !uuid.MatchString(id) {
			t.Fatalf("cluster id %q is not 22 base64url characters that do not start with '-'", id)
		}
	}
}

// produceRequestsMBean is Kafka's meter of Produce requests, one MBean per
// request version.
const produceRequestsMBean = "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Produce,*"

// TestBrokerMetricCountsProduceRequests reads the brokers' Produce request
// meter with broker.sh metric, as the producer race does on a real Kafka,
// around our producer's requests: the count grows by at least the requests
// the producer says it sent (other tests may produce meanwhile). It needs
// the brokers of KAFKA_BROKERS run by broker.sh with KAFKA_JMX set, in
// KAFKA_STATE_DIR or broker.sh's default directory, as the README starts
// them; with KAFKA_JMX set in the test's environment too, as CI does, a
// broker without JMX fails the test instead of skipping it. With neither
// variable set nothing says broker.sh runs the brokers (they may be
// Docker's), so the test skips.
func TestBrokerMetricCountsProduceRequests(t *testing.T) {
	seeds := testbroker.EnvBrokers()
	if len(seeds) == 0 || os.Getenv("KAFKA_STATE_DIR") == "" && os.Getenv("KAFKA_JMX") == "" {
		t.Skip("broker.sh metric: needs KAFKA_BROKERS run by broker.sh with KAFKA_JMX=1 (or in KAFKA_STATE_DIR)")
	}
	script, err := filepath.Abs(filepath.Join("kafka", "broker.sh"))
	require.NoError(t, err)
	metric := func() (int64, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(t.Context(), script, "metric", produceRequestsMBean, "Count")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("broker.sh metric: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("broker.sh metric printed %q, not a count", stdout.String())
		}
		return n, nil
	}

	before, err := metric()
	if err != nil && strings.Contains(err.Error(), "serves no JMX") && os.Getenv("KAFKA_JMX") == "" {
		t.Skipf("the brokers serve no JMX (start them with KAFKA_JMX=1): %v", err)
	}
	if err != nil {
		// One JMX read may fail on a busy machine, as a later one may (below).
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			before, err = metric()
			assert.NoError(c, err)
		}, testTimeout, 100*time.Millisecond, "the brokers' Produce request meter before the test")
	}
	topic := newTopic(t, seeds, 3)
	p := newProducer(t, seeds, func(c *producer.Config) { c.Linger = time.Millisecond })
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	for i := range 300 {
		p.Produce(ctx, &producer.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}, func(_ producer.RecordMetadata, err error) {
			if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		})
	}
	require.NoError(t, p.Flush(ctx))
	sent := p.Stats().Requests
	require.Positive(t, sent, "the producer counts no Produce request after 300 records")
	// The broker marks its meter once the response is written, which the
	// producer may read a moment before.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		after, err := metric()
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, after-before, sent, "the brokers' Produce requests across the test, against the producer's")
		}
	}, testTimeout, 100*time.Millisecond, "the brokers' Produce request meter did not grow by the %d requests the producer sent", sent)
}

// runBrokerScript runs script (kafka/broker.sh) with args for at most limit
// and returns its stdout; its error carries the script's stderr, and says
// so when the limit ended it. The script is then killed, and what it
// started left to bounds of its own: broker.sh gives each Maven run of a
// fetch KAFKA_FETCH_TIMEOUT, and a node's start KAFKA_START_TIMEOUT. (A
// process group of its own would let the limit kill those too, but would
// also keep them from the Ctrl-C, or the CI step's signal, that ends the
// test.)
func runBrokerScript(script string, limit time.Duration, args ...string) (string, error) {
	return runBrokerScriptWith(nil, script, limit, args...)
}

// runBrokerScriptWith is runBrokerScript with env's variables set in the
// script's environment, over the test's own.
func runBrokerScriptWith(env []string, script string, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...) // the last of a name wins
	}
	// A child that outlives the script and holds its stdout or stderr
	// open (mvn, while it fetches) must not hold up Wait: what the script
	// wrote before it was killed is in the pipes by then.
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w, killed as it was not done within %v", err, limit)
		}
		return "", fmt.Errorf("%s %s: %w: %s", filepath.Base(script), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// TestBrokerScriptRunIsBounded has a script that hangs killed at its limit
// and named in the error, though a child of its holds its stdout open.
func TestBrokerScriptRunIsBounded(t *testing.T) {
	dir := t.TempDir()
	script, pidFile := filepath.Join(dir, "broker.sh"), filepath.Join(dir, "child.pid")
	// The child holds the script's stdout, as mvn under broker.sh would.
	body := "#!/bin/sh\nsleep 600 &\necho $! >" + pidFile + "\necho fetching >&2\nwait\n"
	require.NoError(t, os.WriteFile(script, []byte(body), 0o755))
	t.Cleanup(func() {
		// The child outlives the script, as runBrokerScript's comment says.
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if child, err := os.FindProcess(pid); err == nil {
					_ = child.Kill()
				}
			}
		}
	})
	const limit = 3 * time.Second
	_, err := runBrokerScript(script, limit, "classpath")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broker.sh classpath: ")
	assert.Contains(t, err.Error(), "not done within 3s")
	assert.Contains(t, err.Error(), "fetching")
}

// TestBrokerScriptRefusesReleasesBeforeKRaft has broker.sh start refuse
// the releases it cannot run without ZooKeeper, saying so, before it
// fetches anything or makes any state: they failed in a node's log, after
// a fetch. The releases it takes are started by CI (4.3.1 and 3.9.1).
func TestBrokerScriptRefusesReleasesBeforeKRaft(t *testing.T) {
	for _, version := range []string{"2.8.2", "3.0.0", "3.2.3"} {
		t.Run(version, func(t *testing.T) {
			dir := t.TempDir()
			cache, state := filepath.Join(dir, "cache"), filepath.Join(dir, "state")
			// A start that does not refuse fetches: the short fetch limit
			// ends that soon, and the test fails saying what it made.
			env := []string{"KAFKA_VERSION=" + version, "KAFKA_CACHE_DIR=" + cache,
				"KAFKA_STATE_DIR=" + state, "KAFKA_FETCH_TIMEOUT=5"}
			_, err := runBrokerScriptWith(env, filepath.Join("kafka", "broker.sh"), time.Minute, "start")
			exit := (*exec.ExitError)(nil)
			require.ErrorAs(t, err, &exit, "broker.sh start of Kafka %s", version)
			assert.Equal(t, 1, exit.ExitCode())
			assert.ErrorContains(t, err, "KAFKA_VERSION="+version+": broker.sh runs Kafka without ZooKeeper (KRaft), which needs 3.3 or later")
			assert.NoDirExists(t, cache, "fetched Kafka %s before refusing it", version)
			assert.NoDirExists(t, state, "made state for Kafka %s before refusing it", version)
		})
	}
}

// TestParseNodesReadsBrokerShNodes reads broker.sh nodes' lines, the pid
// of a running broker among them: freezing and thawing a broker need it.
func TestParseNodesReadsBrokerShNodes(t *testing.T) {
	nodes, err := parseNodes("1 20001 4242 running\n2 20002 - stopped\n")
	require.NoError(t, err)
	assert.Equal(t, []brokerNode{{id: 1, port: 20001, pid: 4242, running: true}, {id: 2, port: 20002}}, nodes)
	_, err = parseNodes("1 20001 - running\n")
	assert.Error(t, err, "a running broker without a pid")
}
