"""The sizing rule, durations and the estimate report: pure arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_imagecache.durations import format_duration, parse_duration
from kubectl_imagecache.errors import EXIT_AUTH, EXIT_FAILURE, NotFound, TooLarge, Unauthorized, UsageError
from kubectl_imagecache.imagecache.estimate import build_report
from kubectl_imagecache.model.sizing import (
    GIB,
    human_bytes,
    recommend_gib,
    unique_bytes,
    validate_headroom,
)
from kubectl_imagecache.registry.manifest import Descriptor, ImageInfo, ImageManifest, InspectResult
from kubectl_imagecache.registry.platform import DEFAULT_PLATFORM
from kubectl_imagecache.registry.reference import parse_reference


def test_minimum_is_20_gib() -> None:
    assert recommend_gib(0) == 20
    assert recommend_gib(10 * GIB) == 20


def test_rounds_up_twice_the_total() -> None:
    assert recommend_gib(10 * GIB + 1) == 21
    assert recommend_gib(15 * GIB) == 30
    assert recommend_gib(15 * GIB, 3.0) == 45


def test_ceiling() -> None:
    assert recommend_gib(16384 * GIB) == 32768
    with pytest.raises(TooLarge, match="split"):
        recommend_gib(16384 * GIB + 1)


@given(st.integers(min_value=0, max_value=16384 * GIB), st.floats(min_value=2.0, max_value=4.0))
def test_recommendation_always_holds_headroom_times_images(total: int, headroom: float) -> None:
    try:
        gib = recommend_gib(total, headroom)
    except TooLarge:
        assert headroom * total > 32768 * GIB
        return
    assert gib >= 20
    assert gib * GIB >= headroom * total
    assert (gib - 1) * GIB < headroom * total or gib == 20


@pytest.mark.parametrize("bad", [1.99, 0, -1, float("nan"), float("inf")])
def test_headroom_below_two_is_refused(bad: float) -> None:
    with pytest.raises(UsageError, match="--headroom"):
        validate_headroom(bad)


def test_unique_counts_shared_blobs_once() -> None:
    assert unique_bytes([[("a", 5), ("b", 7)], [("a", 5), ("c", 1)]]) == 13


@pytest.mark.parametrize("n, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"),
                                     (3 * GIB, "3 GiB"), (5 << 40, "5 TiB")])
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("30m", 1800), ("1h", 3600),
                                           ("1h30m", 5400), ("7d", 604800), ("1.5h", 5400), ("2w", 1209600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--x") == seconds


@pytest.mark.parametrize("text", ["", "abc", "1x", "h1", "-5", "1h 30m"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match="--cache-ttl"):
        parse_duration(text, "--cache-ttl")


def test_format_duration_like_kubectl() -> None:
    assert [format_duration(s) for s in (5, 61, 7200, 3 * 86400)] == ["5s", "61s", "120m", "3d"]


def _info(image: str, layers: list[tuple[str, int]]) -> InspectResult:
    ref = parse_reference(image)
    d = "sha256:" + "c" * 64
    m = ImageManifest("application/vnd.oci.image.manifest.v1+json", Descriptor("", "sha256:" + "f" * 64, 100),
                      tuple(Descriptor("", dig, size) for dig, size in layers))
    return InspectResult(image, info=ImageInfo(ref, d, m.media_type, d, DEFAULT_PLATFORM, m))


def test_report_counts_total_unique_and_recommends() -> None:
    report = build_report([_info("a", [("sha256:1", 10 * GIB)]), _info("b", [("sha256:1", 10 * GIB)])])
    assert report.total_bytes == 20 * GIB + 200
    assert report.unique_bytes == 10 * GIB + 100  # same config and layer in both
    assert report.size_gib == 41
    assert report.exit_code == 0
    d = report.to_dict()
    assert set(d) >= {"images", "totalBytes", "uniqueBytes", "imageCacheSizeGiB", "errors"}
    assert set(d["images"][0]) >= {"image", "reference", "digest", "platformDigest", "platform", "layers", "sizeBytes"}


def test_any_failure_means_no_size_and_nonzero_exit() -> None:
    report = build_report([_info("a", [("sha256:1", 1)]), InspectResult("b", error=NotFound("gone"))])
    assert report.size_gib is None
    assert report.errors == [{"image": "b", "error": "gone"}]
    assert report.exit_code != 0
    mixed = build_report([InspectResult("b", error=NotFound("x")), InspectResult("c", error=Unauthorized("y"))])
    assert mixed.exit_code == EXIT_FAILURE
    auth = build_report([InspectResult("c", error=Unauthorized("y"))])
    assert auth.exit_code == EXIT_AUTH


def test_too_large_is_reported_not_recommended() -> None:
    report = build_report([_info("a", [("sha256:1", 20000 * GIB)])])
    assert report.size_gib is None and report.too_large is not None and report.exit_code != 0
