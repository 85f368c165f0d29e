# shellcheck shell=bash
# nodes.sh, sourced by broker.sh, is what a node is: its directory in
# STATE_DIR, its configuration, its JVM process; and how a fresh single node
# or cluster is laid out and launched. It uses broker.sh's settings and its
# log and die.

# The state: SHAPE_FILE holds the number of brokers; each node has a
# directory with its server.properties, data/, node.log, node.pid and
# node.port (the port it serves clients on; the controller's quorum port).
# JMX_FILE exists when the brokers serve JMX (KAFKA_JMX at start), each on
# the port in its node.jmx.
SHAPE_FILE=$STATE_DIR/nodes
JMX_FILE=$STATE_DIR/jmx

# alive PID ID: the process exists and, where /proc tells us, is node ID's
# Kafka, run on its server.properties. Any Kafka would not do: a stale
# node.pid (left by a run killed before its cleanup, in a state dir that
# runs share by default) may name another state's node, which stop would
# then kill.
alive() {
	local pid=$1 cmdline
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/cmdline ]]; then
		cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline") || return 1
		[[ $cmdline == *" kafka.Kafka $(node_dir "$2")/server.properties " ]] || return 1
	fi
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	timeout 2 bash -c "exec 9<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# free_port TAKEN...: a port with no listener and not among TAKEN, below the
# Linux ephemeral range so an outgoing connection does not take it
# meanwhile. If it is taken before a node binds it, start retries with new
# ports.
free_port() {
	local port tries=0
	while ((tries++ < 200)); do
		port=$((20000 + RANDOM % 12000))
		if [[ " $* " != *" $port "* ]] && ! port_open "$port"; then
			printf '%s' "$port"
			return 0
		fi
	done
	die "no free port found in 200 tries"
}

# cluster_id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid).
# Like Kafka's Uuid.randomUuid, it never starts with '-': kafka-storage would
# read such an id as an option and fail, one start in 64.
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id != -* ]] && break
	done
	printf '%s\n' "$id"
}

# --- the state of the nodes ---------------------------------------------------

# brokers: how many brokers the state describes (0 if none).
brokers() {
	if [[ -f "$SHAPE_FILE" ]]; then cat "$SHAPE_FILE"; else echo 0; fi
}

# clustered: the state is a cluster, whose controller is a node of its own
# (a single node is broker and controller at once).
clustered() { (($(brokers) > 1)); }

node_dir() { printf '%s/node-%s' "$STATE_DIR" "$1"; }

# node_name ID: how messages name node ID.
node_name() {
	if clustered && [[ $1 == "$CONTROLLER" ]]; then echo controller; else echo "broker $1"; fi
}

# node_ids: every node of the state, the controller (if any) first, since it
# has to run before the brokers can register.
node_ids() {
	if clustered; then echo "$CONTROLLER"; fi
	seq 1 "$(brokers)"
}

# broker_id ID: ID names a broker of the state, or the command dies.
broker_id() {
	local id=${1:-} n
	n=$(brokers)
	((n > 0)) || die "no broker state in $STATE_DIR (broker.sh start first)"
	if ! [[ "$id" =~ ^[1-9][0-9]*$ ]] || ((id > n)); then
		die "no broker '$id': the brokers are 1 to $n"
	fi
}

node_pid() {
	local f pid
	f=$(node_dir "$1")/node.pid
	[[ -f "$f" ]] || return 1
	pid=$(<"$f")
	alive "$pid" "$1" || return 1
	printf '%s' "$pid"
}

node_port() { cat "$(node_dir "$1")/node.port"; }

# serving ID: node ID runs and accepts connections.
serving() { node_pid "$1" >/dev/null && port_open "$(node_port "$1")"; }

brokers_line() {
	local id addrs=()
	for id in $(seq 1 "$(brokers)"); do
		addrs+=("127.0.0.1:$(node_port "$id")")
	done
	(
		IFS=,
		printf 'KAFKA_BROKERS=%s\n' "${addrs[*]}"
	)
}

log_tail() {
	local f
	f=$(node_dir "$1")/node.log
	if [[ -f "$f" ]]; then
		log "last lines of $f:"
		tail -n "${2:-60}" "$f"
	fi
}

# --- configuration ---------------------------------------------------------------

