#!/usr/bin/env python3
"""Start-up time of the CLI: what `--help` costs, beside the floors it cannot go below.

Prints the median (and min/max) wall time of N runs of each:
  - `python -c pass`                              the interpreter alone
  - `python -c 'import kubectl_imagecache.cli.main'`  our entry module and what it imports (click)
  - `kubectl-imagecache --help`                   the console script, as users run it
  - `kubectl-imagecache warm --help`              one command's module and its flag groups

Figures, not assertions: tests never time. Compare before and after a change on the same machine.

    python bench/startup.py [--runs 21] [--exe .venv/bin/kubectl-imagecache]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
                          cwd=ROOT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per command (the median is reported)")
    parser.add_argument("--exe", default=None, help="the console script (default: next to this Python)")
    args = parser.parse_args()
    exe = args.exe or str(Path(sys.executable).parent / "kubectl-imagecache")
    if not os.access(exe, os.X_OK):
        exe = shutil.which("kubectl-imagecache") or ""
    if not exe:
        raise SystemExit("bench: no kubectl-imagecache console script; run `make venv` or pass --exe")
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import kubectl_imagecache.cli.main", [sys.executable, "-c", "import kubectl_imagecache.cli.main"]),
        ("kubectl-imagecache --help", [exe, "--help"]),
        ("kubectl-imagecache warm --help", [exe, "warm", "--help"]),
    ]
    for _, argv in cases:  # warm the page cache and the bytecode files once
        timed(argv)
    width = max(len(label) for label, _ in cases)
    print(f"{'':{width}}  median     min      max   ({args.runs} runs, {Path(exe).name})")
    for label, argv in cases:
        times = [timed(argv) for _ in range(args.runs)]
        print(f"{label:{width}}  {statistics.median(times) * 1000:6.1f}  {min(times) * 1000:6.1f}  "
              f"{max(times) * 1000:6.1f}  ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
