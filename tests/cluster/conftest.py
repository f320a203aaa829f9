"""Fixtures for the cluster tier: one real control plane per test session, isolation per test.

The control plane carries Alibaba's permissive CRD (tests/fakes/crd/alibaba-imagecache.yaml), as real
clusters do: the API server accepts what the cloud refuses, so every rule is the plugin's to check.
The strict CRD of deploy/crd/ is tested on a control plane of its own (test_crd.py).

* ``control_plane``, ``kubeconfig``; API clients ``admin_api``, ``restricted_api``, ``emulator_api``
  (the emulated controller's user, with only its RBAC rules), ``custom_api`` (admin's CustomObjectsApi);
* ``namespace``: a fresh namespace; every ImageCache a test made is deleted after it (autouse);
* ``imc``: the installed kubectl-imagecache as a process, KUBECONFIG on the test control plane;
* ``run_emulator(**options)``: starts the emulated cloud controller (small step delay), stopped after
  the test. Registries come from tests/conftest.py.

Nothing here ever skips: when the binaries are missing or the control plane does not come up, every
test of the tier fails with the reason and the command that fixes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.cluster.commands_support import Plugin
from tests.fakes import controlplane
from tests.fakes.controlplane import EMULATOR_USER, GROUP, PLURAL, VERSION, ControlPlane, delete_imagecaches
from tests.fakes.emulator import Emulator, EmulatorOptions

_start_error: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    if _start_error:  # do not retry a failed start (and rebuild) for every test
        pytest.fail(_start_error[0], pytrace=False)
    try:
        cp = controlplane.start()
    except controlplane.ControlPlaneError as e:
        _start_error.append(f"control plane unavailable: {e}")
        pytest.fail(_start_error[0], pytrace=False)
    print(f"\ncontrol plane up: {', '.join(f'{k} {v:.2f}s' for k, v in cp.timings.items())}")
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: ControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane) -> Iterator[Any]:
    api = control_plane.api_client("admin")
    yield api
    api.close()


@pytest.fixture(scope="session")
def restricted_api(control_plane: ControlPlane) -> Iterator[Any]:
    api = control_plane.api_client("restricted")
    yield api
    api.close()


@pytest.fixture(scope="session")
def emulator_api(control_plane: ControlPlane) -> Iterator[Any]:
    api = control_plane.api_client(EMULATOR_USER)
    yield api
    api.close()


@pytest.fixture
def custom_api(admin_api: Any) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(admin_api)


@pytest.fixture(autouse=True)
def _clean_imagecaches(request: pytest.FixtureRequest) -> Iterator[None]:
    """ImageCaches are cluster-scoped, so namespaces cannot isolate them: delete every one a test made."""
    if "control_plane" not in request.fixturenames:
        yield
        return
    from kubernetes import client

    api = client.CustomObjectsApi(request.getfixturevalue("admin_api"))
    before = {o["metadata"]["name"] for o in api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]}
    yield
    delete_imagecaches(api, exclude=before)


def fresh_namespace(admin_api: Any) -> Iterator[str]:
    """A fresh namespace (for pull secrets and the like), deleted after the test."""
    from kubernetes import client

    core = client.CoreV1Api(admin_api)
    name = f"t-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    # No namespace controller runs, so the namespace would stay Terminating: delete its secrets first
    # and accept that; the next test gets a different name anyway.
    core.delete_collection_namespaced_secret(name)
    core.delete_namespace(name)


@pytest.fixture
def namespace(admin_api: Any) -> Iterator[str]:
    yield from fresh_namespace(admin_api)


@pytest.fixture
def other_namespace(admin_api: Any) -> Iterator[str]:
    """A second fresh namespace, for what one namespace's workloads do to another's."""
    yield from fresh_namespace(admin_api)


@pytest.fixture
def imc(control_plane: ControlPlane, tmp_path: Path) -> Plugin:
    """The installed kubectl-imagecache as a process, KUBECONFIG on the test control plane."""
    home = tmp_path / "home"
    home.mkdir()
    return Plugin(control_plane.kubeconfig, home)


@pytest.fixture
def run_emulator(emulator_api: Any) -> Iterator[Callable[..., Emulator]]:
    """Starts the emulated cloud controller as its own RBAC user; stopped after the test."""
    running: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        opts = EmulatorOptions(**{"step_delay": 0.02, "resync": 5.0, "watch_timeout": 5, **options})
        em = Emulator(emulator_api, opts)
        running.append(em)
        return em.start()

    yield start
    for em in running:
        em.stop()