# write_config ID ROLES PORT VOTERS RF MINISR: node ID's server.properties.
# PORT is its client port, or its quorum port for a controller.
write_config() {
	local id=$1 roles=$2 port=$3 voters=$4 rf=$5 minisr=$6 dir listeners
	dir=$(node_dir "$id")
	mkdir -p "$dir/data"
	echo "$port" >"$dir/node.port"
	case $roles in
	controller) listeners="listeners=CONTROLLER://127.0.0.1:$port" ;;
	broker) listeners="listeners=PLAINTEXT://127.0.0.1:$port" ;;
	*) listeners="listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://${voters#*@}" ;;
	esac
	{
		echo "process.roles=$roles"
		echo "node.id=$id"
		echo "controller.quorum.voters=$voters"
		echo "$listeners"
		if [[ $roles != controller ]]; then
			echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
			echo "inter.broker.listener.name=PLAINTEXT"
		fi
		cat <<-PROPS
			listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
			controller.listener.names=CONTROLLER
			log.dirs=$dir/data
			num.partitions=1
			auto.create.topics.enable=true
			default.replication.factor=$rf
			min.insync.replicas=$minisr
			unclean.leader.election.enable=false
			# A leader moved by a test's restart stays where it is: moved
			# back some minutes later, unasked, it would move in the middle
			# of whichever test runs then.
			auto.leader.rebalance.enable=false
			offsets.topic.replication.factor=$rf
			offsets.topic.num.partitions=1
			transaction.state.log.replication.factor=$rf
			transaction.state.log.min.isr=$minisr
			transaction.state.log.num.partitions=1
			share.coordinator.state.topic.replication.factor=$rf
			share.coordinator.state.topic.min.isr=$minisr
			group.initial.rebalance.delay.ms=0
		PROPS
	} >"$dir/server.properties"
}

# write_log4j: the logging configuration, in log4j 2's format, or in log4j
# 1's for a 3.x (legacy_log4j), to the same effect.
write_log4j() {
	if legacy_log4j; then
		cat >"$STATE_DIR/log4j.properties" <<'EOF1'
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
EOF1
		return 0
	fi
	cat >"$STATE_DIR/log4j2.properties" <<'EOF2'
status = warn
# Kafka logs its own shutdown; log4j's hook would stop the logging first.
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
EOF2
}

# java_opts ID: the JVM flags of node ID, one per line. Each node gets a
# temporary directory of its own, inside its state: the snappy, zstd and
# lz4 codecs unpack their native libraries there when a batch first needs
# them, out of reach of whatever else cleans the shared /tmp. (Once, on a
# busy machine, a broker answered every snappy and zstd batch, and no other,
# with UNKNOWN_SERVER_ERROR: the two codecs with no pure-Java fallback.)
java_opts() {
	# shellcheck disable=SC2153 # HEAP is broker.sh's
	local heap=$HEAP dir
	[[ $1 == "$CONTROLLER" ]] && heap=$CONTROLLER_HEAP
	dir=$(node_dir "$1")
	mkdir -p "$dir/tmp"
	local logconf="-Dlog4j2.configurationFile=$STATE_DIR/log4j2.properties"
	if legacy_log4j; then
		logconf="-Dlog4j.configuration=file:$STATE_DIR/log4j.properties"
	fi
	# shellcheck disable=SC2086 # lists of flags
	printf '%s\n' $heap $JVM_FLAGS -Djava.awt.headless=true \
		"-Djava.io.tmpdir=$dir/tmp" \
		"$logconf" \
		"-Dkafka.logs.dir=$dir"
}

# format ID CLUSTER: format node ID's storage.
format() {
	local dir opts
	dir=$(node_dir "$1")
	mapfile -t opts < <(java_opts "$1")
	"$JAVA" "${opts[@]}" -cp "$CACHE_DIR/lib/*" kafka.tools.StorageTool format \
		--config "$dir/server.properties" --cluster-id "$2" \
		--ignore-formatted "${SECURITY_FORMAT_ARGS[@]}" >"$dir/format.log" 2>&1 </dev/null || {
		cat "$dir/format.log"
		log "formatting the storage of node $1 failed"
		return 1
	}
}

# --- processes -------------------------------------------------------------------

# spawn ID: start node ID's JVM in the background, appending to its log.
# In a state started with KAFKA_JMX (JMX_FILE), a broker also serves JMX on
# a free port of 127.0.0.1, kept in node.jmx, which broker.sh metric reads;
# start-node keeps it so. It asks for no password: it is a local test
# broker's, like everything else here.
spawn() {
	local dir opts port
	dir=$(node_dir "$1")
	mapfile -t opts < <(java_opts "$1")
	rm -f "$dir/node.jmx"
	if [[ -f $JMX_FILE && $1 != "$CONTROLLER" ]]; then
		# Not a port another node was given and may not have bound yet.
		# shellcheck disable=SC2046 # one port per file
		port=$(free_port $(cat "$STATE_DIR"/node-*/node.port "$STATE_DIR"/node-*/node.jmx 2>/dev/null))
		opts+=("-Dcom.sun.management.jmxremote.port=$port"
			"-Dcom.sun.management.jmxremote.rmi.port=$port"
			-Dcom.sun.management.jmxremote.host=127.0.0.1
			-Djava.rmi.server.hostname=127.0.0.1
			-Dcom.sun.management.jmxremote.authenticate=false
			-Dcom.sun.management.jmxremote.ssl=false)
		echo "$port" >"$dir/node.jmx"
	fi
	# Where this run's lines begin, so await reads only those.
	stat -c %s "$dir/node.log" 2>/dev/null >"$dir/node.logstart" || echo 0 >"$dir/node.logstart"
	# 3>&-: the node must not hold our stdout, or $(broker.sh start) would
	# wait for it to exit.
	nohup "$JAVA" "${opts[@]}" -cp "$CACHE_DIR/lib/*" kafka.Kafka \
		"$dir/server.properties" >>"$dir/node.log" 2>&1 </dev/null 3>&- &
	echo $! >"$dir/node.pid"
}

