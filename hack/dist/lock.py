"""Resolve the zipapp's runtime dependencies into hack/dist/requirements.lock (exact versions and hashes).

Why a lock: `make dist` must give the same archive tomorrow as today, so it downloads exactly
these files (pip --require-hashes) instead of whatever PyPI serves as newest.

Why this resolution: the zipapp may only hold pure Python, and one file serves every interpreter
from the oldest the plugin supports (TARGET_PYTHON, setup.cfg's python_requires) up, so versions
are resolved for that Python: the newest release of each dependency that still runs there (setup.cfg
says which those are; kubernetes 35, click 8.1, urllib3 2.6 for 3.9). Every package is taken as its pure `py3-none-any` wheel except those in
STRIPPED (no pure wheel exists; the build drops their optional C accelerator).

Usage: python hack/dist/lock.py    (rewrites requirements.lock; commit it with the change that needed it)
"""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from pip._vendor.packaging.markers import default_environment
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOCK = HERE / "requirements.lock"


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


TARGET_PYTHON = _setup_cfg()["options"]["python_requires"].strip().removeprefix(">=")
# Every minor version the release promises, oldest first (setup.cfg's classifiers).
PYTHONS = sorted((c.rsplit("::", 1)[1].strip() for c in _setup_cfg()["metadata"]["classifiers"].splitlines()
                  if c.strip().startswith("Programming Language :: Python :: 3.")),
                 key=lambda v: tuple(map(int, v.split("."))))
# Packages without a pure wheel: a CPython wheel is taken and its compiled module removed (PyYAML
# then runs its pure-Python implementation). One fixed platform so the lock names one file.
STRIPPED = {"pyyaml"}
STRIPPED_PLATFORM = ("cp", "cp" + TARGET_PYTHON.replace(".", ""), "manylinux2014_x86_64")
# Declared but never imported by what the plugin runs: kubernetes 36 requires aiohttp (compiled,
# with compiled deps) only for its separate asyncio client `kubernetes.aio`, which the zipapp leaves
# out; python-dateutil 3 requires tzdata (627 files, a third of the zip's directory that every start
# reads) but never imports it, and the client only parses RFC 3339 times with numeric offsets.
PRUNED_EDGES = {("kubernetes", "aiohttp"), ("python-dateutil", "tzdata")}


def _target_env() -> dict[str, str]:
    env = default_environment()
    env.update(python_version=TARGET_PYTHON, python_full_version=f"{TARGET_PYTHON}.0", extra="")
    return env


def install_requires() -> list[str]:
    """setup.cfg's requirements that hold on TARGET_PYTHON, markers dropped: pip evaluates markers
    against the interpreter running it, whatever --python-version says."""
    env = _target_env()
    reqs = [Requirement(line) for line in _setup_cfg()["options"]["install_requires"].splitlines() if line.strip()]
    return [f"{r.name}{r.specifier}" for r in reqs if r.marker is None or r.marker.evaluate(env)]


def _report(args: list[str], requirements: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                        "--only-binary=:all:", "--python-version", TARGET_PYTHON, "--target", str(Path(tmp) / "t"),
                        "--report", str(report), *args, *requirements], check=True)
        return json.loads(report.read_text())["install"]


def _kept(roots: list[str], metadata: dict[str, dict]) -> list[str]:
    """Names reachable from the roots, following requirements whose markers hold on TARGET_PYTHON."""
    env = _target_env()
    seen: list[str] = []
    todo = [canonicalize_name(Requirement(r).name) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        if name not in metadata:
            # Required only on TARGET_PYTHON, so the resolution (markers read for this
            # interpreter) never looked at it: run lock.py under TARGET_PYTHON instead.
            raise SystemExit(f"lock.py: {name} is required on Python {TARGET_PYTHON} but was not resolved; "
                             f"run lock.py with python{TARGET_PYTHON}")
        for text in metadata[name].get("requires_dist") or []:
            req = Requirement(text)
            dep = canonicalize_name(req.name)
            if (req.marker is None or req.marker.evaluate(env)) and (name, dep) not in PRUNED_EDGES:
                todo.append(dep)
    return sorted(seen)


def main() -> int:
    roots = install_requires()
    impl, abi, platform = STRIPPED_PLATFORM
    # Resolve once for a CPython platform (every package has a wheel there), then fetch the hash of
    # the pure wheel of each package that is not stripped.
    resolved = _report(["--implementation", impl, "--abi", abi, "--platform", platform], roots)
    metadata = {canonicalize_name(i["metadata"]["name"]): i["metadata"] for i in resolved}
    hashes = {canonicalize_name(i["metadata"]["name"]): i["download_info"]["archive_info"]["hashes"]["sha256"]
              for i in resolved}
    kept = _kept(roots, metadata)
    pure = [f"{n}=={metadata[n]['version']}" for n in kept if n not in STRIPPED]
    for item in _report(["--no-deps", "--implementation", "py", "--abi", "none", "--platform", "any"], pure):
        hashes[canonicalize_name(item["metadata"]["name"])] = item["download_info"]["archive_info"]["hashes"]["sha256"]
    lines = [
        "# Generated by hack/dist/lock.py from setup.cfg install_requires, resolved for Python "
        f"{TARGET_PYTHON}: the files the zipapp is built from.",
        f"# Stripped of compiled modules (wheel for {'/'.join(STRIPPED_PLATFORM)}): {', '.join(sorted(STRIPPED))}.",
        f"# Left out: {', '.join(f'{b} (required by {a})' for a, b in sorted(PRUNED_EDGES))}.",
    ]
    lines += [f"{n}=={metadata[n]['version']} --hash=sha256:{hashes[n]}" for n in kept]
    LOCK.write_text("\n".join(lines) + "\n")
    print(f"lock.py: {len(kept)} packages written to {LOCK.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
