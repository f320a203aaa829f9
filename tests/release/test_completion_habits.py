"""Completion of --for, --reason, --pull-secret and list -o through the real kubectl, and giving up
on a stalled API server within the 2 s the README promises."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_imagecache.imagecache.prune import REASONS
from kubectl_imagecache.model.imagecache import PHASES
from tests.fakes.controlplane import ControlPlane
from tests.release.conftest import Tools, clean_env
from tests.release.test_completion import HELPER, cluster, complete  # noqa: F401 - cluster is a fixture


def test_for_lists_the_phases_and_delete(tools: Tools, tmp_path: Path) -> None:
    names, directive, _ = complete(tools, tmp_path, "wait", "--for", "")
    assert names == [*PHASES, *(f"phase={p}" for p in PHASES), "delete"] and directive == ":4"
    assert complete(tools, tmp_path, "wait", "--for=phase=F")[0] == ["--for=phase=Failed"]


def test_reason_completes_each_comma_separated_part(tools: Tools, tmp_path: Path) -> None:
    assert complete(tools, tmp_path, "prune", "--reason", "")[0] == list(REASONS)
    assert complete(tools, tmp_path, "prune", "--reason", "expired,f")[0] == ["expired,failed"]
    assert "expired,expired" not in complete(tools, tmp_path, "prune", "--reason", "expired,")[0]


def test_list_output_offers_formats_and_templates(tools: Tools, tmp_path: Path) -> None:
    names, _, _ = complete(tools, tmp_path, "list", "-o", "")
    assert names == ["table", "wide", "json", "yaml", "name", "jsonpath=", "custom-columns="]
    assert complete(tools, tmp_path, "list", "-o", "custom")[:2] == (["custom-columns="], ":6")  # no space after =
    assert "" not in complete(tools, tmp_path, "warm", "-o", "")[0]  # no empty choice


def test_pull_secret_offers_namespaces_then_docker_secrets(tools: Tools, tmp_path: Path,
                                                           cluster: ControlPlane) -> None:  # noqa: F811
    kc = str(cluster.kubeconfig)
    cluster.kubectl("create", "namespace", "pulls")
    cluster.kubectl("-n", "pulls", "create", "secret", "docker-registry", "regcred", "--docker-server=r.example",
                    "--docker-username=u", "--docker-password=p")
    cluster.kubectl("-n", "pulls", "create", "secret", "generic", "not-docker", "--from-literal=a=b")
    names, directive, _ = complete(tools, tmp_path, "warm", "--kubeconfig", kc, "--pull-secret", "pul")
    assert (names, directive) == (["pulls:"], ":6")
    names, directive, _ = complete(tools, tmp_path, "warm", "--kubeconfig", kc, "--pull-secret", "pulls:")
    assert (names, directive) == (["pulls:regcred"], ":4")


@pytest.fixture
def stalled_server() -> Iterator[int]:
    """Accepts connections and never answers (not even the TLS handshake)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        for s in held:
            s.close()
        server.close()


def test_stalled_server_gives_up_within_two_seconds(tools: Tools, tmp_path: Path, stalled_server: int) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{stalled_server}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    env = clean_env(tmp_path, [], KUBECONFIG=str(kc))
    for words in (["describe", ""], ["warm", "-n", ""], ["warm", "--pull-secret", "default:"]):
        t = time.perf_counter()
        proc = subprocess.run([str(HELPER), *words], capture_output=True, text=True, env=env, timeout=30, check=False)
        took = time.perf_counter() - t
        assert proc.returncode == 0 and proc.stdout == ":4\n", proc
        assert took < 2.0, (words, took, proc.stderr)
        assert proc.stderr.count("\n") == 1, proc.stderr