# await ID: wait until the node spawned last serves. It returns 0 once it
# does, 2 if its port was taken (worth a retry with other ports), 1 on any
# other failure (after printing the log's tail and killing the node).
await() {
	local id=$1 dir pid port skip deadline
	dir=$(node_dir "$id")
	pid=$(<"$dir/node.pid")
	port=$(node_port "$id")
	skip=$(($(<"$dir/node.logstart") + 1))
	deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		# kill -0 rather than alive: until nohup execs java, the child's
		# command line is still this script's.
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$dir/node.pid"
			tail -c "+$skip" "$dir/node.log" | grep -q 'Address already in use' && return 2
			log_tail "$id"
			log "$(node_name "$id") exited during startup"
			return 1
		fi
		if tail -c "+$skip" "$dir/node.log" | grep -q 'Kafka Server started' && port_open "$port"; then
			return 0
		fi
		sleep 0.5
	done
	log_tail "$id"
	log "$(node_name "$id") did not serve on 127.0.0.1:$port within ${START_TIMEOUT}s"
	kill -KILL "$pid" 2>/dev/null || true
	return 1
}

# stop_nodes TIMEOUT ID...: TERM the running ones of nodes ID..., wait up
# to TIMEOUT seconds for them together, then KILL those left. It returns 1
# if KILL was needed. One deadline for all: brokers that cannot shut down
# cleanly (their controller is gone) cost TIMEOUT once, not once each.
stop_nodes() {
	local timeout=$1 id pid i deadline ids=() pids=() left=()
	shift
	for id; do
		if pid=$(node_pid "$id"); then
			kill -TERM "$pid" 2>/dev/null || true
			ids+=("$id")
			pids+=("$pid")
		fi
	done
	deadline=$((SECONDS + timeout))
	while :; do
		left=()
		for i in "${!ids[@]}"; do
			if alive "${pids[i]}" "${ids[i]}"; then left+=("$i"); fi
		done
		((${#left[@]} > 0 && SECONDS < deadline)) || break
		sleep 0.2
	done
	for i in "${left[@]}"; do
		log "node process ${pids[i]} ignored TERM for ${timeout}s; killing it"
		kill -KILL "${pids[i]}" 2>/dev/null || true
	done
	for i in "${left[@]}"; do
		wait_gone "${pids[i]}" "${ids[i]}"
	done
	((${#left[@]} == 0))
}

# wait_gone PID ID: wait until node ID's process PID has exited (a SIGKILL
# is not instant).
wait_gone() {
	local deadline=$((SECONDS + 10))
	while alive "$1" "$2" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	! alive "$1" "$2" || die "process $1 did not exit"
}

# stop_all: stop every node, the brokers together and then the controller
# (a broker's shutdown wants the controller).
stop_all() {
	# shellcheck disable=SC2046 # one id per word
	stop_nodes "$STOP_TIMEOUT" $(seq 1 "$(brokers)") || true
	if clustered; then
		stop_nodes "$STOP_TIMEOUT" "$CONTROLLER" || true
	fi
}

# launch N PORTS...: fresh state for N brokers on the given ports (and, for
# a cluster, the controller on the last one); format it and start every
# node. It returns like await.
launch() {
	local n=$1 id pid rc voters cid pids=() roles=broker,controller rf=1 minisr=1
	shift
	rm -rf "$STATE_DIR"
	mkdir -p "$STATE_DIR"
	echo "$n" >"$SHAPE_FILE"
	if [[ -n ${KAFKA_JMX:-} ]]; then
		: >"$JMX_FILE"
	fi
	write_log4j
	if ((n == 1)); then
		voters="1@127.0.0.1:$2"
	else
		voters="$CONTROLLER@127.0.0.1:${*: -1}"
		roles=broker rf=3 minisr=2
		write_config "$CONTROLLER" controller "${*: -1}" "$voters" "$rf" "$minisr"
	fi
	for id in $(seq 1 "$n"); do
		write_config "$id" "$roles" "${!id}" "$voters" "$rf" "$minisr"
	done
	if ((n == 1)); then
		security_config "$1" "$2"
	fi
	cid=$(cluster_id)
	for id in $(node_ids); do # in parallel: each is a JVM starting
		format "$id" "$cid" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || return 1
	done
	if clustered; then
		spawn "$CONTROLLER"
		rc=0
		await "$CONTROLLER" || rc=$?
		((rc == 0)) || return "$rc"
	fi
	for id in $(seq 1 "$n"); do
		spawn "$id"
	done
	for id in $(seq 1 "$n"); do
		rc=0
		await "$id" || rc=$?
		((rc == 0)) || return "$rc"
	done
}
