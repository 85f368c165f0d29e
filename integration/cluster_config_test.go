package integration

// The two 3-broker clusters, broker.sh's and docker-compose.cluster.yml's,
// are held to one table of durability defaults: the compose file by reading
// it (no Docker needed, so `make test` checks it), and whichever cluster
// KAFKA_BROKERS names by asking its brokers.

import (
	"encoding/base64"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.yaml.in/yaml/v3"

	"github.com/gokafka/producer/integration/testbroker"
)

// clusterDefaults are the settings of a durable deployment that both
// clusters run with, on every node.
var clusterDefaults = map[string]string{
	"default.replication.factor":                       "3",
	"min.insync.replicas":                              "2",
	"unclean.leader.election.enable":                   "false",
	"offsets.topic.replication.factor":                 "3",
	"transaction.state.log.replication.factor":         "3",
	"transaction.state.log.min.isr":                    "2",
	"share.coordinator.state.topic.replication.factor": "3",
	"share.coordinator.state.topic.min.isr":            "2",
}

// sinceShareGroups are the clusterDefaults that came with share groups
// (KIP-932, Kafka 4.0). A 3.x broker, which broker.sh runs too, does not
// know them: it describes them, as set in its server.properties, but with
// no value, as it does every setting it cannot tell is not a secret.
var sinceShareGroups = []string{
	"share.coordinator.state.topic.replication.factor",
	"share.coordinator.state.topic.min.isr",
}

// produceV12 came with Kafka 4.0: a broker listing it has share groups.
const produceV12 = 12

// composeFile is the part of a compose file this test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string
		Ports       []string
		Environment map[string]string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck struct{ Test []string }
	}
}

