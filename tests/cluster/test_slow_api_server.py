"""A slow but real answer is not a stall: the handshake bound (10 s, kube.handshake) does not cut a request
that the API server answers later, within --request-timeout. The real kube-apiserver answers through
tests/fakes/stalltls.py's SlowProxy, which handshakes at once and hands each answer back 12 s late."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.commands_support import IMC, Plugin, create_imagecache
from tests.fakes.controlplane import ControlPlane
from tests.fakes.stalltls import SlowProxy

DELAY = 12.0  # longer than the 10 s handshake bound, shorter than the 30 s default --request-timeout


@pytest.fixture
def slow(control_plane: ControlPlane) -> Iterator[SlowProxy]:
    pki = control_plane.workdir / "pki"
    with SlowProxy(control_plane.server, pki / "apiserver.crt", pki / "apiserver.key", control_plane.ca_file,
                   DELAY) as proxy:
        yield proxy


def through(control_plane: ControlPlane, proxy: SlowProxy, tmp_path: Path) -> Plugin:
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = proxy.url
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return Plugin(path, tmp_path)


def test_a_slow_real_answer_within_the_request_timeout_arrives(control_plane: ControlPlane, slow: SlowProxy,
                                                               custom_api: Any, tmp_path: Path) -> None:
    create_imagecache(custom_api, "slow-a", ["registry.example/x/a:1"])
    imc = through(control_plane, slow, tmp_path)
    r = imc("list", "-o", "name", timeout=60)
    assert (r.code, r.stdout, r.stderr) == (0, f"{IMC}/slow-a\n", ""), r
    assert slow.requests == 1


def test_the_request_timeout_still_bounds_a_slow_answer(control_plane: ControlPlane, slow: SlowProxy,
                                                        tmp_path: Path) -> None:
    imc = through(control_plane, slow, tmp_path)
    r = imc("list", "--request-timeout", "3s", timeout=60)
    assert r.code == 5 and r.stdout == "" and r.stderr.count("\n") == 1, r
    assert "no answer within 3s (request timed out)" in r.stderr, r
