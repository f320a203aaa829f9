"""Completion through the real kubectl's `__complete` path, with the pip-installed helper on PATH.

Commands and flags are checked against the click tree, not a list written here, so commands added
later are covered. Cluster candidates come from a real API server.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from kubectl_imagecache.cli.main import cli
from tests.fakes.controlplane import ControlPlane
from tests.release.conftest import Tools, clean_env, isolated_bin
from tests.support.controlplane import start_control_plane

HELPER = Path(sys.executable).parent / "kubectl_complete-imagecache"
PLUGIN = Path(sys.executable).parent / "kubectl-imagecache"  # kubectl asks a plugin's helper only if the plugin exists
BUDGET = 0.3  # seconds for candidates that need no cluster


def _path(tools: Tools, home: Path) -> list[Path]:
    if not HELPER.is_file():
        pytest.fail("kubectl_complete-imagecache is not installed: run `make venv`", pytrace=False)
    return [isolated_bin(HELPER, home), isolated_bin(PLUGIN, home), isolated_bin(tools.kubectl, home)]


def complete(tools: Tools, home: Path, *words: str, **env: str) -> tuple[list[str], str, str]:
    """(candidates, directive line, stderr) of `kubectl __complete imagecache WORDS...`."""
    proc = subprocess.run([str(tools.kubectl), "__complete", "imagecache", *words], capture_output=True, text=True,
                          env=clean_env(home, _path(tools, home), **env), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and lines[-1].startswith(":"), proc.stdout
    return [line.split("\t")[0] for line in lines[:-1]], lines[-1], proc.stderr


def test_subcommands_from_the_click_tree(tools: Tools, tmp_path: Path) -> None:
    names, directive, _ = complete(tools, tmp_path, "")
    assert names == cli.list_commands(click.Context(cli))
    assert directive == ":4"
    assert complete(tools, tmp_path, "ca")[0] == ["cache"]
    assert complete(tools, tmp_path, "cache", "")[0] == ["clear", "info"]


def test_flags_of_every_command_from_the_click_tree(tools: Tools, tmp_path: Path) -> None:
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            continue
        wanted = {o for p in cmd.params if isinstance(p, click.Option) and not p.hidden
                  for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
        names, directive, _ = complete(tools, tmp_path, name, "--")
        assert wanted <= set(names), (name, wanted - set(names))
        assert directive == ":4"


def test_flag_values(tools: Tools, tmp_path: Path) -> None:
    assert complete(tools, tmp_path, "estimate", "-o", "")[0] == ["table", "json", "yaml"]
    assert complete(tools, tmp_path, "estimate", "--output=y")[0] == ["--output=yaml"]
    assert "linux/arm64" in complete(tools, tmp_path, "estimate", "--platform", "linux/")[0]
    names, directive, _ = complete(tools, tmp_path, "warm", "--from", "dep")
    assert (names, directive) == (["deployment/"], ":6")  # no space after the slash
    assert complete(tools, tmp_path, "estimate", "-f", "")[1] == ":0"  # the shell completes file names
    assert complete(tools, tmp_path, "nosuch", "")[0] == []


def test_errors_never_become_candidates(tools: Tools, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-kubeconfig")
    names, directive, _ = complete(tools, tmp_path, "describe", "--kubeconfig", missing, "")
    assert (names, directive) == ([], ":4")
    names, _, _ = complete(tools, tmp_path, "warm", "-n", "", KUBECONFIG=missing)
    assert names == []


def test_answers_quickly_without_the_kubernetes_client(tools: Tools, tmp_path: Path) -> None:
    env = clean_env(tmp_path, [])
    for words in (["war"], ["warm", "--"], ["estimate", "-o", ""]):
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([str(HELPER), *words], capture_output=True, env=env, timeout=60, check=True)
            runs.append(time.perf_counter() - t)
        print(f"\ncompletion {words}: best {min(runs):.3f}s")
        assert min(runs) <= BUDGET, (words, runs)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kubectl_imagecache.cli.completion", "warm", "--"],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    assert "kubernetes" not in {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ControlPlane]:
    cp = start_control_plane()  # a fresh one: candidates are checked against exactly what this test creates
    try:
        yield cp
    finally:
        cp.stop()


def test_cluster_candidates(tools: Tools, tmp_path: Path, cluster: ControlPlane) -> None:
    kc = str(cluster.kubeconfig)
    for name in ("web-cache", "web-cache-2", "db-cache"):
        cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: eci.alibabacloud.com/v1
kind: ImageCache
metadata: {{name: {name}}}
spec: {{images: [nginx:1.27], imageCacheSize: 20}}
""")
    cluster.kubectl("create", "namespace", "shop")
    cluster.kubectl("-n", "shop", "create", "deployment", "front", "--image=nginx:1.27")

    assert complete(tools, tmp_path, "describe", "--kubeconfig", kc, "")[0] == ["db-cache", "web-cache", "web-cache-2"]
    assert complete(tools, tmp_path, "delete", "web", KUBECONFIG=kc)[0] == ["web-cache", "web-cache-2"]
    # Names already given are not offered again.
    assert complete(tools, tmp_path, "wait", "web-cache", "web", KUBECONFIG=kc)[0] == ["web-cache-2"]
    assert "shop" in complete(tools, tmp_path, "warm", "--kubeconfig", kc, "-n", "")[0]
    names, directive, _ = complete(tools, tmp_path, "warm", "--kubeconfig", kc, "-n", "shop", "--from", "deployment/")
    assert (names, directive) == (["deployment/front"], ":4")
    # --context is honoured: the restricted user may not list ImageCaches, so nothing is offered.
    names, _, err = complete(tools, tmp_path, "describe", "--kubeconfig", kc, "--context", "restricted", "")
    assert names == []
    contexts = complete(tools, tmp_path, "describe", "--kubeconfig", kc, "--context", "")[0]
    assert {"admin", "restricted"} <= set(contexts)
