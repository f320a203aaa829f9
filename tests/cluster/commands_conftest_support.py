"""Fixtures shared by the command tests (warm, list/describe/wait/delete, prune, kubectl plugin).

Not a conftest (another helper owns tests/cluster/conftest.py): the test modules load it with
``pytest_plugins = ["tests.cluster.commands_conftest_support"]``, so each fixture exists once per
session; their helpers live in tests/cluster/commands_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.cluster.commands_support import Plugin, fill_extra
from tests.fakes.controlplane import ControlPlane
from tests.fakes.emulator.emulator import Emulator, EmulatorOptions
from tests.fakes.registry import LiveRegistry, start_registry


def _registry(mode: str) -> Iterator[LiveRegistry]:
    reg = start_registry(mode)
    try:
        if mode == "plain":
            fill_extra(reg)
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="session")
def plain_registry() -> Iterator[LiveRegistry]:
    """Anonymous registry: the sample set, many/app:t00..t25 and big/app:15g (see commands_support)."""
    yield from _registry("plain")


@pytest.fixture(scope="session")
def basic_registry() -> Iterator[LiveRegistry]:
    """Basic-auth registry (alice): nothing can be pulled without its credentials."""
    yield from _registry("basic")


@pytest.fixture
def imc(control_plane: ControlPlane, tmp_path: Path) -> Plugin:
    """The installed kubectl-imagecache as a process, KUBECONFIG on the test control plane."""
    home = tmp_path / "home"
    home.mkdir()
    return Plugin(control_plane.kubeconfig, home)


@pytest.fixture
def run_emulator(admin_api: Any) -> Iterator[Callable[..., Emulator]]:
    """Starts the emulated cloud controller (small step delay); stopped after the test."""
    running: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        opts = EmulatorOptions(**{"step_delay": 0.02, "resync": 5.0, "watch_timeout": 5, **options})
        em = Emulator(admin_api, opts)
        running.append(em)
        return em.start()

    yield start
    for em in running:
        em.stop()
