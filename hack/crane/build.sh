#!/usr/bin/env bash
# Build crane (go-containerregistry's registry CLI) from its Go module into a per-user cache folder
# keyed by version, for bench/estimate.py to compare against: `crane manifest --platform`, the
# fastest peer way to read a manifest.
#
# Why Go modules: no binary downloads are available here, but the Go module proxy is. The version
# lives in go.mod (a tool directive, committed with go.sum) so the build is reproducible.
#
# Usage:
#   hack/crane/build.sh               build if missing; last stdout line is the bin dir
#   hack/crane/build.sh --print-dir   print the bin dir without building
#   hack/crane/build.sh --check       exit 0 when crane is already built
#   hack/crane/build.sh --update VERSION
#                                     point go.mod at another go-containerregistry release
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/gobuild.sh
source "$here/../lib/gobuild.sh"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-imagecache/crane"
module=github.com/google/go-containerregistry

# Read the version from go.mod without starting the go command: the cached path stays instant.
crane_version() {
  awk -v m="$module" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod"
}

if [ "${1:-}" = "--update" ]; then
  [ $# -eq 2 ] || { echo "usage: build.sh --update VERSION" >&2; exit 2; }
  (cd "$here" && GOFLAGS=-mod=mod go get -tool "$module/cmd/crane@$2" && GOFLAGS=-mod=mod go mod tidy)
  echo "build.sh: go.mod updated to go-containerregistry $2; run build.sh to build" >&2
  exit 0
fi

version="$(crane_version)"
[ -n "$version" ] || { echo "build.sh: $module version not found in $here/go.mod" >&2; exit 1; }
bin_dir="${cache_root}/${version}"

built() { [ -x "$bin_dir/crane" ]; }

gobuild_start "build.sh [--print-dir|--check|--update VERSION]" "$@"
start=$SECONDS
gobuild "$here" "$module/cmd/crane" crane
echo "build.sh: crane ${version} ready in $((SECONDS - start)) s" >&2
echo "$bin_dir"
