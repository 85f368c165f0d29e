#!/usr/bin/env bash
# secured-suite.sh MODE runs the TLS and SASL suites against a real Kafka
# secured with MODE (ssl, sasl_plaintext or sasl_ssl): it starts the broker
# with broker.sh start --security MODE, runs make test-kafka with what
# broker.sh printed in the environment, stops the broker, and fails if the
# SASL password appears anywhere in the suite's output (an error, a log
# line, a panic).
#
# KAFKA_STATE_DIR, KAFKA_SASL_USER and KAFKA_SASL_PASSWORD are broker.sh's;
# give the run a password of its own, e.g.
#   KAFKA_SASL_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)
set -euo pipefail

mode=${1:?usage: secured-suite.sh ssl|sasl_plaintext|sasl_ssl}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
broker=$here/broker.sh
password=${KAFKA_SASL_PASSWORD:-gokafka-secret} # broker.sh's default

out=$("$broker" start --security "$mode") || {
	echo "secured-suite.sh: the broker secured with $mode did not start"
	exit 1
}
log=
# The log holds whatever the suite printed, the password perhaps: it goes
# however the script ends.
trap 'rm -f "$log"; "$broker" stop' EXIT
echo "$out"
while IFS= read -r line; do
	[[ $line == KAFKA_*=* ]] && export "${line?}"
done <<<"$out"

log=$(mktemp "${TMPDIR:-/tmp}/gokafka-secured-suite.XXXXXX")
rc=0
make -C "$root" --no-print-directory test-kafka 2>&1 | tee "$log" || rc=$?
if grep -F -q -e "$password" "$log"; then
	echo "secured-suite.sh: the SASL password appears in the suite's output:"
	# sed -n, not head: head would leave at line 5, and the SIGPIPE that
	# grep or sed then got would fail the pipe and so the script.
	grep -F -n -e "$password" "$log" | sed -n "s/$password/<password>/g; 1,5p"
	rc=1
fi
exit "$rc"
