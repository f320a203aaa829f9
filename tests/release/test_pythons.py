"""The release under every Python it promises (setup.cfg's classifiers, 3.9 to 3.13): the zipapp, its
launcher when python3 is too old or missing, and `pip install .` on the oldest. The interpreters are
pyenv's builds on these machines (hack/dist/pythons.py, `make pythons`); a missing one fails."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from .conftest import ROOT, clean_env

_spec = importlib.util.spec_from_file_location("pythons", ROOT / "hack" / "dist" / "pythons.py")
assert _spec is not None and _spec.loader is not None
pythons = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pythons)
PYTHONS: list[str] = pythons.PYTHONS
OLDEST = PYTHONS[0]
TOO_OLD = "3.8"  # the newest Python the release refuses


def interpreter(minor: str) -> Path:
    found = pythons.find(minor)
    if found is None:
        pytest.fail(pythons.how_to_get(minor), pytrace=False)
    return found


def run(python: Path, zipapp: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(zipapp), *args], capture_output=True, text=True, timeout=120,
                          env=clean_env(home, []), check=False)


def test_every_promised_python_from_the_oldest() -> None:
    # What the parametrized tests below run: 3.9 (macOS's own python3, RHEL 9, Debian 11) to 3.13.
    assert PYTHONS == ["3.9", "3.10", "3.11", "3.12", "3.13"]


def _help_and_estimate(cmd: list[str], env: dict[str, str], registry) -> None:
    help_ = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert help_.returncode == 0, help_.stderr
    assert "estimate" in help_.stdout and "Usage:" in help_.stdout
    image = registry.ref("sample/oci-single:1.0")
    est = subprocess.run([*cmd, "estimate", "-o", "json", image], capture_output=True, text=True, timeout=120,
                         env=env, check=False)
    assert est.returncode == 0, est.stderr
    report = json.loads(est.stdout)
    assert report["images"][0]["sizeBytes"] == registry.samples["sample/oci-single:1.0"].size
    assert report["imageCacheSizeGiB"] == 20


@pytest.mark.parametrize("minor", PYTHONS)
def test_zipapp_runs_help_and_estimate(minor: str, zipapp: Path, tmp_path: Path, plain_registry) -> None:
    _help_and_estimate([str(interpreter(minor)), str(zipapp)], clean_env(tmp_path, []), plain_registry)


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


@pytest.mark.parametrize("minor", PYTHONS)
def test_go_timestamps_read_the_same_on_every_python(minor: str, zipapp: Path, tmp_path: Path) -> None:
    # Python 3.10's fromisoformat refuses Go's 9-digit fractions and "Z": an expired cache showed
    # "never" and a failure one minute old was pruned as past its grace.
    proc = subprocess.run([str(interpreter(minor)), "-c", f"import sys; sys.path.insert(0, {str(zipapp)!r})\n"
                           + GO_TIMES], capture_output=True, text=True, timeout=60,
                          env=clean_env(tmp_path, []), check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {"expires": "59m ago", "reasons": [["expired"]], "created": "2026-11-01 00:00:00.500000+08:00"}


# -- the launcher in front of the zip -------------------------------------------------------------------

def _only_on_path(folder: Path, links: dict[str, Path]) -> Path:
    """A folder holding only the given names (links to interpreters): the whole PATH of a test."""
    folder.mkdir()
    for name, target in links.items():
        (folder / name).symlink_to(target)
    return folder


def _release(archive: Path, folder: Path) -> Path:
    """The archive unpacked as a user unpacks it: the zipapp and its completion helper side by side."""
    with tarfile.open(archive) as tar:
        tar.extractall(folder)  # our own archive: regular files only (test_archive checks)
    return folder


def _path_env(home: Path, path: Path) -> dict[str, str]:
    # Nothing but `path`: /usr/bin has a python3 of its own. The launcher is /bin/sh, found by its
    # absolute #! line, and needs no other program.
    return {**clean_env(home, []), "PATH": str(path)}


def test_launcher_runs_a_newer_python_when_python3_is_too_old(archive: Path, tmp_path: Path, plain_registry,
                                                             ) -> None:
    path = _only_on_path(tmp_path / "bin", {"python3": interpreter(TOO_OLD), "python3.12": interpreter("3.12")})
    release = _release(archive, tmp_path / "release")
    env = _path_env(tmp_path, path)
    app = release / "kubectl-imagecache"
    version = subprocess.run([str(app), "version", "-o", "json"], capture_output=True, text=True, timeout=120,
                             env=env, check=False)
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["python"]["version"].startswith("3.12.")
    assert version.stderr == ""
    _help_and_estimate([str(app)], env, plain_registry)
    # Completion, as a hand install runs it (the shipped helper) and as krew's link does (the plugin
    # under kubectl's completion name): the helper starts in the old python3 and is handed over too.
    link = tmp_path / "kubectl_complete-imagecache"
    link.symlink_to(app)
    for helper in (release / "kubectl_complete-imagecache", link):
        proc = subprocess.run([str(helper), "est"], capture_output=True, text=True, timeout=120, env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[0].split("\t")[0] == "estimate" and proc.stdout.splitlines()[-1] == ":4"


@pytest.mark.parametrize("on_path", [{"python3": TOO_OLD, "python3.7": "3.7"}, {"python3.7": "3.7"}],
                         ids=["python3-too-old", "no-python3"])
def test_launcher_without_a_usable_python_names_what_it_found(on_path: dict[str, str], archive: Path,
                                                              tmp_path: Path) -> None:
    path = _only_on_path(tmp_path / "bin", {name: interpreter(minor) for name, minor in on_path.items()})
    app = _release(archive, tmp_path / "release") / "kubectl-imagecache"
    proc = subprocess.run([str(app), "--help"], capture_output=True, text=True, timeout=120,
                          env=_path_env(tmp_path, path), check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert f"needs Python >= {OLDEST}" in line and f"install Python {OLDEST} or newer" in line
    assert all(f"python{minor}" in line for minor in PYTHONS), line  # what it looked for
    if "python3" in on_path:
        assert f"found Python {TOO_OLD}." in line and str(path / "python3") in line, line
    else:
        assert "found no python3" in line, line


def test_an_old_python_run_by_hand_hands_over_to_a_newer_one(zipapp: Path, tmp_path: Path) -> None:
    # `python3.8 kubectl-imagecache`: the archive runs the launcher in front of it again.
    path = _only_on_path(tmp_path / "bin", {"python3.10": interpreter("3.10")})
    proc = subprocess.run([str(interpreter(TOO_OLD)), str(zipapp), "version", "-o", "json"], capture_output=True,
                          text=True, timeout=120, env=_path_env(tmp_path, path), check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["python"]["version"].startswith("3.10.")


# -- pip ------------------------------------------------------------------------------------------------

def _source_tree(dest: Path) -> Path:
    """What `pip install .` reads, copied: building in the checkout would write build/ into it."""
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "kubectl_imagecache", dest / "kubectl_imagecache",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_pip_install_on_the_oldest_python(tmp_path: Path, plain_registry) -> None:
    # pip picks the dependencies that still run there (setup.cfg): kubernetes 35, click 8.1, urllib3 2.6.
    venv = tmp_path / "venv"
    env = clean_env(tmp_path, [])
    subprocess.run([str(interpreter(OLDEST)), "-m", "venv", str(venv)], check=True, timeout=120, env=env)
    (tmp_path / "src").mkdir()
    src = _source_tree(tmp_path / "src")
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(src)],
                          capture_output=True, text=True, timeout=600,
                          env={**env, "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip")}, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _help_and_estimate([str(venv / "bin" / "kubectl-imagecache")], env, plain_registry)
    version = subprocess.run([str(venv / "bin" / "kubectl-imagecache"), "version", "-o", "json"], capture_output=True,
                             text=True, timeout=120, env=env, check=True)
    info = json.loads(version.stdout)
    assert info["python"]["version"].startswith(f"{OLDEST}.") and info["installedAs"] == "package"
    assert info["libraries"]["kubernetes"].startswith("35.")


def test_pip_install_on_an_older_python_says_what_to_install(tmp_path: Path) -> None:
    proc = subprocess.run([str(interpreter(TOO_OLD)), "-m", "pip", "install", "--no-build-isolation", "--dry-run",
                           "--no-deps", "--no-index", str(ROOT)], capture_output=True, text=True, timeout=120,
                          env=clean_env(tmp_path, []), check=False)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert f"kubectl-imagecache needs Python >= {OLDEST} (found {TOO_OLD}." in proc.stdout + proc.stderr
    assert f"install python{OLDEST} or newer" in proc.stdout + proc.stderr
