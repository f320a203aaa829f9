"""A stalled API server (TCP accepted, TLS handshake never answered) ends a command as kubectl's does: after
client-go's 10 s TLSHandshakeTimeout, not the 30 s request timeout; exit 5, one line. A shorter
--request-timeout still bounds the handshake. Through the real CLI against tests/fakes/stalltls.py."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.fakes.stalltls import SilentServer
from tests.support.cli import run

COMMANDS = [["list"], ["wait", "x"]]


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "stalled",
        "clusters": [{"name": "stalled", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "stalled", "context": {"cluster": "stalled", "user": "u"}}],
    }))
    return path


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def expected(server: SilentServer, seconds: str) -> str:
    return (f"error: cannot reach the API server at {server.url}: no answer to the TLS handshake within {seconds}; "
            "check the kubeconfig context (is the API server up and not overloaded?) and the network\n")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_stalled_handshake_ends_after_ten_seconds(command: list[str], silent: SilentServer, tmp_path: Path) -> None:
    # The default --request-timeout is 30 s; the subprocess limit of 25 s fails the test if it is waited out.
    r = run([*command, "--kubeconfig", str(kubeconfig(tmp_path, silent.url))], home=tmp_path, timeout=25)
    assert (r.code, r.stdout, r.stderr) == (5, "", expected(silent, "10s")), r
    assert silent.accepted == 1  # one connection, not retried


def test_a_shorter_request_timeout_still_bounds_the_handshake(silent: SilentServer, tmp_path: Path) -> None:
    r = run(["list", "--request-timeout", "2s", "--kubeconfig", str(kubeconfig(tmp_path, silent.url))],
            home=tmp_path, timeout=9)
    # The request timeout was the shorter: it is what the message names, as before.
    assert (r.code, r.stderr) == (5, f"error: cannot reach the API server at {silent.url}: no answer within 2s "
                                     "(request timed out); check the kubeconfig context and the network, or raise "
                                     "--request-timeout\n"), r


def test_no_request_timeout_still_bounds_the_handshake(silent: SilentServer, tmp_path: Path) -> None:
    r = run(["list", "--request-timeout", "0", "--kubeconfig", str(kubeconfig(tmp_path, silent.url))],
            home=tmp_path, timeout=25)
    assert (r.code, r.stderr) == (5, expected(silent, "10s")), r
