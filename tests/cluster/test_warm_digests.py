"""`warm` after a moved tag, against a real registry and API server: idempotency compares digests.

ECI matches pods to caches by repository and tag, so a cache built before the tag moved still
"matches" and serves the old image. warm records each image's digest (kubectl-imagecache.io/digests);
a live cache whose recorded digests differ from what the tags resolve to now is stale, and
`warm --refresh` creates its replacement instead of answering "nothing to do".
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from tests.cluster.commands_support import Plugin, create_imagecache, created_names, get_imagecache, unique
from tests.fakes import oci
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry

DIGESTS = "kubectl-imagecache.io/digests"


def push(reg: LiveRegistry, repo: str, tag: str, seed: str) -> str:
    """Push a small image of its own content to repo:tag (moving the tag if it exists); its digest."""
    return reg.client.push_image(repo, tag, [oci.random_bytes(seed, 2048)]).digest


def recorded(custom_api: Any, name: str) -> dict[str, str]:
    return json.loads(get_imagecache(custom_api, name)["metadata"]["annotations"][DIGESTS])  # type: ignore[no-any-return]


def test_refresh_after_a_moved_tag_replaces_the_stale_cache(imc: Plugin, custom_api: Any,
                                                             plain_registry: LiveRegistry,
                                                             run_emulator: Callable[..., Emulator]) -> None:
    reg = plain_registry
    repo = unique("moving/app")
    image = f"{reg.host}/{repo}:v1"
    first = push(reg, repo, "v1", f"{repo}-first")
    run_emulator()
    r = imc("warm", image, "--wait", "--timeout", "60s")
    assert r.code == 0, r
    [old] = created_names(r.stdout)
    assert recorded(custom_api, old) == {image: first}

    second = push(reg, repo, "v1", f"{repo}-second")  # the tag moves to other content
    assert second != first
    time.sleep(1.1)  # creationTimestamp has whole seconds: the replacement must be visibly newer for prune
    r = imc("warm", image, "--refresh", "--wait", "--timeout", "60s")
    assert r.code == 0, r
    assert f"ImageCache {old} holds these images at older digests (stale): creating a replacement" in r.stderr
    assert "nothing to do" not in r.stderr
    [new] = created_names(r.stdout)
    assert new == f"{old}-2"  # the derived name is the stale cache's: the replacement is numbered
    assert recorded(custom_api, new) == {image: second}
    assert get_imagecache(custom_api, new)["status"]["phase"] == "Ready"

    # The replacement holds the images at today's digests: warm is idempotent again.
    again = imc("warm", image, "--refresh")
    assert again.code == 0, again
    assert again.stdout == ""
    assert f"ImageCache {new} already holds these 1 image(s)" in again.stderr
    assert "stale" not in again.stderr

    # ...and prune sees the stale cache superseded by its Ready replacement, never the other way round.
    p = imc("prune", "--reason", "superseded", "-o", "json")
    assert p.code == 0, p
    planned = {c["name"]: c["reasons"] for c in p.json()["candidates"]}
    assert planned.get(old) == ["superseded"] and new not in planned


def test_a_named_stale_cache_is_replaced_but_a_name_taken_by_other_images_still_refused(
        imc: Plugin, custom_api: Any, plain_registry: LiveRegistry) -> None:
    reg = plain_registry
    repo, name = unique("moving/named"), unique("web-cache")
    image = f"{reg.host}/{repo}:v1"
    push(reg, repo, "v1", f"{repo}-first")
    r = imc("warm", image, "--name", name)
    assert r.code == 0, r
    assert created_names(r.stdout) == [name]

    second = push(reg, repo, "v1", f"{repo}-second")
    r = imc("warm", image, "--name", name, "--refresh")
    assert r.code == 0, r
    assert f"ImageCache {name} holds these images at older digests (stale): creating a replacement" in r.stderr
    assert created_names(r.stdout) == [f"{name}-2"]
    assert recorded(custom_api, f"{name}-2") == {image: second}

    other = reg.ref("sample/oci-single:1.0")
    r = imc("warm", other, "--name", name)
    assert r.code == 2, r
    assert f'an ImageCache named "{name}" already exists with other images or size' in r.stderr


def test_a_cache_without_recorded_digests_holds_and_warm_says_it_could_not_check(
        imc: Plugin, custom_api: Any, plain_registry: LiveRegistry) -> None:
    image = plain_registry.ref("sample/oci-single:1.0")
    foreign = unique("foreign")
    # Made by another tool (or by hand): no digests annotation, so a moved tag cannot be told.
    create_imagecache(custom_api, foreign, [image], imageCacheSize=40, status={"phase": "Ready", "progress": "100%"})
    r = imc("warm", image, "--refresh")
    assert r.code == 0, r
    assert r.stdout == ""
    assert (f"ImageCache {foreign} already holds these 1 image(s) with 20 GiB or more (it records no digests, "
            "so a moved tag cannot be told): nothing to do") in r.stderr
