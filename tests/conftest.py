"""Fixtures shared by more than one tier, each defined once: the real registries and the control plane start.

* ``plain_registry``, ``basic_registry``, ``token_registry``: ``LiveRegistry`` objects
  (tests/fakes/registry.py) holding the standard sample set and its extras (tests/fakes/oci.py):
  ``.url``, ``.host``, ``.samples``, ``.client`` (a harness pusher with full rights),
  ``.username``/``.password`` (basic, token), and for token mode ``.token_server`` (records token
  requests) plus a pull-only ``.reader``/``.reader_password``. Session-scoped: tests must not move or
  delete the sample tags; push into a repository of their own to mutate anything.
* ``make_fault_proxy(registry)``: a FaultProxy in front of any LiveRegistry, stopped after the test.

Tier-specific fixtures live in each tier's conftest. Nothing here skips: a missing docker-registry or
control plane binary fails with the command that provides it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable

import pytest

from tests.fakes.faultproxy import FaultProxy, proxy_for
from tests.fakes.registry import LiveRegistry, start_registry


@pytest.fixture(scope="session")
def plain_registry() -> Iterator[LiveRegistry]:
    """Anonymous push and pull."""
    with start_registry("plain") as reg:
        yield reg


@pytest.fixture(scope="session")
def basic_registry() -> Iterator[LiveRegistry]:
    """Basic auth (alice): nothing can be pulled without its credentials."""
    with start_registry("basic") as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry() -> Iterator[LiveRegistry]:
    """Bearer tokens from a token server; anonymous pull of sample/* and a/*, not private/*."""
    with start_registry("token") as reg:
        yield reg


@pytest.fixture
def make_fault_proxy() -> Iterator[Callable[[LiveRegistry], FaultProxy]]:
    made: list[FaultProxy] = []

    def make(registry: LiveRegistry) -> FaultProxy:
        proxy = proxy_for(registry)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()

