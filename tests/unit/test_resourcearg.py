"""TYPE/NAME arguments: every spelling kubectl accepts for an ImageCache, other kinds refused."""

from __future__ import annotations

import pytest

from kubectl_imagecache.cli.resourcearg import parse_name, parse_names, type_only
from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.model.imagecache import RESOURCE


@pytest.mark.parametrize("arg", [
    "x", "imagecache/x", "imagecaches/x", "imc/x", "ic/x", "ImageCache/x", "IMC/x",
    "imagecaches.eci.alibabacloud.com/x", "imagecache.eci.alibabacloud.com/x", "imagecaches.v1.eci.alibabacloud.com/x",
    f"{RESOURCE}/x",  # what -o name prints
])
def test_spellings_name_the_cache(arg: str) -> None:
    assert parse_name(arg) == "x"


@pytest.mark.parametrize("arg", ["pod/x", "deployment/x", "imagecaches.example.com/x", "configmaps/x"])
def test_other_kinds_refused_in_one_line(arg: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_name(arg)
    assert "is not an ImageCache" in e.value.message and "\n" not in e.value.message


@pytest.mark.parametrize("arg", ["imc/", "imc/a/b", ""])
def test_no_name_refused(arg: str) -> None:
    with pytest.raises(UsageError):
        parse_name(arg)


def test_duplicates_across_spellings_dropped() -> None:
    assert parse_names(["a", "imc/a", "imagecache/b", "a"]) == ("a", "b")


@pytest.mark.parametrize("args, names", [
    (["imagecache", "a", "b"], ("a", "b")), (["imc", "a"], ("a",)), (["imagecaches", "a", "imc"], ("a", "imc")),
    (["ImageCache.eci.alibabacloud.com", "a"], ("a",)), (["imagecache"], ()), (["a", "imc"], ("a", "imc")),
])
def test_type_then_names_as_kubectl(args: list[str], names: tuple[str, ...]) -> None:
    assert parse_names(args) == names


def test_type_alone_is_every_cache_only_when_alone() -> None:
    assert type_only(["imagecaches"]) and type_only(["IMC"])
    assert not type_only(["imc", "a"]) and not type_only(["a"]) and not type_only([])


def test_type_then_type_slash_name_refused_as_kubectl() -> None:
    with pytest.raises(UsageError, match='"imc/a" after the type: name the cache once'):
        parse_names(["imagecache", "imc/a"])
