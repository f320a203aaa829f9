"""Fixtures of the registry tier; the registries themselves and ``make_fault_proxy`` are shared (tests/conftest.py).

* ``fault_proxy``: a FaultProxy in front of ``plain_registry``, reset (requests, faults, stalls)
  before and after every test.
* ``unique_repo``: a repository of the test's own, to push into, move tags in or delete from.

A missing docker-registry binary fails these fixtures with the install command: never a skip.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakes.faultproxy import FaultProxy, proxy_for
from tests.fakes.registry import LiveRegistry

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything under tests/registry needs the real binary: mark it so `-m "not registry"` works.
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.registry)


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


_counter = itertools.count()


@pytest.fixture
def unique_repo(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses, for tests that push, move tags or delete."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()).strip("-")[:40]
    return f"scratch/{name}-{next(_counter)}"
