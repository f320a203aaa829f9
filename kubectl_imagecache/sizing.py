"""The sizing rule (eci-imagecache.md, "Sizing rule"), the estimate report, and byte counts for people.

Pure arithmetic over inspected images (no I/O). Never guess: when any image failed, the report
recommends no size, since a size that ignores an image would undersize the cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from .errors import EXIT_FAILURE, EXIT_OK, ImageCacheError, TooLarge, UsageError
from .imagecache.resource import MAX_GIB, MIN_GIB

if TYPE_CHECKING:  # the report reads these types only; sizing never imports the client
    from .registry.manifest import InspectResult

__all__ = [
    "MIN_GIB", "MAX_GIB", "DEFAULT_HEADROOM", "MIN_HEADROOM", "GIB",
    "TooLarge", "recommend_gib", "unique_bytes", "human_bytes", "validate_headroom", "EstimateReport", "build_report",
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


@dataclass(frozen=True)
class EstimateReport:
    images: list[dict[str, Any]]
    errors: list[dict[str, str]]
    total_bytes: int
    unique_bytes: int
    headroom: float
    size_gib: Optional[int]
    too_large: Optional[TooLarge]
    exit_code: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "totalBytes": self.total_bytes,
            "uniqueBytes": self.unique_bytes,
            "headroom": self.headroom,
            "imageCacheSizeGiB": self.size_gib,
            "errors": self.errors,
        }


def _exit_code(errors: Sequence[ImageCacheError]) -> int:
    codes = {e.exit_code for e in errors}
    return codes.pop() if len(codes) == 1 else EXIT_FAILURE


def build_report(results: Sequence[InspectResult], headroom: float = DEFAULT_HEADROOM) -> EstimateReport:
    images: list[dict[str, Any]] = []
    failures: list[ImageCacheError] = []
    errors: list[dict[str, str]] = []
    for r in results:
        if r.info is None:
            assert r.error is not None
            failures.append(r.error)
            errors.append({"image": r.image, "error": r.error.message})
            continue
        i = r.info
        images.append({
            "image": r.image,
            "reference": str(i.reference),
            "digest": i.digest,
            "platformDigest": i.platform_digest,
            "platform": str(i.platform),
            "mediaType": i.media_type,
            "layers": len(i.manifest.layers),
            "sizeBytes": i.size_bytes,
        })
    infos = [r.info for r in results if r.info is not None]
    total = sum(i.size_bytes for i in infos)
    unique = unique_bytes(i.blobs for i in infos)
    size: Optional[int] = None
    too_large: Optional[TooLarge] = None
    if not failures:
        try:
            size = recommend_gib(total, headroom)
        except TooLarge as exc:
            too_large = exc
    code = _exit_code(failures) if failures else (too_large.exit_code if too_large else EXIT_OK)
    return EstimateReport(images, errors, total, unique, headroom, size, too_large, code)
