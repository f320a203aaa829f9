"""Platforms (os/arch[/variant]) parsed, normalized and matched exactly as containerd does.

containerd pulls the images on ECI, so the platform an estimate sizes must be the one containerd
picks. This is a port of github.com/containerd/platforms (platforms.go, database.go, compare.go,
platform_windows_compat.go); tests/unit/test_platform_containerd.py carries its test tables.

Where the port differs, on purpose:
- what containerd takes from the host (runtime.GOOS/GOARCH for "arm64" or "linux" alone, or an
  empty os) is ECI's default here: linux and amd64;
- wildcards and more than three components are refused, as containerd refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence
from urllib.parse import unquote

from ..errors import UsageError
from ..escape import clean, quote

__all__ = [
    "Platform", "DEFAULT_PLATFORM", "parse_platform", "normalize", "canonical", "format_platform", "format_all",
    "MatchComparer", "only", "only_strict", "ordered", "any_of", "platform_of", "platform_from_config",
    "is_attestation",
]

# What containerd would take from the host; ECI's nodes are linux/amd64 unless asked otherwise.
HOST_OS = "linux"
HOST_ARCH = "amd64"

_SPECIFIER = re.compile(r"^[A-Za-z0-9_.-]+$")
_OS_PART = re.compile(r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$")
# Fields longer than this in a registry's platform are not a platform: no match, shown cut.
_FIELD_MAX = 128

_KNOWN_OS = frozenset({
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd",
    "openbsd", "plan9", "solaris", "windows", "zos",
})
_KNOWN_ARCH = frozenset({
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips", "mipsle",
    "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64",
    "wasm",
})

# compare.go: the arm64 variants each one can run, as (major versions, highest minor for each).
_ARM64_VERSIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "v8": ((8,), (0,)), "v8.0": ((8,), (0,)),
    **{f"v8.{m}": ((8,), (m,)) for m in range(1, 10)},
    "v9": ((9, 8), (0, 5)), "v9.0": ((9, 8), (0, 5)),
    **{f"v9.{m}": ((9, 8), (m, min(m + 5, 9))) for m in range(1, 8)},
}


@dataclass(frozen=True)
class Platform:
    """An OCI platform. ``variant`` None means none; ``str()`` is containerd's FormatAll, escaped."""

    os: str
    architecture: str
    variant: Optional[str] = None
    os_version: str = ""
    os_features: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.variant == "":
            object.__setattr__(self, "variant", None)
        if not isinstance(self.os_features, tuple):
            object.__setattr__(self, "os_features", tuple(self.os_features))

    def __str__(self) -> str:
        # Platforms come from registries too: never print a control character.
        return clean(format_all(self))

    def matches(self, entry: Platform) -> bool:
        """Whether containerd's default matcher for this (requested) platform accepts ``entry``."""
        return only(self).match(entry)


DEFAULT_PLATFORM = Platform(HOST_OS, HOST_ARCH)


# -- database.go -------------------------------------------------------------------------------------

def _normalize_os(os_: str) -> str:
    if not os_:
        return HOST_OS
    os_ = os_.lower()
    return "darwin" if os_ == "macos" else os_


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


def normalize(p: Platform) -> Platform:
    """containerd's Normalize: os and arch aliases, default variants, features sorted once each."""
    arch, variant = _normalize_arch(p.architecture, p.variant or "")
    return Platform(_normalize_os(p.os), arch, variant or None, p.os_version, tuple(sorted(set(p.os_features))))


def canonical(p: Platform) -> Platform:
    """A platform as it is shown: containerd's names (Normalize: x86_64 -> amd64, armhf -> arm/v7),
    but an arm64 variant that was written stays written (linux/arm64/v8), as containerd's Parse keeps it.
    """
    n = normalize(p)
    if n.architecture == "arm64" and p.variant and not n.variant:
        return replace(n, variant="v8")
    return n


# -- platforms.go: parse and format ------------------------------------------------------------------

def _usage(text: str, why: str) -> UsageError:
    return UsageError(f"invalid platform {quote(text)}: {why}; use OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64/v8")


