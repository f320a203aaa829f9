"""The release zipapp under every Python it promises (3.10, the documented minimum, and 3.13), and the
one line an older Python gets. The interpreters are pyenv's on these machines; a missing one fails."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import clean_env

PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def interpreter(minor: str) -> Path:
    found = sorted(PYENV_ROOT.glob(f"versions/{minor}.*/bin/python{minor}"))
    if not found:
        pytest.fail(f"Python {minor} not found under {PYENV_ROOT}/versions: install it with "
                    f"`pyenv install {minor}`", pytrace=False)
    return found[-1]


def run(python: Path, zipapp: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(zipapp), *args], capture_output=True, text=True, timeout=120,
                          env=clean_env(home, []), check=False)


@pytest.mark.parametrize("minor", ["3.10", "3.13"])
def test_zipapp_runs_help_and_estimate(minor: str, zipapp: Path, tmp_path: Path, plain_registry) -> None:
    python = interpreter(minor)
    help_ = run(python, zipapp, tmp_path, "--help")
    assert help_.returncode == 0, help_.stderr
    assert "estimate" in help_.stdout and "Usage:" in help_.stdout
    image = plain_registry.ref("sample/oci-single:1.0")
    est = run(python, zipapp, tmp_path, "estimate", "-o", "json", image)
    assert est.returncode == 0, est.stderr
    report = json.loads(est.stdout)
    assert report["images"][0]["sizeBytes"] == plain_registry.samples["sample/oci-single:1.0"].size
    assert report["imageCacheSizeGiB"] == 20


GO_TIMES = """
import datetime as dt, json, sys
from kubectl_imagecache.model import imagecache as resource
from kubectl_imagecache.cli import view
from kubectl_imagecache.imagecache.prune import PruneOptions, plan_prune
now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
cache = {"metadata": {"name": "c", "creationTimestamp": "2026-11-01T00:00:00.5+08:00"},
         "spec": {"images": ["nginx:1"]},
         "status": {"phase": "Failed", "expireDateTime": "2026-12-01T11:00:00.123456789Z",
                    "lastUpdatedTime": "2026-12-01T11:59:00.1234567Z"}}
plan = plan_prune([cache], None, now, PruneOptions(reasons=frozenset({"expired", "failed"})))
print(json.dumps({"expires": view.expires_text(cache, now), "reasons": [list(c.reasons) for c in plan.candidates],
                  "created": str(resource.created_at(cache))}))
"""


@pytest.mark.parametrize("minor", ["3.10", "3.13"])
def test_go_timestamps_read_the_same_on_every_python(minor: str, zipapp: Path, tmp_path: Path) -> None:
    # Python 3.10's fromisoformat refuses Go's 9-digit fractions and "Z": an expired cache showed
    # "never" and a failure one minute old was pruned as past its grace.
    proc = subprocess.run([str(interpreter(minor)), "-c", f"import sys; sys.path.insert(0, {str(zipapp)!r})\n"
                           + GO_TIMES], capture_output=True, text=True, timeout=60,
                          env=clean_env(tmp_path, []), check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {"expires": "59m ago", "reasons": [["expired"]], "created": "2026-11-01 00:00:00.500000+08:00"}


def test_older_python_gets_one_line_saying_what_to_install(zipapp: Path, tmp_path: Path) -> None:
    proc = run(interpreter("3.9"), zipapp, tmp_path, "--help")
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "needs Python >= 3.10" in lines[0] and "3.9" in lines[0] and "install" in lines[0]


def test_pip_install_on_an_older_python_says_what_to_install(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([str(interpreter("3.9")), "-m", "pip", "install", "--no-build-isolation", "--dry-run",
                           "--no-deps", "--no-index", str(root)], capture_output=True, text=True, timeout=120,
                          env=clean_env(tmp_path, []), check=False)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "kubectl-imagecache needs Python >= 3.10 (found 3.9" in proc.stdout + proc.stderr
    assert "install python3.10 or newer" in proc.stdout + proc.stderr
