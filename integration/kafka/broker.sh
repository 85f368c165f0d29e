#!/usr/bin/env bash
# broker.sh runs one real Apache Kafka broker (KRaft, combined broker and
# controller) on 127.0.0.1 for the integration suite.
#
#   broker.sh start    fetch Kafka from Maven Central (once), format storage,
#                      start the broker, wait until it serves, then print
#                      exactly one line on stdout: KAFKA_BROKERS=127.0.0.1:PORT
#   broker.sh start --security ssl|sasl_plaintext|sasl_ssl
#                      the same with TLS and/or SASL on the client listener,
#                      printing KAFKA_CA=... and more after KAFKA_BROKERS;
#                      users, passwords and certificates: see security.sh
#   broker.sh stop     stop the broker (TERM, then KILL) and remove its state
#   broker.sh status   print KAFKA_BROKERS=... and exit 0 if it runs, else exit 1
#   broker.sh logs     print the broker log
#
# Only java (17+) and mvn are needed. Everything except the KAFKA_BROKERS line
# goes to stderr, so `eval "$(broker.sh start)"` or `$(broker.sh start)` works.
#
# Environment:
#   KAFKA_VERSION      Kafka release from Maven Central (default below)
#   KAFKA_CACHE_DIR    where the jars live (default ~/.cache/gokafka/kafka-VERSION)
#   KAFKA_STATE_DIR    config, data, log and pid (default ${TMPDIR:-/tmp}/gokafka-broker)
#   KAFKA_HEAP         JVM heap flags (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT seconds to wait for the broker to serve (default 120)
set -euo pipefail

# 4.3.1 is the newest 4.x whose artifacts are all on Maven Central: 4.4.0's
# kafka_2.13 is there but its dependency kafka-tools-api 4.4.0 is not.
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
SCALA_VERSION=2.13
CACHE_DIR=${KAFKA_CACHE_DIR:-${HOME:?}/.cache/gokafka/kafka-$KAFKA_VERSION}
STATE_DIR=${KAFKA_STATE_DIR:-${TMPDIR:-/tmp}/gokafka-broker}
HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=30
JAVA=${JAVA:-java}
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" && "$JAVA" == java ]]; then
	JAVA=$JAVA_HOME/bin/java
fi

PID_FILE=$STATE_DIR/broker.pid
LOG_FILE=$STATE_DIR/broker.log
ADDR_FILE=$STATE_DIR/broker.addr

# Keep the real stdout on fd 3 for the one result line; everything else,
# including the output of every tool we run, goes to stderr.
exec 3>&1 1>&2

log() { printf 'broker.sh: %s\n' "$*"; }
die() {
	log "error: $*"
	exit 1
}

# shellcheck source=security.sh
. "$(dirname "${BASH_SOURCE[0]}")/security.sh"

# alive PID: the process exists and, where /proc tells us, is a Kafka broker
# (so a recycled PID is not mistaken for ours).
alive() {
	local pid=$1
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/cmdline ]]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
	fi
}

