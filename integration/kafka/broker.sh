#!/usr/bin/env bash
# broker.sh runs a real Apache Kafka (KRaft) on 127.0.0.1 for the integration
# suite: by default one node, combined broker and controller; with --nodes N a
# cluster of N brokers beside one controller of its own.
#
#   broker.sh start [--nodes N]  fetch Kafka from Maven Central (once), format
#                      storage, start the nodes, wait until every broker
#                      serves, then print exactly one line on stdout:
#                      KAFKA_BROKERS=127.0.0.1:P1[,127.0.0.1:P2,...]
#                      N is 1 (the default) or 3 to 9. A cluster that already
#                      runs complete in KAFKA_STATE_DIR is reused; anything
#                      else there is stopped and replaced.
#   broker.sh start --security ssl|sasl_plaintext|sasl_ssl
#                      one node with TLS and/or SASL on the client listener,
#                      printing KAFKA_CA=... and more after KAFKA_BROKERS;
#                      users, passwords and certificates: see security.sh
#   broker.sh stop     stop everything (TERM, then KILL) and remove the state
#   broker.sh status   print KAFKA_BROKERS=... and exit 0 if every node runs,
#                      else name what is down and exit 1
#   broker.sh nodes    one line per broker: ID PORT PID STATE, where STATE is
#                      running or stopped (PID is - when stopped)
#   broker.sh kill ID        SIGKILL broker ID: no clean shutdown
#   broker.sh stop-node ID   clean shutdown of broker ID: SIGTERM, then wait
#                            for it to exit (it hands its leaderships over)
#   broker.sh start-node ID  start broker ID again, on its port and with its
#                            data; return once it serves
#   broker.sh logs [ID]      print the log of broker ID (or "controller"),
#                            or every node's log, each after a header line
#   broker.sh tools-classpath  fetch kafka-tools (once) and print the
#                            classpath of Kafka's tools on stdout, for
#                            org.apache.kafka.tools.ProducerPerformance
#   broker.sh classpath [--cached]
#                            fetch Kafka (once, as start does) and print the
#                            classpath of its jars on stdout: kafka-clients
#                            and the codecs it reads batches with (lz4-java,
#                            zstd-jni, snappy-java) among them. With
#                            --cached it fetches nothing, and exits 3 if
#                            the jars are not there yet
#   broker.sh metric MBEAN ATTRIBUTE
#                            print on stdout the sum of the count ATTRIBUTE
#                            (an integer, such as a meter's Count) over every
#                            broker's MBeans that MBEAN (a JMX object name,
#                            patterns allowed) matches, read with Kafka's
#                            JmxTool; 0 if none matches yet. The brokers
#                            must have started with KAFKA_JMX set. E.g. the
#                            Produce requests served, all versions:
#                            metric 'kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Produce,*' Count
#
# Broker IDs are Kafka's node ids (1..N), so a test can kill the leader that
# metadata names. Only java (17+) and mvn are needed. Everything except the
# KAFKA_BROKERS line and the output of nodes and logs goes to stderr, so
# `export "$(broker.sh start)"` works.
#
# The cluster is N brokers and one separate controller (node id 0), not N
# combined broker+controller nodes. The failure tests take brokers down, two
# at once for min.insync.replicas; with combined nodes that would also take
# two of three voters of the metadata quorum down, and without an active
# controller nothing moves: no leader is elected, no ISR shrinks, so the
# producer would see timeouts, never NOT_ENOUGH_REPLICAS, and a killed leader
# would never be replaced. A separate controller keeps metadata alive through
# any broker failure, so each test exercises the broker failure it names and
# nothing else. Clients never talk to a KRaft controller, so its own failures
# are none of the producer's business (and production clusters separate the
# roles too).
#
# A cluster's defaults are those of a durable deployment, so that acks=all
# means what it means in production: default.replication.factor=3,
# min.insync.replicas=2, every internal topic replicated 3 times (min ISR 2),
# unclean.leader.election.enable=false. The controller has them too: in KRaft
# it creates topics and elects leaders. The single node keeps replication
# factor 1.
#
# Sizing, for three brokers, the controller and a race-enabled test run on 2
# cores and 24 GiB: heaps stay small (Kafka's own default is 1 GiB each), and
# the JVMs are kept from competing for the two cores (SerialGC: a few-ms
# pause on these small heaps beats G1's concurrent threads on a shared CPU;
# TieredStopAtLevel=1: the C1 compiler alone starts faster and costs less
# CPU, and these brokers never run long enough to repay C2). Measured on a
# 2-core machine shared with other builds (Kafka 4.3.1, JDK 17;
# `/usr/bin/time broker.sh ...`, `ps -o rss` of each node):
#   start --nodes 3, clean state, jars cached: 5.0-5.8 s (one node: 3 s);
#     with G1 and C2 instead, 7-13 s and twice the CPU
#   kill 0.03 s, stop-node 0.4 s, stop 0.8 s
#   start-node, after kill or stop-node: 9.6 s. The controller refuses a
#     broker's new incarnation until the old one's session has expired
#     (broker.session.timeout.ms, 9 s), even after a clean shutdown.
#   memory (RSS): after start, 315 MB per broker and 130 MB for the
#     controller (1.1 GB); at most 655 MB per broker and 170 MB for the
#     controller (1.5-2.1 GB together) during `make test-kafka`, whose
#     race-enabled test process peaks at 825 MB
#   CPU when idle: 4% of one core for the four JVMs together
#
# Environment:
#   KAFKA_VERSION      Kafka release from Maven Central (default below): a
#                      4.x, or a 3.x from 3.3 on (3.3.2, 3.6.2 and 3.9.1
#                      tried; start refuses older ones); metric (its
#                      JmxTool) and --security with SASL (the storage
#                      tool's --add-scram) need 3.5 on
#   KAFKA_CACHE_DIR    where the jars live (default ~/.cache/gokafka/kafka-VERSION)
#   KAFKA_STATE_DIR    config, data, logs and pids (default ${TMPDIR:-/tmp}/gokafka-broker)
#   KAFKA_HEAP         heap flags of a broker (default -Xms256m -Xmx512m)
#   KAFKA_CONTROLLER_HEAP  heap flags of the cluster's controller (default -Xms64m -Xmx256m)
#   KAFKA_JVM_FLAGS    other JVM flags of every node (default below)
#   KAFKA_START_TIMEOUT seconds to wait for a node to serve (default 120)
#   KAFKA_FETCH_TIMEOUT seconds each Maven run of a fetch may take (default 300)
#   KAFKA_STOP_TIMEOUT  seconds stop-node waits for a clean exit (default 120)
#   KAFKA_JMX          set (to anything) at start: each broker serves JMX on
#                      127.0.0.1 for broker.sh metric, after start-node too
set -euo pipefail

