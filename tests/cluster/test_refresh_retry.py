"""A refresh whose replacement failed is tried again by the next sync, once, and the old cache stays Ready
until the new try is: the failed replacement goes at once (no pod can use it), not after prune's grace."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any, Callable

from tests.cluster.commands_support import Plugin, create_imagecache, imagecaches, unique
from tests.cluster.test_coverage import deployment
from tests.cluster.test_sync import push
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry

DIGESTS = "kubectl-imagecache.io/digests"
WORKLOADS = "kubectl-imagecache.io/workloads"
REPLACES = "kubectl-imagecache.io/replaces"


def test_the_next_sync_retires_a_failed_replacement_and_tries_again(
        imc: Plugin, custom_api: Any, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator]) -> None:
    reg, ns = plain_registry, namespace
    repo = unique("retry/web")
    image = f"{reg.host}/{repo}:v1"
    first = push(reg, repo, "v1", f"{repo}-1")
    old = unique("retry-old")
    create_imagecache(custom_api, old, [image], imageCacheSize=20,
                      annotations={DIGESTS: json.dumps({image: first}),
                                   WORKLOADS: json.dumps([f"deployment/{ns}/web"])},
                      status={"phase": "Ready", "progress": "100%", "imageCacheId": "imc-" + secrets.token_hex(8)})
    deployment(admin_api, ns, "web", [image])
    push(reg, repo, "v1", f"{repo}-2")  # the tag moves: old is stale
    args = ["sync", "-n", ns, "--lease-namespace", ns, "--refresh", "--timeout", "60s", "-o", "json"]
    preview = imc(*args)
    assert preview.code == 0, preview
    [planned] = preview.json()["plan"]["refreshes"]
    # What an earlier run left: its replacement failed a minute ago (well within prune's 1 h grace).
    failed_at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    create_imagecache(custom_api, planned["name"], [image], imageCacheSize=20, annotations={REPLACES: old},
                      status={"phase": "Failed", "reason": "ImagePullFailed", "lastUpdatedTime": failed_at})
    run_emulator()

    done = imc(*args, "--yes", timeout=180)
    assert done.code == 0, done
    plan, out = done.json()["plan"], done.json()["outcome"]
    [retry] = plan["refreshes"]
    assert retry["retires"] == [planned["name"]] and retry["name"] != planned["name"], plan
    assert out["ready"] == [retry["name"]] and sorted(out["deleted"]) == sorted([planned["name"], old]), out
    caches = imagecaches(custom_api)
    assert caches[retry["name"]]["status"]["phase"] == "Ready"
    assert planned["name"] not in caches and old not in caches
