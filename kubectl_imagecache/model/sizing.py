"""The sizing rule (eci-imagecache.md, "Sizing rule") and byte counts for people. Pure arithmetic.

Every size a command recommends or creates comes from :func:`recommend_gib`.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from ..errors import TooLarge, UsageError
from .imagecache import MAX_GIB, MIN_GIB

__all__ = [
    "MIN_GIB", "MAX_GIB", "DEFAULT_HEADROOM", "MIN_HEADROOM", "GIB",
    "recommend_gib", "unique_bytes", "human_bytes", "validate_headroom",
]

GIB = 1 << 30
DEFAULT_HEADROOM = 2.0
MIN_HEADROOM = 2.0  # ECI refuses caches smaller than twice their images


def validate_headroom(headroom: float) -> float:
    if not math.isfinite(headroom) or headroom < MIN_HEADROOM:
        raise UsageError(
            f"--headroom {headroom} is too small: ECI needs a cache at least {MIN_HEADROOM:g}x its images' size"
        )
    return headroom


def recommend_gib(total_bytes: int, headroom: float = DEFAULT_HEADROOM) -> int:
    """max(20, ceil(headroom x total / GiB)); raises TooLarge above the 32768 GiB ceiling."""
    gib = max(MIN_GIB, math.ceil(headroom * total_bytes / GIB))
    if gib > MAX_GIB:
        raise TooLarge(
            f"these images need {gib} GiB of cache but one ImageCache holds at most {MAX_GIB} GiB: "
            "split them into several caches (fewer images per estimate)"
        )
    return gib


def unique_bytes(blob_sets: Iterable[Sequence[tuple[str, int]]]) -> int:
    """Total of distinct blobs (digest, size) across images: shared layers counted once."""
    seen: dict[str, int] = {}
    for blobs in blob_sets:
        for digest, size in blobs:
            seen[digest] = size
    return sum(seen.values())


def human_bytes(n: int) -> str:
    """Binary units, three significant figures, as kubectl/du users read them."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
