"""Real registries for the registry tier: started once per session, each holding the sample set.

Fixtures:
* ``plain_registry``, ``basic_registry``, ``token_registry``: ``LiveRegistry`` objects
  (tests/fakes/registry.py): ``.url``, ``.host``, ``.samples`` (SampleSet), ``.client`` (a
  harness pusher with full rights), ``.username``/``.password`` (basic, token), and for token
  mode ``.token_server`` (records token requests) plus a pull-only ``.reader``/``.reader_password``.
  Session-scoped: tests must not move or delete the sample tags; push into a repository of
  their own (``unique_repo``) to mutate anything.
* ``fault_proxy``: a FaultProxy in front of ``plain_registry``, reset (requests, faults, stalls)
  before and after every test.
* ``make_fault_proxy(registry)``: a FaultProxy in front of any LiveRegistry, stopped after the test.

A missing docker-registry binary fails these fixtures with the install command: never a skip.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.fakes.faultproxy import FaultProxy, proxy_for
from tests.fakes.registry import LiveRegistry, start_registry

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything under tests/registry needs the real binary: mark it so `-m "not registry"` works.
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.registry)


@pytest.fixture(scope="session")
def plain_registry() -> Iterator[LiveRegistry]:
    with start_registry("plain") as reg:
        yield reg


@pytest.fixture(scope="session")
def basic_registry() -> Iterator[LiveRegistry]:
    with start_registry("basic") as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry() -> Iterator[LiveRegistry]:
    with start_registry("token") as reg:
        yield reg


@pytest.fixture(scope="session")
def _plain_proxy(plain_registry: LiveRegistry) -> Iterator[FaultProxy]:
    proxy = proxy_for(plain_registry)
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_proxy(_plain_proxy: FaultProxy) -> Iterator[FaultProxy]:
    _plain_proxy.reset()
    yield _plain_proxy
    _plain_proxy.reset()


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


_counter = itertools.count()


@pytest.fixture
def unique_repo(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses, for tests that push, move tags or delete."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()).strip("-")[:40]
    return f"scratch/{name}-{next(_counter)}"
