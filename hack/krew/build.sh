#!/usr/bin/env bash
# Build krew's own manifest validator and the krew plugin manager from the sigs.k8s.io/krew Go
# module into a per-user cache folder keyed by version, so the release tests use the real tools.
#
# Why Go modules: no binary downloads are available here, but the Go module proxy is. The version
# lives in go.mod (tool directives, committed with go.sum) so the build is reproducible.
#
# Usage:
#   hack/krew/build.sh               build if missing; last stdout line is the bin dir
#   hack/krew/build.sh --print-dir   print the bin dir without building
#   hack/krew/build.sh --check       exit 0 when both binaries are already built
#   hack/krew/build.sh --update VERSION
#                                    point go.mod at another sigs.k8s.io/krew release
# The bin dir holds `validate-krew-manifest` and `kubectl-krew` (named so kubectl finds it as the
# `krew` plugin when the dir is on PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/gobuild.sh
source "$here/../lib/gobuild.sh"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-imagecache/krew"

# Read the version from go.mod without starting the go command: the cached path stays instant.
krew_version() {
  awk '$1 == "sigs.k8s.io/krew" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod"
}

if [ "${1:-}" = "--update" ]; then
  [ $# -eq 2 ] || { echo "usage: build.sh --update VERSION" >&2; exit 2; }
  (cd "$here" && GOFLAGS=-mod=mod go get -tool "sigs.k8s.io/krew/cmd/krew@$2" \
      "sigs.k8s.io/krew/cmd/validate-krew-manifest@$2" && GOFLAGS=-mod=mod go mod tidy)
  echo "build.sh: go.mod updated to krew $2; run build.sh to build" >&2
  exit 0
fi

version="$(krew_version)"
[ -n "$version" ] || { echo "build.sh: sigs.k8s.io/krew version not found in $here/go.mod" >&2; exit 1; }
bin_dir="${cache_root}/${version}"

built() { [ -x "$bin_dir/validate-krew-manifest" ] && [ -x "$bin_dir/kubectl-krew" ]; }

gobuild_start "build.sh [--print-dir|--check|--update VERSION]" "$@"
start=$SECONDS
[ -x "$bin_dir/validate-krew-manifest" ] || gobuild "$here" sigs.k8s.io/krew/cmd/validate-krew-manifest validate-krew-manifest
[ -x "$bin_dir/kubectl-krew" ] || gobuild "$here" sigs.k8s.io/krew/cmd/krew kubectl-krew
echo "build.sh: krew ${version} ready in $((SECONDS - start)) s" >&2
echo "$bin_dir"
