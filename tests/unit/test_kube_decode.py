"""kube.api decodes API answers with the cyclic GC paused (a 500-pod page is ~300,000 containers)."""

from __future__ import annotations

import gc
import json

import pytest

from kubectl_imagecache.kube.api import _decode

# ~60,000 dicts and lists: far past the collector's first threshold (700 allocations).
BIG = json.dumps({"items": [{"metadata": {"name": f"p-{i}", "labels": {"a": "b"}}, "spec": {"c": [{"i": i}]}}
                            for i in range(12_000)]}).encode()


def test_no_collection_runs_while_a_page_decodes() -> None:
    starts: list[dict] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            starts.append(info)

    assert gc.isenabled()
    gc.callbacks.append(record)
    try:
        doc = _decode(BIG)
    finally:
        gc.callbacks.remove(record)
    assert starts == []
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
