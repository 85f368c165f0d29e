# shellcheck shell=bash
# fetch.sh, sourced by broker.sh, downloads Apache Kafka's broker from Maven
# Central, once, and on request its tools (kafka-tools, whose
# ProducerPerformance the bench/ race runs). It uses broker.sh's settings
# (KAFKA_VERSION, SCALA_VERSION, CACHE_DIR, FETCH_TIMEOUT) and its log and
# die.

# mvnq runs Maven quietly and without the colour codes it prints even in
# batch mode, for FETCH_TIMEOUT seconds at most: a fetch that hangs (a
# stalled mirror) fails with a message, rather than holding up whatever
# waits for broker.sh, a test's limit included, which could stop the script
# but not mvn.
mvnq() {
	timeout "$FETCH_TIMEOUT" mvn -q -B -Dstyle.color=never "$@" </dev/null 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
	local rc=${PIPESTATUS[0]}
	if ((rc == 124)); then
		log "mvn did not finish within ${FETCH_TIMEOUT}s (KAFKA_FETCH_TIMEOUT)"
	fi
	return "$rc"
}

# fetch_failed removes fetch's partial download (work, in fetch's scope) and exits.
fetch_failed() {
	rm -rf "$work"
	die "$@"
}

# copy_dependencies WORK NAME ARTIFACT: download org.apache.kafka:ARTIFACT
# at KAFKA_VERSION and its runtime dependencies into WORK/lib, through a
# throw-away pom (WORK/pom.xml, project NAME) that later mvn calls reuse.
copy_dependencies() {
	local work=$1 name=$2 artifact=$3
	cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gokafka</groupId>
  <artifactId>$name</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>$artifact</artifactId>
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
	mvnq -f "$work/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$work/lib"
}

# publish WORK DIR: mark the download in WORK complete and move it to DIR.
# Another run may have finished the same download meanwhile; keep theirs.
publish() {
	local work=$1 dir=$2
	touch "$work/.complete"
	if [[ -f "$dir/.complete" ]]; then
		rm -rf "$work"
	else
		rm -rf "$dir"
		mv "$work" "$dir"
	fi
}

# TOOLS_DIR holds kafka-tools: beside CACHE_DIR, not in it, so that neither
# classpath changes the other and fetch's replacing CACHE_DIR keeps it.
TOOLS_DIR=$CACHE_DIR-tools

# fetch_tools downloads kafka-tools and its runtime dependencies into
# TOOLS_DIR/lib once; a stamp file marks a complete download.
fetch_tools() {
	local dir=$TOOLS_DIR work
	[[ -f "$dir/.complete" ]] && return 0
	command -v mvn >/dev/null || die "mvn not found on PATH"
	log "fetching org.apache.kafka:kafka-tools:$KAFKA_VERSION into $dir"
	mkdir -p "$(dirname "$dir")"
	work=$(mktemp -d "$dir.tmp.XXXXXX")
	copy_dependencies "$work" kafka-tools-fetch "kafka-tools" ||
		fetch_failed "mvn could not fetch kafka-tools $KAFKA_VERSION"
	ls "$work/lib/kafka-tools-$KAFKA_VERSION.jar" >/dev/null 2>&1 ||
		fetch_failed "mvn finished but the download lacks kafka-tools"
	publish "$work" "$dir"
	log "fetched $(ls "$dir/lib" | wc -l) jars of kafka-tools ($(du -sh "$dir/lib" | cut -f1))"
}

# lib_version WORK NAME: the version of WORK/lib/NAME-VERSION.jar, or
# nothing if the download lacks it. || true: with no match, ls fails the
# pipeline, and set -e would end the script at the caller's assignment,
# silently, before its message.
lib_version() {
	(cd "$1/lib" && ls "$2"-*.jar 2>/dev/null | sed -n "s/^$2-\(.*\)\.jar\$/\1/p") || true
}

# copy_jar WORK GROUP:ARTIFACT:VERSION: add that one jar to WORK/lib.
copy_jar() {
	mvnq -f "$1/pom.xml" dependency:copy -Dartifact="$2" -DoutputDirectory="$1/lib" ||
		fetch_failed "mvn could not fetch $2"
}

# fetch_log4j2_binding WORK: add to WORK/lib the slf4j binding of the
# log4j-core there.
fetch_log4j2_binding() {
	local work=$1 log4j
	log4j=$(lib_version "$work" log4j-core)
	[[ -n "$log4j" ]] || fetch_failed "mvn finished but the download lacks log4j-core"
	copy_jar "$work" "org.apache.logging.log4j:log4j-slf4j-impl:$log4j"
}

# RELOAD4J_VERSION is the reload4j that Kafka 3.9's tarball ships; the
# older 3.x, whose tarballs shipped older ones, log through it as well.
RELOAD4J_VERSION=1.2.25

# fetch_reload4j WORK: add to WORK/lib reload4j and the slf4j binding to it
# at the version of the slf4j-api there.
fetch_reload4j() {
	local work=$1 slf4j
	slf4j=$(lib_version "$work" slf4j-api)
	[[ -n "$slf4j" ]] || fetch_failed "mvn finished but the download lacks slf4j-api"
	copy_jar "$work" "ch.qos.reload4j:reload4j:$RELOAD4J_VERSION"
	copy_jar "$work" "org.slf4j:slf4j-reload4j:$slf4j"
}

# fetch downloads kafka_2.13 and its runtime dependencies into CACHE_DIR/lib
# once; a stamp file marks a complete download so an interrupted one is redone.
fetch() {
	local stamp=$CACHE_DIR/.complete work
	[[ -f "$stamp" ]] && return 0
	command -v mvn >/dev/null || die "mvn not found on PATH"
	log "fetching org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION into $CACHE_DIR"
	mkdir -p "$(dirname "$CACHE_DIR")"
	work=$(mktemp -d "$CACHE_DIR.tmp.XXXXXX")
	copy_dependencies "$work" kafka-broker-fetch "kafka_$SCALA_VERSION" ||
		fetch_failed "mvn could not fetch Kafka $KAFKA_VERSION"
	ls "$work"/lib/kafka_"$SCALA_VERSION"-*.jar >/dev/null 2>&1 ||
		fetch_failed "mvn finished but the download lacks kafka_$SCALA_VERSION"
	# The kafka_2.13 artifact brings slf4j-api but not the binding to a
	# logging library (the release tarball adds it), so without it the
	# broker logs nothing: 4.x brings log4j-core, and gets the binding that
	# matches it; 3.x logs through log4j 1's API (kafka.utils.Log4jController
	# uses it) and brings none of it, so it gets what its tarball ships,
	# reload4j and slf4j's binding to it, at the version of its slf4j-api.
	if legacy_log4j; then
		fetch_reload4j "$work"
	else
		fetch_log4j2_binding "$work"
	fi
	publish "$work" "$CACHE_DIR"
	log "fetched $(ls "$CACHE_DIR/lib" | wc -l) jars ($(du -sh "$CACHE_DIR/lib" | cut -f1))"
}