# 4.3.1 is the newest 4.x whose artifacts are all on Maven Central: 4.4.0's
# kafka_2.13 is there but its dependency kafka-tools-api 4.4.0 is not.
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
# legacy_log4j: KAFKA_VERSION is a 3.x, which logs through log4j 1's API
# (reload4j in its tarball) where 4.0 moved to log4j 2 (KIP-653): the jars
# fetched, the configuration written and the flag naming it differ. 3.x is
# run so that the suite can be run against the releases clusters still
# run; it starts in KRaft mode as 4.x does (3.3, the first release whose
# KRaft is ready for production, and later).
legacy_log4j() { [[ $KAFKA_VERSION == 3.* ]]; }
# kraft_ready: KAFKA_VERSION runs without ZooKeeper, as every node here
# does: 3.3 on (KIP-833). 3.0 to 3.2 ran KRaft as early access, which the
# suite was never run on, and older releases need a ZooKeeper that
# broker.sh does not run; either way start would fail far from the cause,
# in a node's log. A name that is not MAJOR.MINOR... is left to the fetch.
kraft_ready() {
	local major minor
	IFS=. read -r major minor _ <<<"$KAFKA_VERSION"
	[[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 0
	((10#$major > 3 || (10#$major == 3 && 10#$minor >= 3))) # 10#: 3.08 is no octal
}
SCALA_VERSION=2.13
CACHE_DIR=${KAFKA_CACHE_DIR:-${HOME:?}/.cache/gokafka/kafka-$KAFKA_VERSION}
STATE_DIR=${KAFKA_STATE_DIR:-${TMPDIR:-/tmp}/gokafka-broker}
HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
CONTROLLER_HEAP=${KAFKA_CONTROLLER_HEAP:--Xms64m -Xmx256m}
JVM_FLAGS=${KAFKA_JVM_FLAGS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
FETCH_TIMEOUT=${KAFKA_FETCH_TIMEOUT:-300}
NODE_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-120}
STOP_TIMEOUT=30 # for stop, which removes the state anyway
CONTROLLER=0    # the cluster controller's node id
JAVA=${JAVA:-java}
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" && "$JAVA" == java ]]; then
	JAVA=$JAVA_HOME/bin/java
fi

# Keep the real stdout on fd 3 for the one result line; everything else,
# including the output of every tool we run, goes to stderr.
exec 3>&1 1>&2

log() { printf 'broker.sh: %s\n' "$*"; }
die() {
	log "error: $*"
	exit 1
}

# since T: the seconds from EPOCHREALTIME T to now, to a tenth.
since() { awk -v t="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", now - t }'; }

# The functions of a node (nodes.sh) and the download of Kafka (fetch.sh).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=nodes.sh
source "$here/nodes.sh"
# shellcheck source=fetch.sh
source "$here/fetch.sh"
# shellcheck source=security.sh
source "$here/security.sh"

# --- commands --------------------------------------------------------------------

cmd_start() {
	local n=1 attempt rc started ports id secargs=()
	while (($#)); do
		case $1 in
		--security)
			secargs+=("$1" "${2:-}")
			shift 2 || die "--security needs a mode: ssl, sasl_plaintext or sasl_ssl"
			;;
		--security=*)
			secargs+=("$1")
			shift
			;;
		--nodes)
			n=${2:-}
			shift 2 || die "--nodes needs a number"
			;;
		--nodes=*)
			n=${1#--nodes=}
			shift
			;;
		*) die "start: unknown option '$1' (usage: start [--nodes N] [--security MODE])" ;;
		esac
	done
	kraft_ready || die "KAFKA_VERSION=$KAFKA_VERSION: broker.sh runs Kafka without ZooKeeper (KRaft), which needs 3.3 or later"
	if ! [[ "$n" =~ ^[1-9]$ ]] || ((n == 2)); then
		die "--nodes $n: want 1, or 3 to 9 (a cluster needs 3 brokers for replication factor 3)"
	fi
	security_parse_args "${secargs[@]}"
	[[ -z $SECURITY ]] || ((n == 1)) || die "--security: a single node only, not --nodes $n"

	if (($(brokers) > 0)); then
		if (($(brokers) == n)) && all_serving; then
			security_running_matches || die "the broker running in $STATE_DIR has other security settings; stop it first"
			[[ -z ${KAFKA_JMX:-} || -f $JMX_FILE ]] || die "the broker running in $STATE_DIR serves no JMX; stop it first"
			log "already running: $(brokers) broker(s) in $STATE_DIR"
			brokers_line >&3
			security_print >&3
			return 0
		fi
		if any_running; then
			(($(brokers) == n)) ||
				die "$(brokers) broker(s) run in $STATE_DIR; stop them first (broker.sh stop) or use another KAFKA_STATE_DIR"
			log "some nodes in $STATE_DIR are down; replacing them all with a fresh start"
			stop_all
		fi
	fi
	command -v "$JAVA" >/dev/null || die "java not found (set JAVA or JAVA_HOME)"
	fetch
	started=$EPOCHREALTIME
	for attempt in 1 2 3; do
		ports=()
		for id in $(seq 0 "$n"); do # one more port than brokers: the controller's
			ports+=("$(free_port "${ports[@]}")")
		done
		rc=0
		launch "$n" "${ports[@]}" || rc=$?
		case $rc in
		0)
			log "$n broker(s) serve after $(since "$started") (state and logs: $STATE_DIR)"
			brokers_line >&3
			security_print >&3
			return 0
			;;
		2)
			log "a port was taken before a node bound it (attempt $attempt); retrying with new ports"
			stop_all
			;;
		*)
			stop_all
			exit 1
			;;
		esac
	done
	die "could not bind free ports in 3 attempts"
}

