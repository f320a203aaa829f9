"""The ImageCache resource module: timestamps as Go writes them, objects as the permissive CRD allows."""

from __future__ import annotations

import datetime as dt

import pytest

from kubectl_imagecache.model import imagecache as imc

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-01-02T03:04:05Z", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05.1Z", dt.datetime(2026, 1, 2, 3, 4, 5, 100000, tzinfo=UTC)),
    ("2026-01-02T03:04:05.12Z", dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)),
    ("2026-01-02T03:04:05.1234Z", dt.datetime(2026, 1, 2, 3, 4, 5, 123400, tzinfo=UTC)),
    ("2026-01-02T03:04:05.123456789Z", dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ("2026-01-02T11:04:05+08:00", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05.5-01:30", dt.datetime(2026, 1, 2, 4, 34, 5, 500000, tzinfo=UTC)),
])
def test_go_rfc3339_timestamps_parse_on_every_python(text: str, expected: dt.datetime) -> None:
    # Python 3.10's fromisoformat refuses "Z" and fractions other than 3 or 6 digits.
    assert imc.parse_time(text) == expected


@pytest.mark.parametrize("text", [None, "", "yesterday", 12, "2026-13-01T00:00:00Z", "2026-01-02T03:04:05",
                                  "2026-01-02T03:04:05.1234567890Z"])
def test_malformed_timestamps_are_none(text: object) -> None:
    assert imc.parse_time(text) is None


def test_permissive_objects_read_with_defaults() -> None:
    bare = {"metadata": {"name": "x"}, "spec": {"images": ["nginx"]}}
    assert imc.phase(bare) == imc.PENDING and imc.progress(bare) == "0%"
    assert imc.size_gib(bare) is None and imc.effective_size_gib(bare) == imc.DEFAULT_SIZE_GIB == 20
    assert imc.expires_at(bare) is None and imc.digests(bare) == {} and imc.cache_id(bare) is None
    hostile = {"metadata": {"name": "y", "annotations": {imc.ANN_DIGESTS: "{not json"}},
               "spec": {"images": "nginx", "imageCacheSize": True}, "status": "broken"}
    assert imc.images(hostile) == [] and imc.size_gib(hostile) is None and imc.digests(hostile) == {}
    assert imc.phase(hostile) == imc.PENDING


def test_expiry_from_retention_before_the_cloud_writes_it() -> None:
    obj = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"retentionDays": 2}}
    assert imc.expires_at(obj) == dt.datetime(2026, 1, 3, tzinfo=UTC)
    obj["status"] = {"expireDateTime": "2026-01-05T00:00:00.000000001Z"}
    assert imc.expires_at(obj) == dt.datetime(2026, 1, 5, tzinfo=UTC)


def test_phase_sets() -> None:
    assert imc.UPDATING in imc.LIVE_PHASES and imc.READY in imc.LIVE_PHASES
    assert not imc.FAILED_PHASES & imc.LIVE_PHASES
    assert set(imc.PHASES) == imc.LIVE_PHASES | imc.FAILED_PHASES