running_pid() {
	local pid
	[[ -f "$PID_FILE" ]] || return 1
	pid=$(<"$PID_FILE")
	alive "$pid" || return 1
	printf '%s' "$pid"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	timeout 2 bash -c "exec 9<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# free_port: a port with no listener, below the Linux ephemeral range so an
# outgoing connection does not take it meanwhile. If it is taken before the
# broker binds, start retries with new ports.
free_port() {
	local port tries=0
	while ((tries++ < 200)); do
		port=$((20000 + RANDOM % 12000))
		if ! port_open "$port"; then
			printf '%s' "$port"
			return 0
		fi
	done
	die "no free port found in 200 tries"
}

log_tail() {
	if [[ -f "$LOG_FILE" ]]; then
		log "last lines of $LOG_FILE:"
		tail -n "${1:-60}" "$LOG_FILE"
	fi
}

# mvnq runs Maven quietly and without the colour codes it prints even in
# batch mode.
mvnq() {
	mvn -q -B -Dstyle.color=never "$@" </dev/null 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
}

# fetch_failed removes fetch's partial download (work, in fetch's scope) and exits.
fetch_failed() {
	rm -rf "$work"
	die "$@"
}

# fetch downloads kafka_2.13 and its runtime dependencies into CACHE_DIR/lib
# once; a stamp file marks a complete download so an interrupted one is redone.
fetch() {
	local stamp=$CACHE_DIR/.complete work log4j
	[[ -f "$stamp" ]] && return 0
	command -v mvn >/dev/null || die "mvn not found on PATH"
	log "fetching org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION into $CACHE_DIR"
	mkdir -p "$(dirname "$CACHE_DIR")"
	work=$(mktemp -d "$CACHE_DIR.tmp.XXXXXX")
	cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gokafka</groupId>
  <artifactId>kafka-broker-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
	if ! mvnq -f "$work/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$work/lib"; then
		fetch_failed "mvn could not fetch Kafka $KAFKA_VERSION"
	fi
	# The kafka_2.13 artifact brings slf4j-api and log4j-core but not the
	# binding between them (the release tarball adds it), so without it the
	# broker logs nothing. Fetch the binding that matches log4j-core.
	log4j=$(cd "$work/lib" && ls log4j-core-*.jar 2>/dev/null | sed -n 's/^log4j-core-\(.*\)\.jar$/\1/p')
	if [[ -z "$log4j" ]] || ! ls "$work"/lib/kafka_"$SCALA_VERSION"-*.jar >/dev/null 2>&1; then
		fetch_failed "mvn finished but the download lacks kafka_$SCALA_VERSION or log4j-core"
	fi
	if ! mvnq -f "$work/pom.xml" dependency:copy \
		-Dartifact="org.apache.logging.log4j:log4j-slf4j-impl:$log4j" -DoutputDirectory="$work/lib"; then
		fetch_failed "mvn could not fetch log4j-slf4j-impl $log4j"
	fi
	touch "$work/.complete"
	# Another start may have finished the same download meanwhile; keep theirs.
	if [[ -f "$stamp" ]]; then
		rm -rf "$work"
	else
		rm -rf "$CACHE_DIR"
		mv "$work" "$CACHE_DIR"
	fi
	log "fetched $(ls "$CACHE_DIR/lib" | wc -l) jars ($(du -sh "$CACHE_DIR/lib" | cut -f1))"
}

# cluster_id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid).
cluster_id() {
	head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

write_config() {
	local port=$1 cport=$2
	cat >"$STATE_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$STATE_DIR/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
	cat >"$STATE_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
	security_config "$port" "$cport"
}

java_opts() {
	# shellcheck disable=SC2086 # HEAP is a list of flags
	printf '%s\n' $HEAP -XX:+UseG1GC -Djava.awt.headless=true \
		"-Dlog4j2.configurationFile=$STATE_DIR/log4j2.properties" \
		"-Dkafka.logs.dir=$STATE_DIR"
}

# launch formats fresh storage and starts the broker on the given ports. It
# returns 0 once the broker serves, 2 if a port was taken (worth a retry),
# 1 on any other failure.
launch() {
	local port=$1 cport=$2 pid deadline opts
	rm -rf "$STATE_DIR"
	mkdir -p "$STATE_DIR/data"
	write_config "$port" "$cport"
	mapfile -t opts < <(java_opts)

	"$JAVA" "${opts[@]}" -cp "$CACHE_DIR/lib/*" kafka.tools.StorageTool format \
		--config "$STATE_DIR/server.properties" --cluster-id "$(cluster_id)" \
		--ignore-formatted "${SECURITY_FORMAT_ARGS[@]}" >"$STATE_DIR/format.log" 2>&1 </dev/null || {
		cat "$STATE_DIR/format.log"
		log "formatting storage failed"
		return 1
	}

	# 3>&-: the broker must not hold our stdout, or $(broker.sh start)
	# would wait for it to exit.
	nohup "$JAVA" "${opts[@]}" -cp "$CACHE_DIR/lib/*" kafka.Kafka \
		"$STATE_DIR/server.properties" >"$LOG_FILE" 2>&1 </dev/null 3>&- &
	pid=$!
	echo "$pid" >"$PID_FILE"

	deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		# kill -0 rather than alive: until nohup execs java, the child's
		# command line is still this script's.
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$PID_FILE"
			grep -q 'Address already in use' "$LOG_FILE" && return 2
			log_tail
			log "broker exited during startup"
			return 1
		fi
		if grep -q 'Kafka Server started' "$LOG_FILE" && port_open "$port"; then
			echo "127.0.0.1:$port" >"$ADDR_FILE"
			return 0
		fi
		sleep 0.5
	done
	log_tail
	log "broker did not serve on 127.0.0.1:$port within ${START_TIMEOUT}s"
	stop_pid "$pid"
	return 1
}

stop_pid() {
	local pid=$1 deadline
	kill -TERM "$pid" 2>/dev/null || return 0
	deadline=$((SECONDS + STOP_TIMEOUT))
	while alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if alive "$pid"; then
		log "broker $pid ignored TERM for ${STOP_TIMEOUT}s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

cmd_start() {
	local pid attempt rc started port cport
	if pid=$(running_pid) && [[ -f "$ADDR_FILE" ]] && port_open "$(cut -d: -f2 "$ADDR_FILE")"; then
		security_running_matches || die "the broker running in $STATE_DIR has other security settings; stop it first"
		log "broker already running (pid $pid)"
		printf 'KAFKA_BROKERS=%s\n' "$(<"$ADDR_FILE")" >&3
		security_print >&3
		return 0
	fi
	if pid=$(running_pid); then
		log "a broker (pid $pid) runs but does not serve; restarting it"
		stop_pid "$pid"
	fi
	command -v "$JAVA" >/dev/null || die "java not found (set JAVA or JAVA_HOME)"
	fetch
	started=$SECONDS
	for attempt in 1 2 3; do
		port=$(free_port)
		cport=$(free_port)
		while [[ "$cport" == "$port" ]]; do cport=$(free_port); done
		rc=0
		launch "$port" "$cport" || rc=$?
		case $rc in
		0)
			log "broker $(<"$PID_FILE") serves on $(<"$ADDR_FILE") after $((SECONDS - started))s (log: $LOG_FILE)"
			printf 'KAFKA_BROKERS=%s\n' "$(<"$ADDR_FILE")" >&3
			security_print >&3
			return 0
			;;
		2) log "port taken before the broker bound it (attempt $attempt); retrying with new ports" ;;
		*) exit 1 ;;
		esac
	done
	log_tail
	die "broker could not bind a port in 3 attempts"
}

cmd_stop() {
	local pid
	if pid=$(running_pid); then
		log "stopping broker $pid"
		stop_pid "$pid"
	else
		log "no broker running"
	fi
	rm -rf "$STATE_DIR"
}

cmd_status() {
	local pid
	if pid=$(running_pid) && [[ -f "$ADDR_FILE" ]]; then
		log "broker running (pid $pid)"
		printf 'KAFKA_BROKERS=%s\n' "$(<"$ADDR_FILE")" >&3
		security_print >&3
		return 0
	fi
	log "no broker running"
	return 1
}

cmd_logs() {
	[[ -f "$LOG_FILE" ]] || die "no log at $LOG_FILE"
	cat "$LOG_FILE" >&3
}

case "${1:-}" in
start)
	shift
	security_parse_args "$@"
	cmd_start
	;;
stop) cmd_stop ;;
status) cmd_status ;;
logs) cmd_logs ;;
*)
	echo "usage: $0 start|stop|status|logs"
	exit 2
	;;
esac
