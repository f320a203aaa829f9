"""`refresh` after a moved tag, on the real API server with the emulated controller and a real registry.

A watch follows every ImageCache while refresh runs and checks, after each event, that a Ready
cache lists the image: the replacement must be Ready before the stale cache goes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.cluster.commands_support import Plugin, created_names, get_imagecache, imagecaches, unique, wait_until
from tests.fakes import oci
from tests.fakes.controlplane import GROUP, PLURAL, VERSION
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry

DIGESTS = "kubectl-imagecache.io/digests"


class ReadyWatch:
    """Every moment a watch observes, is some cache listing ``image`` Ready? (gaps recorded)."""

    def __init__(self, admin_api: Any, image: str) -> None:
        from kubernetes import client, watch

        self.api = client.CustomObjectsApi(admin_api)
        self.image, self.watch = image, watch.Watch()
        self.caches: dict[str, dict[str, Any]] = {}
        self.gaps: list[str] = []
        self.events = 0
        items = self.api.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        self.caches = {o["metadata"]["name"]: o for o in items["items"]}
        self.version = items["metadata"]["resourceVersion"]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.stopped = False

    def covered(self) -> bool:
        return any(self.image in (o.get("spec") or {}).get("images", []) and
                   (o.get("status") or {}).get("phase") == "Ready" for o in self.caches.values())

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as exc:  # the stream closed by stop() ends this way
            if not self.stopped:
                self.gaps.append(f"watch failed: {exc!r}")

    def _follow(self) -> None:
        for ev in self.watch.stream(self.api.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                    resource_version=self.version, timeout_seconds=120):
            obj = ev["object"]
            name = obj["metadata"]["name"]
            if ev["type"] == "DELETED":
                self.caches.pop(name, None)
            else:
                self.caches[name] = obj
            self.events += 1
            if not self.covered():
                self.gaps.append(f"{ev['type']} {name}")

    def __enter__(self) -> ReadyWatch:
        assert self.covered(), "no Ready cache before the refresh"
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # Catch up with what happened up to now before judging: the watch must have seen every change.
        listed = self.api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listed}
        wait_until(lambda: {n: o["metadata"]["resourceVersion"] for n, o in self.caches.items()} == want,
                   timeout=10, what="the watch caught up")
        self.stopped = True
        self.watch.stop()
        self.thread.join(timeout=10)


def push(reg: LiveRegistry, repo: str, tag: str, seed: str) -> str:
    return reg.client.push_image(repo, tag, [oci.random_bytes(seed, 2048)]).digest


def push_corrupt(reg: LiveRegistry, repo: str, tag: str) -> None:
    """repo:tag -> a manifest whose layer declares more bytes than its blob has: the build fails."""
    layer = reg.client.push_blob(repo, b"y" * 100)
    config = reg.client.push_blob(repo, oci.canonical_json({"architecture": "amd64", "os": "linux"}), oci.MT_OCI_CONFIG)
    body = oci.canonical_json({"schemaVersion": 2, "mediaType": oci.MT_OCI_MANIFEST, "config": config.to_json(),
                               "layers": [{**layer.to_json(), "size": 4096}]})
    reg.client.push_manifest(repo, tag, body, oci.MT_OCI_MANIFEST)


@pytest.fixture
def emulator(run_emulator: Callable[..., Emulator]) -> Iterator[Emulator]:
    yield run_emulator()


def test_refresh_replaces_a_stale_cache_with_a_ready_one_at_every_moment(
        imc: Plugin, admin_api: Any, custom_api: Any, plain_registry: LiveRegistry, emulator: Emulator,
        tmp_path: Path) -> None:
    reg = plain_registry
    repo = unique("refresh/app")
    image = f"{reg.host}/{repo}:v1"
    first = push(reg, repo, "v1", f"{repo}-1")
    w = imc("warm", image, "--wait", "--timeout", "60s")
    assert w.code == 0, w
    [old] = created_names(w.stdout)
    second = push(reg, repo, "v1", f"{repo}-2")

    # list and describe: within the metadata cache's TTL the digest warm saw is trusted (no request,
    # so the move is not seen yet); a fresh cache asks the registry (HEAD) and sees it.
    def stale_cell(plugin: Plugin) -> str:
        r = plugin("list", old)
        assert r.code == 0, r
        header, row = r.stdout.splitlines()
        return row.split()[header.split().index("STALE")]

    assert stale_cell(imc) == "no"
    other_home = tmp_path / "other-home"
    other_home.mkdir()
    fresh = Plugin(imc.kubeconfig, other_home)
    assert stale_cell(fresh) == "yes"
    desc = fresh("describe", old)
    assert desc.code == 0, desc
    assert f"{image}  recorded {first}  current {second}  STALE" in desc.stdout

    d = imc("refresh", "--all-stale", "--dry-run", "-o", "json", "--refresh")
    assert d.code == 0, d
    [planned] = [p for p in d.json()["refreshes"] if p["old"] == old]
    assert planned["changes"][0]["current"] == second
    assert planned["name"] not in imagecaches(custom_api)  # a dry run creates nothing

    with ReadyWatch(admin_api, image) as watch:
        r = imc("refresh", old, "--timeout", "60s", "--refresh")
    assert r.code == 0, r
    assert watch.events >= 2 and watch.gaps == []
    caches = imagecaches(custom_api)
    assert old not in caches
    new = caches[planned["name"]]
    assert new["status"]["phase"] == "Ready"
    assert json.loads(new["metadata"]["annotations"][DIGESTS]) == {image: second}
    assert new["metadata"]["annotations"]["kubectl-imagecache.io/replaces"] == old
    assert f"imagecache.eci.alibabacloud.com/{planned['name']} created" in r.stdout

    # Fresh now: nothing to do.
    again = imc("refresh", planned["name"], "--refresh")
    assert again.code == 0 and "is not stale" in again.stderr

    # The tag moves to content the cloud cannot build: the replacement fails, the old cache stays.
    push_corrupt(reg, repo, "v1")
    with ReadyWatch(admin_api, image) as watch:
        f = imc("refresh", planned["name"], "--timeout", "60s", "--refresh")
    assert f.code == 1, f
    assert "is Failed" in f.stderr and f"{planned['name']} stays" in f.stderr
    assert get_imagecache(custom_api, planned["name"])["status"]["phase"] == "Ready"
    assert watch.gaps == []


def test_refresh_needs_names_or_all_stale(imc: Plugin) -> None:
    r = imc("refresh")
    assert r.code == 2 and "--all-stale" in r.stderr
    r = imc("refresh", "x", "--all-stale")
    assert r.code == 2
    r = imc("refresh", "does-not-exist")
    assert r.code == 4 and "not found" in r.stderr
