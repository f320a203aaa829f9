"""Why a cache may go: the prune reasons, written once. Pure facts."""

from __future__ import annotations

import enum
from typing import Sequence

__all__ = ["Reason", "REASONS", "DEFAULT_REASONS", "USAGE_REASONS", "parse_reasons"]


class Reason(str, enum.Enum):
    EXPIRED = "expired"  # its expiry passed: ECI deleted the snapshot, no pod can use it
    FAILED = "failed"  # Failed/UpdateFailed past a grace: never built, no pod can use it
    UNUSED = "unused"  # no running or pending pod uses any of its images
    SUPERSEDED = "superseded"  # a newer cache that stays holds all of its images
    OLDER_THAN = "older-than"  # older than a limit the user gave

    def __str__(self) -> str:
        return self.value


REASONS = tuple(r.value for r in Reason)  # the order reasons are listed in
DEFAULT_REASONS = frozenset({Reason.EXPIRED.value, Reason.FAILED.value, Reason.UNUSED.value,
                             Reason.SUPERSEDED.value})
# The reasons that judge a cache by what pods use or pin: they need every pod and template read.
# Expired and failed caches hold nothing a pod can start from.
USAGE_REASONS = frozenset({Reason.UNUSED.value, Reason.SUPERSEDED.value})


def parse_reasons(values: Sequence[str]) -> tuple[list[str], list[str]]:
    """(known, unknown) reasons from comma lists, in the order given, without duplicates."""
    known: list[str] = []
    unknown: list[str] = []
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            (known if part in REASONS else unknown).append(part)
    return list(dict.fromkeys(known)), unknown
