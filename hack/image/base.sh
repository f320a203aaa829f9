#!/usr/bin/env bash
# The base of deploy/sync/Containerfile, built from Debian packages: no base image can be pulled
# here, but the Debian mirror is reachable. mmdebstrap makes a bookworm root filesystem with
# python3 and ca-certificates as a tarball in a per-user cache; `podman import` turns it into the
# image the Containerfile's BASE names (tests/release/test_sync_image.py does that per run).
#
# Usage:
#   hack/image/base.sh               build if missing; the last stdout line is the tarball's path
#   hack/image/base.sh --print-path  print the path without building
set -euo pipefail

suite=bookworm
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-imagecache/image-base"
tarball="$cache_root/debian-$suite-python3.tar"

if [ "${1:-}" = "--print-path" ]; then
  echo "$tarball"
  exit 0
fi
if [ ! -f "$tarball" ] || [ ! -s "$tarball" ]; then
  command -v mmdebstrap >/dev/null || { echo "base.sh: mmdebstrap is missing: run \`make deps\`" >&2; exit 1; }
  mkdir -p "$cache_root"
  # minbase: essential packages and apt only, as debian:bookworm-slim; written aside, then moved,
  # so an interrupted build never leaves a half tarball that looks built.
  # --format: the .part name would otherwise make mmdebstrap write a directory.
  mmdebstrap --quiet --format=tar --variant=minbase --include=python3,ca-certificates "$suite" "$tarball.part"
  mv "$tarball.part" "$tarball"
fi
echo "$tarball"
