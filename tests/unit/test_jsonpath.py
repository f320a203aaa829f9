"""The jsonpath subset: what kubectl prints for the same template and object."""

from __future__ import annotations

import pytest

from kubectl_imagecache.cli.jsonpath import parse_path, render, select
from kubectl_imagecache.errors import UsageError

LIST = {"kind": "List", "items": [
    {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "shop"}},
     "spec": {"images": ["nginx:1", "redis:7"], "imageCacheSize": 20}, "status": {"phase": "Ready"}},
    {"metadata": {"name": "b"}, "spec": {"images": ["busybox"], "imageCacheSize": 40}},
]}


@pytest.mark.parametrize("template, out", [
    ("{.items[*].metadata.name}", "a b"),
    ("{.items[0].metadata.name}", "a"),
    ("{.items[-1].metadata.name}", "b"),
    ("{$.kind}", "List"),
    ("{.items[1].spec.imageCacheSize}", "40"),
    ("{.items[*].status.phase}", "Ready"),  # a missing key prints nothing
    ("{.items[0].metadata.labels['app.kubernetes.io/name']}", "shop"),
    ('{range .items[*]}{.metadata.name}{"\\t"}{.spec.imageCacheSize}{"\\n"}{end}', "a\t20\nb\t40\n"),
    ("{range .items[*]}[{.spec.images[*]}]{end}", "[nginx:1 redis:7][busybox]"),
    ("name={.items[0].metadata.name}!", "name=a!"),
    ("{.items[0].spec.images}", '["nginx:1","redis:7"]'),
    ("{.items[0].status}", '{"phase":"Ready"}'),
    ("{.nothing.here}", ""),
    ("plain text", "plain text"),
    ("{.items[0].metadata.*}", 'a {"app.kubernetes.io/name":"shop"}'),
])
def test_render_like_kubectl(template: str, out: str) -> None:
    assert render(template, LIST) == out


@pytest.mark.parametrize("template", ["{.items[*]", "{range .items[*]}{.x}", "{end}", "{..name}",
                                      "{.items[?(@.x==1)]}", "{}", '{"open}', "{.a b}"])
def test_bad_templates_one_line(template: str) -> None:
    with pytest.raises(UsageError) as e:
        render(template, LIST)
    assert "\n" not in e.value.message and "jsonpath" in e.value.message


def test_relaxed_paths_for_custom_columns() -> None:
    item = LIST["items"][0]
    assert select(parse_path("metadata.name"), item, item) == ["a"]
    assert select(parse_path(".spec.images[*]"), item, item) == ["nginx:1", "redis:7"]
