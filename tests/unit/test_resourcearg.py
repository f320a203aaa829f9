"""TYPE/NAME arguments: every spelling kubectl accepts for an ImageCache, other kinds refused."""

from __future__ import annotations

import pytest

from kubectl_imagecache.cli.resourcearg import parse_name, parse_names
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
