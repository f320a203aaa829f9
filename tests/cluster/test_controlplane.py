"""The control plane harness itself: builds once, starts, stops, and never leaks a process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from tests.fakes import controlplane
from tests.fakes.controlplane import ALIBABA_CRD, BIN_DIR_ENV, BUILD_SCRIPT, CRD_NAME, ControlPlane, ControlPlaneError


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie has already exited
    except (FileNotFoundError, IndexError):
        return False


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes() and _alive(int(entry.name)):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_session_control_plane_is_ready(control_plane: ControlPlane) -> None:
    assert control_plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    assert control_plane.kubectl("get", "crd", CRD_NAME, "-o", "name").stdout.strip() \
        == f"customresourcedefinition.apiextensions.k8s.io/{CRD_NAME}"
    assert set(control_plane.timings) >= {"etcd", "kube-apiserver", "crd", "total"}
    # Alibaba's permissive CRD, as real clusters carry it, not the project's strict one.
    crd = json.loads(control_plane.kubectl("get", "crd", CRD_NAME, "-o", "json").stdout)
    assert crd["spec"] == {**crd["spec"], **yaml.safe_load(ALIBABA_CRD.read_text())["spec"]}
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert schema["status"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert "default" not in schema["spec"]["properties"]["imageCacheSize"]


def test_second_build_is_a_no_op(tmp_path: Path) -> None:
    """With both binaries in the cache folder, build.sh answers at once without running Go."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # no `go` on PATH
    bin_dir = Path(subprocess.run([str(BUILD_SCRIPT), "--print-dir"], env=env, capture_output=True, text=True,
                                  check=True).stdout.strip())
    assert bin_dir.parent == tmp_path / "kubectl-imagecache" / "controlplane"
    assert re.fullmatch(r"v1\.\d+\.\d+-etcdv3\.6\.\d+", bin_dir.name), bin_dir.name
    assert subprocess.run([str(BUILD_SCRIPT), "--check"], env=env).returncode == 1
    bin_dir.mkdir(parents=True)
    for name in ("etcd", "kube-apiserver"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    t = time.monotonic()
    out = subprocess.run([str(BUILD_SCRIPT)], env=env, capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - t
    assert out.strip().splitlines()[-1] == str(bin_dir)
    assert elapsed < 1.0, f"cached build.sh took {elapsed:.2f} s"
    assert subprocess.run([str(BUILD_SCRIPT), "--check"], env=env).returncode == 0


def test_start_and_stop_leave_no_process(control_plane: ControlPlane) -> None:
    cp = controlplane.start(bin_dir=control_plane.bin_dir)
    pids, workdir = cp.pids(), cp.workdir
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    assert cp.kubectl("get", "imagecaches").returncode == 0
    cp.stop()
    cp.stop()  # idempotent
    assert not [p for p in pids if _alive(p)]
    assert not _processes_mentioning(str(workdir))
    assert not workdir.exists()


def test_missing_binaries_fail_with_build_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIN_DIR_ENV, str(tmp_path))
    with pytest.raises(ControlPlaneError) as exc:
        controlplane.start()
    assert "etcd, kube-apiserver not found" in str(exc.value)
    assert "make controlplane" in str(exc.value)


def test_binary_that_dies_fails_with_its_log(tmp_path: Path, control_plane: ControlPlane) -> None:
    bins = tmp_path / "bin"
    bins.mkdir()
    (bins / "etcd").symlink_to(control_plane.bin_dir / "etcd")
    fake = bins / "kube-apiserver"
    fake.write_text("#!/bin/sh\necho 'cannot start: simulated failure' >&2\nexit 3\n")
    fake.chmod(0o755)
    workdir = tmp_path / "work"
    with pytest.raises(ControlPlaneError) as exc:
        controlplane.start(bin_dir=bins, workdir=workdir)
    assert "kube-apiserver exited with 3" in str(exc.value)
    assert "simulated failure" in str(exc.value)
    assert not _wait_gone(_processes_mentioning(str(workdir)), timeout=5)


def test_killed_owner_takes_the_control_plane_down(tmp_path: Path, control_plane: ControlPlane) -> None:
    """Even a SIGKILLed test runner (no atexit, no finalizer) leaves no etcd/apiserver behind."""
    workdir = tmp_path / "orphan"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(controlplane.REPO_ROOT)!r})
        from pathlib import Path
        from tests.fakes import controlplane
        cp = controlplane.start(bin_dir=Path({str(control_plane.bin_dir)!r}), workdir=Path({str(workdir)!r}),
                                install_crd=False)
        print(" ".join(map(str, cp.pids())), flush=True)
        time.sleep(120)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        owner.kill()
        owner.wait()
    assert not _wait_gone(pids), "control plane survived its owner"

