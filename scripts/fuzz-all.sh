#!/usr/bin/env bash
# Runs every fuzz target of the root module for FUZZTIME (default 3s) each.
# Targets are discovered with `go test -list`, so a new one is never missed.
# Each prints one line; a failing one prints everything it said.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
count=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for t in $targets; do
		if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
			echo "FAIL fuzz $pkg $t"
			cat "$log"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 || true)
		echo "ok   fuzz $pkg $t ($fuzztime, ${execs:-no progress line})"
		count=$((count + 1))
	done
done
echo "fuzzed $count targets for $fuzztime each"
