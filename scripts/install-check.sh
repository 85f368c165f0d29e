#!/usr/bin/env bash
# install-check.sh [VERSION]: rehearse a release of this repository and
# install kprod from it the way a user would,
#
#   go install github.com/gokafka/producer/cmd/kprod@VERSION
#
# from a module proxy laid out on disk (GOPROXY=file://...) rather than from
# tags on GitHub. It takes the files git tracks, sets the nested modules'
# requirements on the root and integration modules to VERSION (the edit a
# release commit makes; on main they require v0.0.0, which go.work maps to
# the directories here), publishes the three modules at VERSION, installs
# kprod outside any module and workspace, and runs the binary it got.
#
# Dependencies come from the local module cache when it has them, else from
# the usual GOPROXY; the build cache is shared, so a machine that has run
# `make test` installs in seconds.
set -euo pipefail

version=${1:-v0.0.1-installcheck}
root=$(cd "$(dirname "$0")/.." && pwd)
module=github.com/gokafka/producer
work=$(mktemp -d "${TMPDIR:-/tmp}/kprod-install-check.XXXXXX")
# The module cache is read-only; make it removable first.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

src=$work/src
proxy=$work/proxy
mkdir -p "$src" "$proxy"

# The tracked files as they are in the work tree, as a clone at the release
# commit would have them.
cd "$root"
git ls-files -z --cached | while IFS= read -r -d '' f; do
	[[ -f $f ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$src"

upstream=$(go env GOPROXY)
cache=$(go env GOMODCACHE)
export GOWORK=off
export GOMODCACHE=$work/modcache # so that an earlier check's VERSION is not reused
export GOPROXY="file://$proxy,file://$cache/cache/download,$upstream"
export GONOSUMDB=$module # our versions exist only in $proxy; the rest is checked as usual

publish() { # publish DIR MODULE
	go run "$root/scripts/modzip.go" -dir "$1" -module "$2" -version "$version" -proxy "$proxy"
}

echo "== publishing $module, $module/integration and $module/cmd/kprod at $version"
publish "$src" "$module"
(cd "$src/integration" && go mod edit -require="$module@$version" && go mod tidy)
publish "$src/integration" "$module/integration"
(cd "$src/cmd/kprod" && go mod edit -require="$module@$version" -require="$module/integration@$version" && go mod tidy)
publish "$src/cmd/kprod" "$module/cmd/kprod"

echo "== go install $module/cmd/kprod@$version"
mkdir -p "$work/bin" "$work/elsewhere"
(cd "$work/elsewhere" && GOBIN=$work/bin go install "$module/cmd/kprod@$version")

echo "== the installed kprod"
got=$("$work/bin/kprod" --version)
echo "$got"
if [[ $got != "kprod $version (library $version;"* ]]; then
	echo "install-check: --version says '$got', want kprod $version with library $version" >&2
	exit 1
fi
"$work/bin/kprod" --num-records 10000 --progress never
echo "install-check: ok"