all_serving() {
	local id
	for id in $(node_ids); do
		serving "$id" || return 1
	done
}

any_running() {
	local id
	for id in $(node_ids); do
		node_pid "$id" >/dev/null && return 0
	done
	return 1
}

cmd_stop() {
	if any_running; then
		log "stopping $(brokers) broker(s) in $STATE_DIR"
		stop_all
	else
		log "nothing running in $STATE_DIR"
	fi
	rm -rf "$STATE_DIR"
}

cmd_status() {
	local id down=()
	(($(brokers) > 0)) || {
		log "no broker state in $STATE_DIR"
		return 1
	}
	for id in $(node_ids); do
		serving "$id" || down+=("$(node_name "$id")")
	done
	if ((${#down[@]})); then
		log "not serving: ${down[*]}"
		return 1
	fi
	log "$(brokers) broker(s) running"
	brokers_line >&3
	security_print >&3
}

cmd_nodes() {
	local id pid
	(($(brokers) > 0)) || die "no broker state in $STATE_DIR (broker.sh start first)"
	for id in $(seq 1 "$(brokers)"); do
		if pid=$(node_pid "$id"); then
			echo "$id $(node_port "$id") $pid running" >&3
		else
			echo "$id $(node_port "$id") - stopped" >&3
		fi
	done
}

cmd_kill() {
	local pid
	broker_id "${1:-}"
	pid=$(node_pid "$1") || die "broker $1 is not running"
	kill -KILL "$pid"
	wait_gone "$pid" "$1"
	log "killed broker $1 (pid $pid)"
}

cmd_stop_node() {
	local pid started=$EPOCHREALTIME
	broker_id "${1:-}"
	pid=$(node_pid "$1") || die "broker $1 is not running"
	stop_nodes "$NODE_STOP_TIMEOUT" "$1" || die "broker $1 did not stop cleanly within ${NODE_STOP_TIMEOUT}s and was killed"
	log "stopped broker $1 (pid $pid) in $(since "$started")"
}

cmd_start_node() {
	local rc=0 started=$EPOCHREALTIME
	broker_id "${1:-}"
	if clustered && ! serving "$CONTROLLER"; then
		die "the controller is not running; start the cluster again (broker.sh stop; broker.sh start --nodes $(brokers))"
	fi
	if serving "$1"; then
		log "broker $1 already serves on 127.0.0.1:$(node_port "$1")"
		return 0
	fi
	node_pid "$1" >/dev/null && die "broker $1 runs but does not serve; stop-node or kill it first"
	spawn "$1"
	await "$1" || rc=$?
	case $rc in
	0) log "broker $1 serves on 127.0.0.1:$(node_port "$1") after $(since "$started")" ;;
	2) die "port $(node_port "$1") of broker $1 is taken by another process" ;;
	*) exit 1 ;;
	esac
}

