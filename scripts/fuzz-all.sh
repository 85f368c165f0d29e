#!/usr/bin/env bash
# Runs every fuzz target of every module of the workspace for FUZZTIME each
# (default 100000x, less for the targets default_budget names). Packages are
# those whose tests declare a Fuzz function, and their targets are
# discovered with `go test -list`, so a new one is never missed: listing
# every package would run each TestMain, the integration suites' among
# them, which start brokers.
# Each prints one line; a failing one prints everything it said.
#
# The budget is a count of executions, not a duration: with a duration, Go's
# fuzz coordinator (before Go 1.27, go.dev/issue/75804) can report its own
# deadline as "context deadline exceeded" and fail a target that found
# nothing. A count has no deadline to race, and FUZZ_TIMEOUT still bounds a
# target that has slowed to a crawl.
set -euo pipefail
cd "$(dirname "$0")/.."
default_fuzztime=100000x
fuzztime=${FUZZTIME:-$default_fuzztime}
timeout=${FUZZ_TIMEOUT:-5m}

# default_budget prints a target's budget at the default FUZZTIME. A target whose
# every execution runs a whole command gets fewer: one of FuzzDump's builds,
# encodes, decodes and annotates a request, about 1.5 ms, so 100000 of them
# would take minutes, near FUZZ_TIMEOUT on a busy machine. A FUZZTIME given
# applies to every target.
default_budget() {
	case $1 in
	FuzzDump) echo 20000x ;;
	*) echo "$default_fuzztime" ;;
	esac
}
count=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Each listing is its own command, not inside $(...) in a for or a pipe,
# where set -e would not see it fail: a package whose tests do not build
# would quietly fuzz nothing.
# grep exits 1 when nothing matches (caught below), 2 when it failed.
files=$(grep -rl --include='*_test.go' --exclude-dir=testdata '^func Fuzz' .) || [[ $? == 1 ]]
if [[ -z $files ]]; then
	echo "FAIL fuzz: no test file declares a Fuzz function"
	exit 1
fi
pkgs=$(dirname $files | sort -u)
for pkg in $pkgs; do
	if ! go test -list '^Fuzz' "$pkg" >"$log" 2>&1; then
		echo "FAIL listing the fuzz targets of $pkg"
		cat "$log"
		exit 1
	fi
	targets=$(grep '^Fuzz' "$log" || true)
	for t in $targets; do
		budget=$fuzztime
		if [[ $fuzztime == "$default_fuzztime" ]]; then
			budget=$(default_budget "$t")
		fi
		if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$budget" -timeout "$timeout" "$pkg" >"$log" 2>&1; then
			echo "FAIL fuzz $pkg $t"
			cat "$log"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 || true)
		echo "ok   fuzz $pkg $t ($budget, ${execs:-no progress line})"
		count=$((count + 1))
	done
done
if ((count == 0)); then
	echo "FAIL fuzz: no fuzz target found (go test -list '^Fuzz' in each package declaring one)"
	exit 1
fi
echo "fuzzed $count targets, each for the budget its line shows"