def parse_platform(text: str) -> Platform:
    """containerd's Parse of a specifier: ``os``, ``arch``, ``os/arch`` or ``os/arch/variant``.

    The os may carry ``(version+feature...)``. The result is what containerd's Parse returns
    (``linux/arm`` keeps no variant, ``linux/arm64/v8`` keeps v8); match with ``only``.
    """
    spec = text.strip()
    if "*" in spec:
        raise _usage(text, "wildcards are not supported")
    parts = spec.split("/", 3)
    if len(parts) > 3:
        raise _usage(text, "too many components")
    m = _OS_PART.match(parts[0])
    if m is None:
        raise _usage(text, f"{quote(parts[0])} is not a valid OS")
    for part in parts[1:]:
        if not _SPECIFIER.match(part):
            raise _usage(text, f"{quote(part)} is not a valid component")
    try:
        os_version = _decode_option(m.group(2) or "")
        features = _parse_features(m.group(3)[1:] if m.group(3) else "")
    except ValueError as exc:
        raise _usage(text, str(exc)) from None
    os_ = _normalize_os(m.group(1))
    if len(parts) == 1:
        if os_ in _KNOWN_OS:
            return Platform(os_, HOST_ARCH, None, os_version, features)
        arch, variant = _normalize_arch(parts[0], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        if arch in _KNOWN_ARCH:
            return Platform(HOST_OS, arch, variant or None)
        raise _usage(text, "unknown operating system or architecture")
    if len(parts) == 2:
        arch, variant = _normalize_arch(parts[1], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        return Platform(os_, arch, variant or None, os_version, features)
    arch, variant = _normalize_arch(parts[1], parts[2])
    if arch == "arm64" and not variant:
        variant = "v8"
    return Platform(os_, arch, variant or None, os_version, features)


def _decode_option(value: str) -> str:
    if "%" not in value:
        return value
    # Go's url.PathUnescape: a "%" not followed by two hex digits is an error.
    if re.search(r"%(?![0-9A-Fa-f]{2})", value):
        raise ValueError(f"invalid escape in {quote(value)}")
    return unquote(value, errors="strict")


def _parse_features(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    out = []
    for raw in text.split("+"):
        raw = raw.strip()
        if not raw:
            raise ValueError("empty os feature")
        feature = _decode_option(raw)
        if feature:
            out.append(feature)
    return tuple(out)


def _encode_option(value: str) -> str:
    return value.replace("%", "%25").replace("+", "%2B").replace("(", "%28").replace(")", "%29").replace("/", "%2F")


def format_platform(p: Platform) -> str:
    """containerd's Format: os/arch[/variant], without os version or features."""
    if not p.os:
        return "unknown"
    return "/".join(x for x in (p.os, p.architecture, p.variant or "") if x)


def format_all(p: Platform) -> str:
    """containerd's FormatAll: Format, with ``os(version+features)`` when there are any."""
    if not p.os:
        return "unknown"
    features = "+".join(_encode_option(f) for f in sorted(set(p.os_features)) if f)
    if not p.os_version and not features:
        return format_platform(p)
    head = p.os
    version = _encode_option(p.os_version)
    if version or features:
        head += "(" + version + ("+" + features if features else "") + ")"
    return "/".join(x for x in (head, p.architecture, p.variant or "") if x)


# -- platforms.go: the matcher --------------------------------------------------------------------

def _windows_version(text: str) -> tuple[int, int, int]:
    """(major, minor, build) of a Windows os.version, (0, 0, 0) when it is not one."""
    parts = text.split(".")
    if len(parts) < 3:
        return (0, 0, 0)
    try:
        major, minor, build = int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return (0, 0, 0)
    if not (0 <= major < 256 and 0 <= minor < 256 and 0 <= build < 65536) or not all(
            x.isdigit() for x in parts[:3]):
        return (0, 0, 0)
    return (major, minor, build)


_LTSC2022, _LTSC2025 = 20348, 26100


def _windows_compatible(host: tuple[int, int, int], ctr: tuple[int, int, int]) -> bool:
    if host[:2] != ctr[:2]:
        return False
    if host[2] < _LTSC2022:
        return host[2] == ctr[2]
    supported = _LTSC2022
    for release in reversed((_LTSC2022, _LTSC2025)):
        if host[2] > release:
            supported = release
            break
    return supported <= ctr[2] <= host[2]


class _Matcher:
    """containerd's NewMatcher: equal after normalization, entry features a subset of ours."""

    def __init__(self, p: Platform) -> None:
        self.want = normalize(p)
        self.windows = p.os == "windows"
        self.host_version = _windows_version(p.os_version) if self.windows else (0, 0, 0)

    def match(self, entry: Platform) -> bool:
        if self.windows and "win32k" in entry.os_features:
            # Older containerd ignored win32k when matching; kept for compatibility.
            features = list(entry.os_features)
            features.remove("win32k")
            entry = replace(entry, os_features=tuple(features))
        have = normalize(entry)
        w = self.want
        if (w.os, w.architecture, w.variant) != (have.os, have.architecture, have.variant):
            return False
        if self.windows and self.host_version != (0, 0, 0) and entry.os_version:
            if not _windows_compatible(self.host_version, _windows_version(entry.os_version)):
                return False
        return set(have.os_features) <= set(w.os_features)


class MatchComparer:
    """containerd's ordered (Ordered/Only) or unordered (Any) MatchComparer over matchers."""

    def __init__(self, platforms: Sequence[Platform], *, ordered: bool = True) -> None:
        self.platforms = tuple(platforms)
        self._matchers = [_Matcher(p) for p in platforms]
        self._ordered = ordered

    def match(self, p: Platform) -> bool:
        return any(m.match(p) for m in self._matchers)

    def less(self, p1: Platform, p2: Platform) -> bool:
        """Whether p1 is preferred to p2 (a sort key for equal matches is their index order)."""
        if self._ordered:
            for m in self._matchers:
                m1, m2 = m.match(p1), m.match(p2)
                if m1 and not m2:
                    return True
                if m1 or m2:
                    if m1 and m2 and len(p1.os_features) != len(p2.os_features):
                        return len(p1.os_features) > len(p2.os_features)
                    return False
        else:
            m1 = m2 = False
            for m in self._matchers:
                m1 = m1 or m.match(p1)
                m2 = m2 or m.match(p2)
                if m1 and m2:
                    if len(p1.os_features) != len(p2.os_features):
                        return len(p1.os_features) > len(p2.os_features)
                    break
            if m1 or m2 or not (p1.os_features or p2.os_features):
                return m1 and not m2
        if p1.os_features or p2.os_features:
            return self.less(replace(p1, os_features=()), replace(p2, os_features=()))
        return False

    def best(self, platforms: Sequence[Platform]) -> Optional[int]:
        """Index of the platform containerd picks among ``platforms`` (stable sort), or None."""
        best: Optional[int] = None
        for i, p in enumerate(platforms):
            if self.match(p) and (best is None or self.less(p, platforms[best])):
                best = i
        return best


def _vector(p: Platform) -> list[Platform]:
    """compare.go's platformVector: this platform, then what it can also run, best first."""
    vector = [p]
    variant = p.variant or ""
    if p.architecture == "amd64":
        level = _version_number(variant)
        if level is not None and level > 1:
            vector += [replace(p, variant=f"v{v}") for v in range(level - 1, 0, -1)]
        vector.append(replace(p, architecture="386", variant=None))
    elif p.architecture == "arm":
        level = _version_number(variant)
        if level is not None and level > 5:
            vector += [replace(p, variant=f"v{v}") for v in range(level - 1, 4, -1)]
    elif p.architecture == "arm64":
        variant = variant or "v8"
        vector = []
        versions = _ARM64_VERSIONS.get(variant)
        if versions is not None:
            for major, top in zip(*versions):
                vector += [replace(p, variant=f"v{major}" if minor == 0 else f"v{major}.{minor}")
                           for minor in range(top, -1, -1)]
            if variant.startswith(("v8", "v9")):
                variant = "v8"
            vector += _vector(replace(p, architecture="arm", variant=variant))
    return vector


def _version_number(variant: str) -> Optional[int]:
    digits = variant[1:] if variant.startswith("v") else variant
    # Go's strconv.Atoi: optional sign, then decimal digits.
    if re.fullmatch(r"[+-]?[0-9]+", digits):
        return int(digits)
    return None


def only(p: Platform) -> MatchComparer:
    """containerd's Only: p and the platforms it can run (arm/v7 also v6 and v5, amd64 also 386)."""
    return MatchComparer(_vector(normalize(p)))


def only_strict(p: Platform) -> MatchComparer:
    return MatchComparer([normalize(p)])


def ordered(*platforms: Platform) -> MatchComparer:
    return MatchComparer(platforms)


def any_of(*platforms: Platform) -> MatchComparer:
    return MatchComparer(platforms, ordered=False)


# -- platforms from registry documents --------------------------------------------------------------

def _field(value: Any) -> Optional[str]:
    if value is None:
        return ""
    if not isinstance(value, str):
        return None
    return value[:_FIELD_MAX]


def _platform_fields(doc: Mapping[str, Any]) -> Optional[Platform]:
    os_, arch = _field(doc.get("os")), _field(doc.get("architecture"))
    variant, version = _field(doc.get("variant")), _field(doc.get("os.version"))
    if os_ is None or arch is None or variant is None or version is None:
        return None
    raw_features = doc.get("os.features") or []
    if not isinstance(raw_features, list) or not all(isinstance(f, str) for f in raw_features):
        return None
    return Platform(os_, arch, variant or None, version, tuple(f[:_FIELD_MAX] for f in raw_features[:64]))


def platform_of(descriptor: Mapping[str, Any]) -> Optional[Platform]:
    """The platform an index entry declares, or None when it has no ``platform`` object.

    A ``platform`` that is there but malformed (not strings) is kept as one that matches nothing,
    so it can never be picked, rather than read as "no platform" (which means "read the config").
    """
    p = descriptor.get("platform")
    if p is None:
        return None
    if not isinstance(p, Mapping):
        return Platform("", "")
    return _platform_fields(p) or Platform("", "")


def platform_from_config(config: Mapping[str, Any]) -> Optional[Platform]:
    """What an image config says it runs on (os, architecture, variant, os.version, os.features).

    None when it names no os or architecture (the OCI image spec requires both).
    """
    p = _platform_fields(config)
    if p is None or not p.os or not p.architecture:
        return None
    return p


def is_attestation(descriptor: Mapping[str, Any]) -> bool:
    """Build attestations sit in indexes as unknown/unknown entries; they are not images.

    containerd simply never matches unknown/unknown; the annotation is checked too, so an
    attestation that claims a real platform is still never taken for the image.
    """
    annotations = descriptor.get("annotations") or {}
    if isinstance(annotations, Mapping) and "vnd.docker.reference.type" in annotations:
        return True
    p = platform_of(descriptor)
    return p is not None and p.os == "unknown" and p.architecture == "unknown"
