"""The cyclic GC paused where a cluster command allocates most: importing the Kubernetes client and
decoding API answers (a 500-pod page is ~300,000 containers)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading

import pytest

from kubectl_imagecache.kube.api import _decode
from kubectl_imagecache.kube.gcpause import paused

# ~60,000 dicts and lists: far past the collector's first threshold (700 allocations).
BIG = json.dumps({"items": [{"metadata": {"name": f"p-{i}", "labels": {"a": "b"}}, "spec": {"c": [{"i": i}]}}
                            for i in range(12_000)]}).encode()


def test_no_collection_runs_while_a_page_decodes() -> None:
    starts: list[dict] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            starts.append(info)

    assert gc.isenabled()
    gc.collect()  # from zero, so no collection is due when the test starts
    gc.callbacks.append(record)
    try:
        doc = _decode(BIG)
    finally:
        gc.callbacks.remove(record)
    # At most the one young-generation pass due as soon as the collector is back on (a plain
    # json.loads of this text runs it ~100 times).
    assert len(starts) <= 1 and all(info["generation"] == 0 for info in starts)
    assert len(doc["items"]) == 12_000 and doc["items"][7]["spec"]["c"][0]["i"] == 7
    assert gc.isenabled()  # restored


def test_a_collector_the_caller_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        _decode(b'{"a": 1}')
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_bad_json_still_raises_and_the_collector_is_back_on() -> None:
    with pytest.raises(ValueError):
        _decode(b'{"items": [')
    assert gc.isenabled()


def test_pauses_nest_and_survive_errors() -> None:
    with pytest.raises(RuntimeError):
        with paused():
            with paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the inner pause does not end the outer one
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_threads_pausing_at_once_leave_the_collector_on() -> None:
    def work() -> None:
        for _ in range(200):
            with paused():
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled()


IMPORT_PROBE = """
import gc
from kubectl_imagecache.kube.gcpause import import_client
runs = []
gc.collect()  # from zero, so no collection is due when the probe starts
gc.callbacks.append(lambda phase, info: runs.append(phase) if phase == "start" else None)
import_client()
import kubernetes.client, kubernetes.config
print(len(runs), gc.get_freeze_count(), gc.isenabled())
"""


def test_the_client_is_imported_without_a_collection_and_then_frozen() -> None:
    # A fresh interpreter: in this one the client may already be imported.
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True).stdout
    runs, frozen, enabled = out.split()
    assert int(runs) <= 1  # the pass due once the collector is back on; a plain import runs it ~150 times
    assert int(frozen) > 20_000  # the client's classes, functions and dicts (~57,000): never walked again
    assert enabled == "True"
