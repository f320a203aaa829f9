#!/usr/bin/env python3
"""How long `kubectl imagecache list` takes to give up on a stopped kube-apiserver, beside `kubectl get`.

Starts the real control plane (tests/fakes/controlplane.py), stops kube-apiserver with SIGSTOP (the
kernel still accepts TCP connections for it: the TLS handshake gets no answer, as with a hung or
overloaded server), then times each command as a user runs it (a fresh process, --repeat rounds) and
prints its exit code and last line; SIGCONT and stop afterwards. --baseline EXE times another build of
the plugin (e.g. an older commit's) in the same rounds. Figures, not assertions.

    python bench/stalled_apiserver.py [--repeat 3] [--baseline EXE]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes import controlplane  # noqa: E402

BIN = Path(sys.executable).parent


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    t = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return time.monotonic() - t, proc.returncode, lines[-1] if lines else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="another kubectl-imagecache executable to time beside this one")
    args = ap.parse_args()
    commands = {"kubectl imagecache list": [str(BIN / "kubectl-imagecache"), "list"],
                "kubectl get imagecaches": [str(BIN / "kubectl"), "get", "imagecaches"]}
    if args.baseline:
        commands["baseline list"] = [args.baseline, "list"]
    with controlplane.start() as cp:
        env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "HOME": str(cp.workdir)}
        apiserver = cp.pids()[-1]  # etcd first, then kube-apiserver
        os.kill(apiserver, signal.SIGSTOP)
        try:
            runs: dict[str, list[tuple[float, int, str]]] = {name: [] for name in commands}
            for _ in range(args.repeat):
                for name, argv in commands.items():
                    runs[name].append(timed(argv, env))
        finally:
            os.kill(apiserver, signal.SIGCONT)
    for name, results in runs.items():
        seconds = [r[0] for r in results]
        print(f"{name:26} median {statistics.median(seconds):5.1f}s  (min {min(seconds):.1f}s, max {max(seconds):.1f}s)"
              f"  exit {results[-1][1]}: {results[-1][2]}")


if __name__ == "__main__":
    main()
