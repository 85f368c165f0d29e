#!/usr/bin/env bash
# Runs every fuzz target of the root module for FUZZTIME (default 100000x) each.
# Targets are discovered with `go test -list`, so a new one is never missed.
# Each prints one line; a failing one prints everything it said.
#
# The budget is a count of executions, not a duration: with a duration, Go's
# fuzz coordinator (before Go 1.27, go.dev/issue/75804) can report its own
# deadline as "context deadline exceeded" and fail a target that found
# nothing. A count has no deadline to race, and FUZZ_TIMEOUT still bounds a
# target that has slowed to a crawl.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-100000x}
timeout=${FUZZ_TIMEOUT:-5m}
count=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Each listing is its own command, not inside $(...) in a for or a pipe,
# where set -e would not see it fail: a go list that fails, or a package
# whose tests do not build, would quietly fuzz nothing.
pkgs=$(go list ./...)
for pkg in $pkgs; do
	if ! go test -list '^Fuzz' "$pkg" >"$log" 2>&1; then
		echo "FAIL listing the fuzz targets of $pkg"
		cat "$log"
		exit 1
	fi
	targets=$(grep '^Fuzz' "$log" || true)
	for t in $targets; do
		if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -timeout "$timeout" "$pkg" >"$log" 2>&1; then
			echo "FAIL fuzz $pkg $t"
			cat "$log"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 || true)
		echo "ok   fuzz $pkg $t ($fuzztime, ${execs:-no progress line})"
		count=$((count + 1))
	done
done
if ((count == 0)); then
	echo "FAIL fuzz: no fuzz target found (go test -list '^Fuzz' in each package)"
	exit 1
fi
echo "fuzzed $count targets for $fuzztime each"