// The compose cluster is laid out like broker.sh's: brokers 1-3 and a
// controller 0 that the brokers find, listeners that other containers and
// the host can reach, the durability defaults, and healthchecks.
func TestComposeCluster(t *testing.T) {
	path := filepath.Join("..", "docker-compose.cluster.yml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var f composeFile
	require.NoError(t, yaml.Unmarshal(raw, &f), "parsing %s", path)

	ctl, ok := f.Services["controller"]
	require.True(t, ok, "%s has no controller service", path)
	env := ctl.Environment
	assert.Equal(t, "0", env["KAFKA_NODE_ID"], "controller node id")
	assert.Equal(t, "controller", env["KAFKA_PROCESS_ROLES"], "controller roles")
	voters := "0@controller:" + listenerPort(t, env["KAFKA_LISTENERS"], "CONTROLLER")
	assert.Equal(t, voters, env["KAFKA_CONTROLLER_QUORUM_VOTERS"], "controller: the voter is the controller's service and listener")
	clusterID := env["CLUSTER_ID"]
	id, err := base64.RawURLEncoding.DecodeString(clusterID)
	assert.True(t, err == nil && len(id) == 16, "CLUSTER_ID %q is not a Kafka Uuid (16 bytes, URL-safe base64)", clusterID)
	assert.NotEmpty(t, ctl.Healthcheck.Test, "controller healthcheck")
	checkComposeDefaults(t, "controller", env)

	var hostAddrs []string
	for n := 1; n <= clusterBrokers; n++ {
		name := "broker-" + strconv.Itoa(n)
		svc, ok := f.Services[name]
		if !assert.True(t, ok, "%s has no service %s", path, name) {
			continue
		}
		env := svc.Environment
		assert.Equal(t, ctl.Image, svc.Image, "%s: image", name)
		assert.Equal(t, strconv.Itoa(n), env["KAFKA_NODE_ID"], "%s: node id", name)
		assert.Equal(t, "broker", env["KAFKA_PROCESS_ROLES"], "%s: roles", name)
		assert.Equal(t, voters, env["KAFKA_CONTROLLER_QUORUM_VOTERS"], "%s: quorum voters", name)
		assert.Equal(t, clusterID, env["CLUSTER_ID"], "%s: cluster id", name)
		assert.Equal(t, "service_healthy", svc.DependsOn["controller"].Condition, "%s: waits for the controller", name)
		checkComposeDefaults(t, name, env)

		protocols := map[string]bool{}
		for pair := range strings.SplitSeq(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ",") {
			protocols[strings.Split(pair, ":")[0]] = true
		}
		for l := range strings.SplitSeq(env["KAFKA_LISTENERS"], ",") {
			assert.True(t, protocols[strings.Split(l, ":")[0]], "%s: listener %s has no security protocol", name, l)
		}
		internal := env["KAFKA_INTER_BROKER_LISTENER_NAME"]
		advertised := map[string]string{} // listener name to host:port
		for l := range strings.SplitSeq(env["KAFKA_ADVERTISED_LISTENERS"], ",") {
			lname, addr, _ := strings.Cut(l, "://")
			advertised[lname] = addr
		}
		// Other containers, and the other brokers, reach it by service name.
		assert.Equal(t, name+":"+listenerPort(t, env["KAFKA_LISTENERS"], internal), advertised[internal],
			"%s: the inter-broker listener %s is advertised by service name", name, internal)
		assert.Contains(t, svc.Healthcheck.Test[len(svc.Healthcheck.Test)-1], advertised[internal], "%s: healthcheck", name)
		// The host reaches it on 127.0.0.1 through a published port.
		var host string
		for lname, addr := range advertised {
			if strings.HasPrefix(addr, "127.0.0.1:") {
				host = addr
				_, port, _ := net.SplitHostPort(addr)
				assert.Contains(t, svc.Ports, "127.0.0.1:"+port+":"+listenerPort(t, env["KAFKA_LISTENERS"], lname),
					"%s: advertised %s is published from listener %s", name, addr, lname)
			}
		}
		assert.NotEmpty(t, host, "%s: no listener is advertised on 127.0.0.1 for the host", name)
		hostAddrs = append(hostAddrs, host)
	}
	usage := "KAFKA_BROKERS=" + strings.Join(hostAddrs, ",")
	assert.True(t, strings.Contains(string(raw), usage), "%s: its usage does not say %s", path, usage)
}

// listenerPort is the port of listener name in a listeners setting
// ("NAME://host:port,...").
func listenerPort(t *testing.T, listeners, name string) string {
	t.Helper()
	for l := range strings.SplitSeq(listeners, ",") {
		if lname, addr, ok := strings.Cut(l, "://"); ok && lname == name {
			_, port, err := net.SplitHostPort(addr)
			require.NoError(t, err, "listener %s", l)
			return port
		}
	}
	t.Fatalf("no listener %s in %q", name, listeners)
	return ""
}

func checkComposeDefaults(t *testing.T, service string, env map[string]string) {
	t.Helper()
	for k, v := range clusterDefaults {
		name := "KAFKA_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		assert.Equal(t, v, env[name], "%s: %s (%s)", service, name, k)
	}
}

// The cluster of KAFKA_BROKERS, when it has three brokers (broker.sh's, or
// the compose file's), runs with the durability defaults on every broker,
// and a topic created with the broker's default replication factor gets
// three replicas in sync.
func TestClusterDurabilityDefaults(t *testing.T) {
	seeds := testbroker.EnvBrokers()
	if len(seeds) != clusterBrokers {
		t.Skipf("KAFKA_BROKERS lists %d broker(s), not %d", len(seeds), clusterBrokers)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()

	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t), cl)
	require.NoError(t, err)
	require.Len(t, meta.Brokers, clusterBrokers, "brokers in metadata")
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, b := range meta.Brokers {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeBroker
		r.ResourceName = strconv.Itoa(int(b.NodeID))
		for k := range clusterDefaults {
			r.ConfigNames = append(r.ConfigNames, k)
		}
		req.Resources = append(req.Resources, r)
	}
	resp, err := req.RequestWith(testCtx(t), cl)
	require.NoError(t, err)
	shareGroups := brokerProduceRange(t, seeds).Max >= produceV12
	for _, r := range resp.Resources {
		require.NoError(t, kerr.ErrorForCode(r.ErrorCode), "describing broker %s", r.ResourceName)
		got := map[string]string{}
		for _, c := range r.Configs {
			if c.Value != nil {
				got[c.Name] = *c.Value
			}
		}
		want := maps.Clone(clusterDefaults)
		if !shareGroups {
			for _, k := range sinceShareGroups {
				delete(want, k)
			}
		}
		assert.Equal(t, want, got, "broker %s", r.ResourceName)
	}

	var ids []int32
	for _, b := range meta.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	topic := newTopic(t, seeds, 1)
	(&kafkaCluster{seeds: seeds, ids: ids}).awaitFullISR(t, topic)
}
