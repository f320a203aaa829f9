# Sourced by hack/*/build.sh: build Go mains from a committed module into a per-user cache folder
# ($bin_dir, keyed by version by the caller), one build at a time, never leaving a half-written binary.

# Non-login shells (CI, make) may not have the toolchain's default install dir on PATH.
gobuild_require_go() {
  command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && PATH="/usr/local/go/bin:$PATH"; }
  command -v go >/dev/null || { echo "build.sh: the go command is required (Go >= 1.26)" >&2; exit 1; }
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
  export CGO_ENABLED=0   # static binaries; no C toolchain needed
}

# One build at a time per version: parallel test sessions would otherwise race on the outputs.
# The caller checks again after this returns: another process may have finished the build.
gobuild_lock() {
  mkdir -p "$bin_dir"
  exec 9>"$bin_dir/.lock"
  flock 9
}

gobuild() { # MODULE_DIR PACKAGE OUTPUT
  local t=$SECONDS
  echo "build.sh: building $3 ($2) ..." >&2
  # -trimpath -s -w: smaller binaries and no local paths in them; renamed into place so a killed
  # build never leaves a half-written binary that looks built.
  (cd "$1" && go build -trimpath -ldflags='-s -w' -o "$bin_dir/.$3.tmp" "$2")
  mv -f "$bin_dir/.$3.tmp" "$bin_dir/$3"
  echo "build.sh: $3 built in $((SECONDS - t)) s, $(du -h "$bin_dir/$3" | cut -f1)" >&2
}

# The common start of a build script, after it has set $bin_dir and defined `built`:
# --print-dir and --check answer at once; a built cache prints $bin_dir and exits (no Go needed);
# otherwise Go is found and the lock taken (exiting if another process built it meanwhile).
gobuild_start() { # USAGE [ARG]
  case "${2:-}" in
    --print-dir) echo "$bin_dir"; exit 0 ;;
    --check) built; exit $? ;;
    "") ;;
    *) echo "usage: $1" >&2; exit 2 ;;
  esac
  if built; then echo "$bin_dir"; exit 0; fi
  gobuild_require_go
  gobuild_lock
  if built; then echo "$bin_dir"; exit 0; fi
}
