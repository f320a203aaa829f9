"""deploy/sync/Containerfile builds the CronJob's image, and `sync --help` runs inside it.

No base image can be pulled here: the base is a Debian bookworm root filesystem made from Debian
packages (`make image-base`, mmdebstrap), imported into a private podman store for this test. The
image is then built with podman from the release archive, as the Containerfile's header says.
These sandboxes refuse the OCI runtime's setrlimit, so the image's own filesystem is run with
chroot, as its USER (65532): its python3, its zipapp, nothing from this machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "hack" / "image" / "base.sh"
TAG = "localhost/kubectl-imagecache-sync:test"


def test_the_sync_image_builds_from_debian_packages_and_runs_sync(archive: Path, tmp_path: Path) -> None:
    tarball = Path(subprocess.run([str(BASE), "--print-path"], capture_output=True, text=True,
                                  check=True).stdout.strip())
    if not tarball.is_file():
        pytest.fail(f"{tarball} not built: run `make image-base`", pytrace=False)
    runroot = Path(tempfile.mkdtemp(prefix="imc-podman-"))  # podman wants a runroot under 50 characters
    store = ["--root", str(tmp_path / "storage"), "--runroot", str(runroot), "--storage-driver", "vfs"]

    def podman(*args: str, timeout: float = 300) -> str:
        r = subprocess.run(["podman", *store, *args], capture_output=True, text=True, timeout=timeout, check=False)
        assert r.returncode == 0, (args, r.stderr[-2000:])
        return r.stdout

    try:
        podman("import", str(tarball), "localhost/debian-bookworm-python3:base")
        context = tmp_path / "context"
        (context / "dist").mkdir(parents=True)
        shutil.copy(archive, context / "dist" / archive.name)
        podman("build", "--isolation", "chroot", "--network", "host", "--build-arg",
               "BASE=localhost/debian-bookworm-python3:base", "-f", str(ROOT / "deploy" / "sync" / "Containerfile"),
               "-t", TAG, str(context), timeout=600)
        [config] = json.loads(podman("image", "inspect", TAG))
        assert config["Config"]["User"] == "65532:65532"
        assert config["Config"]["Entrypoint"] == ["/usr/local/bin/kubectl-imagecache"]
        cronjob = (ROOT / "deploy" / "sync" / "cronjob.yaml").read_text()
        assert "kubectl-imagecache" in cronjob and "sync" in cronjob
        rootfs = podman("image", "mount", TAG).strip()
        run = subprocess.run(["chroot", "--userspec=65532:65532", rootfs, "/usr/bin/env", "-i", "HOME=/tmp",
                              "XDG_CACHE_HOME=/tmp", "/usr/local/bin/kubectl-imagecache", "sync", "--help"],
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("Usage: kubectl imagecache sync") and "--lease-namespace" in run.stdout
        version = subprocess.run(["chroot", "--userspec=65532:65532", rootfs, "/usr/bin/env", "-i", "HOME=/tmp",
                                  "/usr/local/bin/kubectl-imagecache", "version"],
                                 capture_output=True, text=True, timeout=60, check=False)
        assert version.returncode == 0 and "(zipapp)" in version.stdout and "Python 3.11" in version.stdout, version
    finally:
        subprocess.run(["podman", *store, "image", "unmount", "--all"], capture_output=True, check=False)
        subprocess.run(["podman", *store, "system", "reset", "--force"], capture_output=True, check=False)
        shutil.rmtree(runroot, ignore_errors=True)
