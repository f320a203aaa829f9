"""`warm` meeting caches that are being built: an existing one still building (--wait waits for it,
Updating counts as live) and concurrent warms of the same images (one cache, every process exits 0)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.cluster.commands_support import Plugin, created_names, imagecaches
from tests.cluster.test_waits_and_errors import ApiProxy
from tests.fakes.controlplane import GROUP, PLURAL, VERSION, ControlPlane
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry
from tests.support import cli


def start(imc: Plugin, *args: str, kubeconfig: Any = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECTL_IMAGECACHE_", "KUBECONFIG"))}
    env.update({"KUBECONFIG": str(kubeconfig or imc.kubeconfig), "HOME": str(imc.home),
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    return subprocess.Popen([cli.plugin_executable(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, text=True)


def holders(custom_api: Any, image: str) -> list[dict[str, Any]]:
    return [o for o in imagecaches(custom_api).values() if o["spec"]["images"] == [image]]


def set_phase(custom_api: Any, name: str, phase: str) -> None:
    custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name,
                                                  {"status": {"phase": phase, "progress": "50%"}})


@pytest.mark.parametrize("phase", ["Pending", "Creating", "Updating"])
def test_warm_wait_waits_for_a_matching_cache_still_building(imc: Plugin, custom_api: Any,
                                                             plain_registry: LiveRegistry, phase: str) -> None:
    image = plain_registry.ref("sample/oci-single:1.0")
    first = imc("warm", image)
    assert first.code == 0, first
    [name] = created_names(first.stdout)
    if phase != "Pending":
        set_phase(custom_api, name, phase)

    proc = start(imc, "warm", image, "--wait", "--timeout", "60s")
    assert proc.stderr is not None
    said = proc.stderr.readline()
    assert f"ImageCache {name} already holds" in said and f"it is {phase}, waiting for it" in said, said
    time.sleep(1.0)
    assert proc.poll() is None, "warm --wait returned while the cache was still building"
    set_phase(custom_api, name, "Ready")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == "", out  # nothing was created
    assert f"{name}: Ready" in err, err
    assert [o["metadata"]["name"] for o in holders(custom_api, image)] == [name]


def test_warm_wait_for_a_failed_build_of_the_existing_cache_exits_1(imc: Plugin, custom_api: Any,
                                                                    plain_registry: LiveRegistry) -> None:
    image = plain_registry.ref("sample/docker-single:1.0")
    [name] = created_names(imc("warm", image).stdout)
    proc = start(imc, "warm", image, "--wait", "--timeout", "60s")
    assert proc.stderr is not None
    assert "waiting for it" in proc.stderr.readline()
    set_phase(custom_api, name, "Failed")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert f"ImageCache {name} is Failed" in err, err


def run_together(imc: Plugin, cp: ControlPlane, tmp_path: Path, n: int, *args: str) -> list[tuple[int, str, str]]:
    """n processes at once, through a proxy that holds their ImageCache lists until all n listed:
    each sees no cache, so all of them create the same one (the race, made certain)."""
    proxy = ApiProxy(cp, "list-barrier", barrier=n)
    try:
        kubeconfig = proxy.kubeconfig(tmp_path / "barrier")
        procs = [start(imc, *args, kubeconfig=kubeconfig) for _ in range(n)]
        return [(p.wait(90), *p.communicate()) for p in procs]
    finally:
        proxy.stop()


def test_concurrent_warms_of_the_same_images_make_one_cache(imc: Plugin, custom_api: Any,
                                                            plain_registry: LiveRegistry, control_plane: ControlPlane,
                                                            tmp_path: Path) -> None:
    image = plain_registry.ref("a/b/c/nested:1.0")
    imc("estimate", image)  # fill the local cache: every process then reaches the create at about the same time
    results = run_together(imc, control_plane, tmp_path, 3, "warm", image)
    for code, out, err in results:
        assert code == 0, (code, out, err)
    assert len(holders(custom_api, image)) == 1, holders(custom_api, image)
    made = [n for _, out, _ in results for n in created_names(out)]
    assert len(made) == 1, results  # one process created it; the others said there was nothing to do
    assert sum("was just created by another warm" in err for _, _, err in results) == 2, results


def test_concurrent_warm_waits_all_end_ready(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                             run_emulator: Callable[..., Emulator], control_plane: ControlPlane,
                                             tmp_path: Path) -> None:
    image = plain_registry.ref("sample/oci-index:1.0")
    imc("estimate", image)
    run_emulator()
    results = run_together(imc, control_plane, tmp_path, 3, "warm", image, "--wait", "--timeout", "60s")
    for code, out, err in results:
        assert code == 0, (code, out, err)
    [cache] = holders(custom_api, image)
    assert cache["status"]["phase"] == "Ready"
    for _, _, err in results:
        assert f"{cache['metadata']['name']}: Ready" in err, err  # every process waited for the one cache
