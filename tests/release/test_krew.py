"""plugin.yaml through krew's own validator, and the archive installed by the real krew and run by kubectl."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from tests.fakes.registry import LiveRegistry
from tests.release.conftest import MANIFEST, VERSION, Krew, Tools, clean_env, isolated_bin

PLATFORMS = [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")]


def _validate(tools: Tools, manifest: Path, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(tools.validator), "-manifest", str(manifest), *extra], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def _named_copy(tmp_path: Path, text: str) -> Path:
    # The validator requires the file to be named after the plugin.
    path = tmp_path / "imagecache.yaml"
    path.write_text(text)
    return path


def test_manifest_fields(archive_sha256: str) -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    spec = doc["spec"]
    assert doc["metadata"]["name"] == "imagecache"
    assert spec["version"] == VERSION
    assert "\n" not in spec["shortDescription"].strip()
    assert spec["homepage"].startswith("https://")
    assert "needs Python >= 3.9 on PATH" in spec["caveats"] and "kubectl_complete-imagecache" in spec["caveats"]
    assert "python3.13 python3.12 python3.11 python3.10 python3.9" in spec["caveats"]
    [platform] = spec["platforms"]
    assert platform["sha256"] == archive_sha256, "plugin.yaml is stale: run `make dist`"
    assert platform["uri"].endswith(f"/{VERSION}/kubectl-imagecache-{VERSION}.tar.gz")
    assert platform["bin"] == "kubectl-imagecache"


def test_manifest_describes_every_command_of_the_click_tree() -> None:
    from kubectl_imagecache.cli.main import cli

    description = yaml.safe_load(MANIFEST.read_text())["spec"]["description"]
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        assert f"kubectl imagecache {name}" in description, f"{name} is not described: run `make dist`"


def test_krew_validator_accepts_the_manifest(tools: Tools, tmp_path: Path) -> None:
    proc = _validate(tools, _named_copy(tmp_path, MANIFEST.read_text()), "-skip-install",
                     env=clean_env(tmp_path, [tools.krew_dir]))
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def served_archive(archive: Path) -> Iterator[str]:
    """The archive over HTTP on loopback, so the validator can install it as from a release page."""
    handler = functools.partial(_QuietHandler, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def test_krew_validator_installs_every_platform(tools: Tools, tmp_path: Path, served_archive: str) -> None:
    # The full validation (no -skip-install): it runs `kubectl krew install` for each platform
    # entry and checks a licence file is extracted. Only the uri differs from plugin.yaml.
    doc = yaml.safe_load(MANIFEST.read_text())
    for p in doc["spec"]["platforms"]:
        p["uri"] = served_archive
    env = clean_env(tmp_path, [tools.krew_dir, isolated_bin(tools.kubectl, tmp_path)])
    proc = _validate(tools, _named_copy(tmp_path, yaml.safe_dump(doc)), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "installed fine" in proc.stderr


def _install(krew: Krew, archive: Path, os_: str, arch: str) -> subprocess.CompletedProcess:
    return krew.kubectl("krew", "install", f"--manifest={MANIFEST}", f"--archive={archive}",
                        env=krew.env(KREW_OS=os_, KREW_ARCH=arch))


@pytest.mark.parametrize(("os_", "arch"), PLATFORMS)
def test_krew_installs_on_each_platform(krew: Krew, archive: Path, os_: str, arch: str) -> None:
    proc = _install(krew, archive, os_, arch)
    assert proc.returncode == 0, proc.stderr
    store = krew.root / "store" / "imagecache" / VERSION
    assert sorted(p.name for p in store.iterdir()) == ["LICENSE", "kubectl-imagecache", "kubectl_complete-imagecache"]
    assert (krew.root / "bin" / "kubectl-imagecache").exists()
    assert "needs Python >= 3.9 on PATH" in proc.stdout + proc.stderr  # caveats are shown on install


def test_installed_plugin_runs_through_kubectl(krew: Krew, archive: Path, plain_registry: LiveRegistry) -> None:
    proc = _install(krew, archive, "linux", "amd64")
    assert proc.returncode == 0, proc.stderr

    help_ = krew.kubectl("imagecache", "--help")
    assert help_.returncode == 0, help_.stderr
    assert "estimate" in help_.stdout and "Usage:" in help_.stdout

    version = krew.kubectl("imagecache", "version", "-o", "json")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["installedAs"] == "zipapp"

    image = plain_registry.ref("sample/oci-single:1.0")
    est = krew.kubectl("imagecache", "estimate", "-o", "json", image)
    assert est.returncode == 0, est.stderr
    report = json.loads(est.stdout)
    assert report["errors"] == []
    assert [i["image"] for i in report["images"]] == [image]
    assert report["images"][0]["sizeBytes"] == plain_registry.samples["sample/oci-single:1.0"].size

    # The completion helper, linked onto PATH as the caveats say, answers kubectl's __complete.
    helper = krew.root / "store" / "imagecache" / VERSION / "kubectl_complete-imagecache"
    os.symlink(helper, krew.root / "bin" / "kubectl_complete-imagecache")
    comp = krew.kubectl("__complete", "imagecache", "est")
    assert comp.returncode == 0, comp.stderr
    assert comp.stdout.splitlines()[0].startswith("estimate\t")

    krew.offline_index()
    gone = krew.kubectl("krew", "uninstall", "imagecache")
    assert gone.returncode == 0, gone.stderr
    assert not (krew.root / "bin" / "kubectl-imagecache").exists()
    assert not (krew.root / "store" / "imagecache").exists()
    (krew.root / "bin" / "kubectl_complete-imagecache").unlink()
    assert krew.kubectl("imagecache", "--help").returncode != 0
    shutil.rmtree(krew.root, ignore_errors=True)
