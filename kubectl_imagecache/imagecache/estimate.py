"""The estimate report: inspected images in, a recommended size (or none) out. Pure.

Never guess: when any image failed, the report recommends no size, since a size that ignores an
image would undersize the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..errors import EXIT_FAILURE, EXIT_OK, ImageCacheError, TooLarge
from ..model.sizing import DEFAULT_HEADROOM, recommend_gib, unique_bytes

if TYPE_CHECKING:  # the report reads these types only; it never imports the client
    from ..registry.manifest import InspectResult

__all__ = ["EstimateReport", "build_report"]


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