cmd_logs() {
	local id f
	(($(brokers) > 0)) || die "no broker state in $STATE_DIR"
	if [[ -n "${1:-}" ]]; then
		if [[ $1 == controller ]] && clustered; then
			id=$CONTROLLER
		else
			broker_id "$1"
			id=$1
		fi
		f=$(node_dir "$id")/node.log
		[[ -f "$f" ]] || die "no log at $f"
		cat "$f" >&3
		return 0
	fi
	for id in $(node_ids); do
		f=$(node_dir "$id")/node.log
		[[ -f "$f" ]] || continue
		if clustered; then
			printf '==> %s (%s) <==\n' "$(node_name "$id")" "$f" >&3
		fi
		cat "$f" >&3
	done
}

cmd_classpath() {
	case ${1:-} in
	"") fetch ;;
	--cached)
		if [[ ! -f $CACHE_DIR/.complete ]]; then
			log "Kafka $KAFKA_VERSION is not fetched into $CACHE_DIR (broker.sh start or classpath fetches it)"
			exit 3
		fi
		;;
	*) die "usage: classpath [--cached]" ;;
	esac
	echo "$CACHE_DIR/lib/*" >&3
}

cmd_tools_classpath() {
	fetch_tools
	echo "$TOOLS_DIR/lib/*" >&3
}

# cmd_metric MBEAN ATTRIBUTE: the sum of ATTRIBUTE over the brokers' MBeans
# that MBEAN matches. JmxTool prints one "NAME:ATTRIBUTE,VALUE" line per
# match in its csv format (and a time line); a JVM per broker, about 0.4 s.
cmd_metric() {
	local mbean=${1:-} attr=${2:-} id port out sum=0 value
	[[ -n $mbean && -n $attr ]] || die "usage: metric MBEAN ATTRIBUTE"
	(($(brokers) > 0)) || die "no broker state in $STATE_DIR (broker.sh start first)"
	fetch_tools
	for id in $(seq 1 "$(brokers)"); do
		port=$(cat "$(node_dir "$id")/node.jmx" 2>/dev/null) ||
			die "broker $id serves no JMX: start it with KAFKA_JMX=1"
		out=$("$JAVA" -XX:TieredStopAtLevel=1 -cp "$TOOLS_DIR/lib/*" org.apache.kafka.tools.JmxTool \
			--jmx-url "service:jmx:rmi:///jndi/rmi://127.0.0.1:$port/jmxrmi" \
			--object-name "$mbean" --attributes "$attr" --one-time true --report-format csv 2>&1) || {
			# A meter appears with its first event: none yet counts 0.
			[[ $out == *"No matched attributes"* ]] && continue
			printf '%s\n' "$out"
			die "reading $mbean $attr from broker $id (JMX port $port) failed"
		}
		while IFS= read -r value; do
			[[ $value =~ ^[0-9]+$ ]] || die "broker $id: $mbean $attr is '$value', not a count"
			sum=$((sum + value))
		done < <(printf '%s\n' "$out" | sed -n "s/^.*:$attr,\"\\(.*\\)\"\$/\\1/p")
	done
	echo "$sum" >&3
}

cmd=${1:-}
(($#)) && shift
case "$cmd" in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
nodes) cmd_nodes ;;
kill) cmd_kill "$@" ;;
stop-node) cmd_stop_node "$@" ;;
start-node) cmd_start_node "$@" ;;
logs) cmd_logs "$@" ;;
tools-classpath) cmd_tools_classpath ;;
classpath) cmd_classpath "$@" ;;
metric) cmd_metric "$@" ;;
*)
	echo "usage: $0 start [--nodes N] [--security MODE] | stop | status | nodes | kill ID | stop-node ID | start-node ID | logs [ID] | classpath [--cached] | tools-classpath | metric MBEAN ATTRIBUTE"
	exit 2
	;;
esac
