"""The plugin on ImageCaches shaped as Alibaba's permissive CRD and the cloud leave them.

No size (the cloud's 20 GiB applies), no status, the cloud's phases beyond the CRD's (Preparing,
Updating, UpdateFailed), and timestamps as Go writes them (fractions, +08:00 offsets).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from tests.cluster.commands_support import Plugin, big_ref, create_imagecache, get_imagecache, unique, wait_until
from tests.fakes.controlplane import GROUP, PLURAL, VERSION
from tests.fakes.emulator import Emulator, gotime
from tests.fakes.registry import LiveRegistry

CST = "+08:00"


def go_time(offset_seconds: float, style: str = "offset-millis") -> str:
    return gotime.format_time(gotime.now_ns() + int(offset_seconds * gotime.NS), style)


def test_list_shows_what_the_permissive_crd_allows(imc: Plugin, custom_api: Any) -> None:
    group = unique("perm")
    labels = {"grp": group}
    create_imagecache(custom_api, f"{group}-bare", ["registry.example/a:1"], labels=labels)  # no size, no status
    create_imagecache(custom_api, f"{group}-prep", ["registry.example/b:1"], labels=labels, imageCacheSize=25,
                      status={"phase": "Preparing", "progress": "0%", "imageCacheId": "imc-prep",
                              "startTime": go_time(-5, "utc-nano")})
    create_imagecache(custom_api, f"{group}-upd", ["registry.example/c:1"], labels=labels,
                      status={"phase": "Updating", "progress": "40%", "imageCacheId": "imc-upd"})
    create_imagecache(custom_api, f"{group}-updfail", ["registry.example/d:1"], labels=labels, imageCacheSize=30,
                      retentionDays=3, status={"phase": "UpdateFailed", "progress": "100%",
                                               "imageCacheId": "imc-updfail", "reason": "too small",
                                               "expireDateTime": go_time(2 * 86400 + 3600)})
    r = imc("list", "-l", f"grp={group}")
    assert r.code == 0, r
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert rows[f"{group}-bare"][:7] == [f"{group}-bare", "Pending", "0%", "<none>", "<default>", "1", "never"]
    assert rows[f"{group}-prep"][1:5] == ["Preparing", "0%", "imc-prep", "25Gi"]
    assert rows[f"{group}-upd"][1:5] == ["Updating", "40%", "imc-upd", "<default>"]
    assert rows[f"{group}-updfail"][1:8] == ["UpdateFailed", "100%", "imc-updfail", "30Gi", "1", "in", "2d"]


def test_prune_reads_expiry_written_with_an_offset(imc: Plugin, custom_api: Any) -> None:
    group = unique("perm")
    labels = {"grp": group}
    past, future = go_time(-3600), go_time(3600)
    assert past.endswith(CST) and future.endswith(CST)
    for name, when in ((f"{group}-gone", past), (f"{group}-kept", future)):
        create_imagecache(custom_api, name, ["registry.example/e:1"], labels=labels, retentionDays=1,
                          status={"phase": "Ready", "progress": "100%", "expireDateTime": when})
    r = imc("prune", "-o", "json", "--reason", "expired", "-l", f"grp={group}")
    assert r.code == 0, r
    assert {c["name"]: c["reasons"] for c in r.json()["candidates"]} == {f"{group}-gone": ["expired"]}


def test_warm_wait_follows_the_clouds_phases(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                             run_emulator: Callable[..., Emulator]) -> None:
    run_emulator(step_delay=0.1)
    name = unique("perm")
    r = imc("warm", plain_registry.ref("sample/oci-single:1.0"), "--name", name, "--wait", "--timeout", "60s")
    assert r.code == 0, r
    shown = [line.split()[1] for line in r.stderr.splitlines() if line.startswith(f"{name}: ")]
    assert shown[-1] == "Ready" and "Preparing" in shown and "Creating" in shown, r.stderr


def test_wait_fails_at_once_on_update_failed(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                             run_emulator: Callable[..., Emulator]) -> None:
    run_emulator(step_delay=0.3)
    name = unique("perm")
    create_imagecache(custom_api, name, [plain_registry.ref("sample/oci-single:1.0")])  # no size: 20 GiB
    wait_until(lambda: get_imagecache(custom_api, name).get("status", {}).get("phase") == "Ready", 30, "Ready")
    custom_api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {
        "images": [plain_registry.ref("sample/oci-single:1.0"), big_ref(plain_registry)]}})
    wait_until(lambda: get_imagecache(custom_api, name)["status"]["phase"] == "Updating", 30, "Updating")
    t0 = time.monotonic()
    r = imc("wait", name, "--timeout", "60s")
    assert r.code != 0, r
    assert f"ImageCache {name} is UpdateFailed: imageCacheSize 20 GiB is less than twice" in r.stderr, r
    assert time.monotonic() - t0 < 30
