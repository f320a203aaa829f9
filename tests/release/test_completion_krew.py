"""Completion installed as the caveats say (link the plugin itself under kubectl's completion name)
survives `kubectl krew upgrade`, and after `kubectl krew uninstall` breaks nothing. Real krew, a local
index in a git repository, the archive served over loopback HTTP."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hack.dist.release import render_manifest
from tests.release.conftest import ROOT, VERSION, Krew

TEMPLATE = ROOT / "hack" / "dist" / "plugin.yaml.in"
NEXT = "v99.0.0"


@pytest.fixture
def served(archive: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def _publish(krew: Krew, version: str, uri: str, sha256: str) -> str:
    """The manifest rendered from the template into krew's local index (a git repository)."""
    text = render_manifest(TEMPLATE.read_text(), version, uri, sha256, "https://example.invalid/")
    index = krew.root / "index" / "default"
    (index / "plugins").mkdir(parents=True, exist_ok=True)
    (index / "plugins" / "imagecache.yaml").write_text(text)
    git = ["git", "-C", str(index), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    if not (index / ".git").exists():
        subprocess.run(["git", "init", "-q", str(index)], check=True, timeout=60)
        subprocess.run([*git, "remote", "add", "origin", str(index)], check=True, timeout=60)  # krew asks for one
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-qm", version], check=True, timeout=60)
    return text


def _caveat_link_command(manifest: str) -> str:
    caveats = yaml.safe_load(manifest)["spec"]["caveats"]
    [line] = [ln.strip() for ln in caveats.splitlines() if ln.strip().startswith("ln ")]
    assert "store/" not in line, "the link must not point into a versioned store folder"
    return line


def _completes(krew: Krew) -> list[str]:
    proc = krew.kubectl("__complete", "imagecache", "est")
    assert proc.returncode == 0, proc.stderr
    return [ln.split("\t")[0] for ln in proc.stdout.splitlines()]


def test_completion_link_survives_upgrade_and_uninstall(krew: Krew, served: str, archive_sha256: str) -> None:
    manifest = _publish(krew, VERSION, served, archive_sha256)
    env = krew.env()
    installed = krew.kubectl("krew", "install", "--no-update-index", "imagecache", env=env)
    assert installed.returncode == 0, installed.stderr
    link = _caveat_link_command(manifest)
    assert "survives `kubectl krew upgrade`" in " ".join(yaml.safe_load(manifest)["spec"]["caveats"].split())
    subprocess.run(["sh", "-c", link], env=env, check=True, timeout=60)  # exactly what the caveats say
    helper = krew.root / "bin" / "kubectl_complete-imagecache"
    assert helper.is_symlink()
    assert _completes(krew)[:1] == ["estimate"]

    _publish(krew, NEXT, served, archive_sha256)
    upgraded = krew.kubectl("krew", "upgrade", "imagecache", "--no-update-index", env=env)
    assert upgraded.returncode == 0, upgraded.stderr + upgraded.stdout
    store = krew.root / "store" / "imagecache"
    assert [p.name for p in store.iterdir()] == [NEXT]  # the old version's folder is gone ...
    assert _completes(krew)[:1] == ["estimate"]  # ... and completion still answers
    assert re.search(rf"/{NEXT}/kubectl-imagecache$", str(helper.resolve()))

    gone = krew.kubectl("krew", "uninstall", "imagecache", env=env)
    assert gone.returncode == 0, gone.stderr
    assert not helper.exists()  # the link dangles: kubectl finds no helper ...
    proc = krew.kubectl("__complete", "imagecache", "est")
    assert proc.returncode == 0 and "estimate" not in proc.stdout, proc  # ... and completes nothing, no error
