"""Platforms (os/arch[/variant]) and choosing one entry of a multi-platform index."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..errors import UsageError

__all__ = ["Platform", "DEFAULT_PLATFORM", "parse_platform", "platform_of", "is_attestation"]

_PART = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# The variant an architecture has when a manifest leaves it out (as containerd normalises).
_DEFAULT_VARIANT = {"arm64": "v8"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: Optional[str] = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    def matches(self, other: Platform) -> bool:
        """Whether an index entry's platform satisfies this requested one.

        A request without a variant takes any variant of its architecture; with one, the entry's
        variant must agree once both are normalised (arm64 is v8 unless it says otherwise).
        """
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if self.variant is None:
            return True
        default = _DEFAULT_VARIANT.get(self.architecture)
        return (self.variant or default) == (other.variant or default)


DEFAULT_PLATFORM = Platform("linux", "amd64")


def parse_platform(text: str) -> Platform:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
        raise UsageError(
            f'invalid platform "{text}": use OS/ARCH or OS/ARCH/VARIANT in lowercase, e.g. linux/arm64/v8'
        )
    return Platform(*parts)  # type: ignore[arg-type]


def platform_of(descriptor: Mapping[str, Any]) -> Optional[Platform]:
    """The platform an index entry declares, or None when it declares none."""
    p = descriptor.get("platform")
    if not isinstance(p, Mapping):
        return None
    os_, arch = p.get("os"), p.get("architecture")
    if not isinstance(os_, str) or not isinstance(arch, str):
        return None
    variant = p.get("variant")
    return Platform(os_, arch, variant if isinstance(variant, str) and variant else None)


def is_attestation(descriptor: Mapping[str, Any]) -> bool:
    """Build attestations sit in indexes as unknown/unknown entries; they are not images."""
    annotations = descriptor.get("annotations") or {}
    if isinstance(annotations, Mapping) and "vnd.docker.reference.type" in annotations:
        return True
    p = platform_of(descriptor)
    return p is not None and p.os == "unknown" and p.architecture == "unknown"
