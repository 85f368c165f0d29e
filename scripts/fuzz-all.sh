#!/usr/bin/env bash
# Runs every fuzz target of the root module for FUZZTIME (default 3s) each.
# Targets are discovered with `go test -list`, so a new one is never missed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
count=0
for pkg in $(go list ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for t in $targets; do
		echo "== fuzz $pkg $t ($fuzztime)"
		go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "$pkg"
		count=$((count + 1))
	done
done
echo "fuzzed $count targets for $fuzztime each"
