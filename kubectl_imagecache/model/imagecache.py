"""The ImageCache resource: the one place its facts are written (eci-imagecache.md).

API names, phases and the sets commands reason with, annotation keys, limits, the timestamp format
the cloud writes, and accessors that read an object as the permissive CRD real clusters carry
allows it to look: `spec.imageCacheSize` may be absent, `status` absent, partial or unknown.
Pure: objects in, values out.
"""

import datetime as dt
import json
import re
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from typing import Any, Collection, Optional

from . import notices

__all__ = [
    "GROUP", "VERSION", "PLURAL", "SINGULAR", "KIND", "API_VERSION", "CRD_NAME", "SHORT_NAMES", "RESOURCE",
    "PENDING", "PREPARING", "CREATING", "READY", "FAILED", "UPDATING", "UPDATE_FAILED", "PHASES",
    "LIVE_PHASES", "IN_PROGRESS_PHASES", "FAILED_PHASES",
    "MAX_IMAGES", "MIN_GIB", "MAX_GIB", "DEFAULT_SIZE_GIB", "MAX_RETENTION_DAYS", "CREATE_RATE_LIMIT",
    "CREATE_RATE_WINDOW_SECONDS",
    "ANNOTATION_PREFIX", "ANN_DIGESTS", "ANN_WORKLOADS", "ANN_PLATFORM", "ANN_BYTES", "ANN_VERSION", "ANN_REPLACES",
    "ANN_SYNC_SUMMARY",
    "MANAGED_BY",
    "ANN_REUSE", "ANN_FLASH", "ANN_CPU_ARCH", "ANN_OS_TYPE", "ANN_INSECURE_REGISTRY", "ANN_PLAIN_HTTP_REGISTRY",
    "POD_AUTO_MATCH", "POD_PERFECT_MATCH", "POD_MATCH_COUNT", "POD_PINNED_ID",
    "EVENT_HIT", "EVENT_MISSED", "EVENT_AUTO_CREATED", "POD_EVENTS",
    "parse_time", "format_time",
    "name", "phase", "progress", "reason", "cache_id", "images", "pull_secrets", "size_gib",
    "effective_size_gib", "retention_days", "created_at", "last_changed", "expires_at", "digests", "annotations",
    "labels", "workloads", "images_bytes", "platform", "replaces", "unique_name",
]

# -- API ----------------------------------------------------------------------------------------------
GROUP = "eci.alibabacloud.com"
VERSION = "v1"
PLURAL = "imagecaches"
SINGULAR = "imagecache"
KIND = "ImageCache"
API_VERSION = f"{GROUP}/{VERSION}"
CRD_NAME = f"{PLURAL}.{GROUP}"
SHORT_NAMES = ("imc", "ic")  # imc today; ic in Alibaba's documented sample
RESOURCE = f"{SINGULAR}.{GROUP}"  # how kubectl names one: imagecache.eci.alibabacloud.com/NAME

# -- phases (the CRD starts at Pending; the cloud writes the others) ---------------------------------
PENDING, PREPARING, CREATING, READY = "Pending", "Preparing", "Creating", "Ready"
FAILED, UPDATING, UPDATE_FAILED = "Failed", "Updating", "UpdateFailed"
PHASES = (READY, FAILED, PENDING, PREPARING, CREATING, UPDATING, UPDATE_FAILED)
IN_PROGRESS_PHASES = frozenset({PENDING, PREPARING, CREATING, UPDATING})
LIVE_PHASES = frozenset({READY}) | IN_PROGRESS_PHASES  # is, or will be, usable by pods
FAILED_PHASES = frozenset({FAILED, UPDATE_FAILED})

# -- limits (the OpenAPI's; the permissive CRD enforces none of them) ---------------------------------
MAX_IMAGES = 20
MIN_GIB = 20
MAX_GIB = 32768
DEFAULT_SIZE_GIB = 20  # what the cloud uses when spec.imageCacheSize is absent
MAX_RETENTION_DAYS = 65536
CREATE_RATE_LIMIT = 200  # CreateImageCache calls ...
CREATE_RATE_WINDOW_SECONDS = 60.0  # ... per minute

# -- annotations ----------------------------------------------------------------------------------------
ANNOTATION_PREFIX = "kubectl-imagecache.io/"  # our provenance
ANN_DIGESTS = ANNOTATION_PREFIX + "digests"
ANN_WORKLOADS = ANNOTATION_PREFIX + "workloads"
ANN_PLATFORM = ANNOTATION_PREFIX + "platform"
ANN_BYTES = ANNOTATION_PREFIX + "images-bytes"
ANN_VERSION = ANNOTATION_PREFIX + "version"
ANN_REPLACES = ANNOTATION_PREFIX + "replaces"  # on a refresh's replacement: the cache it takes over from
ANN_SYNC_SUMMARY = ANNOTATION_PREFIX + "sync-"  # on sync's Lease: the last run's summary (imagecache/syncsummary.py)
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubectl-imagecache"}
ANN_REUSE = "k8s.aliyun.com/imc-enable-reuse"
ANN_FLASH = "k8s.aliyun.com/imc-enable-flash"
ANN_CPU_ARCH = "k8s.aliyun.com/imc-cpu-arch"
ANN_OS_TYPE = "k8s.aliyun.com/imc-os-type"
ANN_PLAIN_HTTP_REGISTRY = "k8s.aliyun.com/plain-http-registry"
ANN_INSECURE_REGISTRY = "k8s.aliyun.com/insecure-registry"
# In a pod (template): how ECI matches the pod to a cache.
POD_AUTO_MATCH = "k8s.aliyun.com/eci-auto-imc"
POD_PERFECT_MATCH = "k8s.aliyun.com/imc-perfect-match"
POD_MATCH_COUNT = "k8s.aliyun.com/imc-match-count-request"
POD_PINNED_ID = "k8s.aliyun.com/eci-imc-id"
# Events ECI records on a pod about its cache, and what each says.
EVENT_HIT = "SuccessfulHitImageCache"
EVENT_MISSED = "ImageCacheMissed"
EVENT_AUTO_CREATED = "ImageCacheAutoCreated"
POD_EVENTS = {EVENT_HIT: "hit", EVENT_MISSED: "miss", EVENT_AUTO_CREATED: "auto-created"}

# -- time ---------------------------------------------------------------------------------------------------
# RFC 3339 as Go writes it: 0 to 9 fraction digits, Z or an offset. Parsed by hand because
# datetime.fromisoformat on Python 3.10 takes only 3 or 6 digits and no "Z".
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def format_time(t: dt.datetime) -> str:
    """RFC 3339 in UTC to the second, as the API server writes metav1.Time."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> Optional[dt.datetime]:
    """An aware datetime, or None for anything absent or malformed (never raises)."""
    if not isinstance(value, str):
        return None
    m = _RFC3339.match(value.strip())
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    if m.group(8):
        tz = dt.timezone.utc
    else:
        sign = 1 if m.group(9) == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11))))
    try:
        return dt.datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=tz)
    except ValueError:
        return None


# -- accessors ----------------------------------------------------------------------------------------------
def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def name(obj: Mapping[str, Any]) -> str:
    return str(_section(obj, "metadata").get("name") or "")


def annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    value = _section(obj, "metadata").get("annotations")
    return value if isinstance(value, Mapping) else {}


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    value = _section(obj, "metadata").get("labels")
    return value if isinstance(value, Mapping) else {}


def phase(obj: Mapping[str, Any]) -> str:
    return str(_section(obj, "status").get("phase") or PENDING)


def progress(obj: Mapping[str, Any]) -> str:
    return str(_section(obj, "status").get("progress") or "0%")


def reason(obj: Mapping[str, Any]) -> str:
    return str(_section(obj, "status").get("reason") or "")


def cache_id(obj: Mapping[str, Any]) -> Optional[str]:
    value = _section(obj, "status").get("imageCacheId")
    return str(value) if value else None


def images(obj: Mapping[str, Any]) -> list[str]:
    value = _section(obj, "spec").get("images")
    return [str(i) for i in value] if isinstance(value, list) else []


def pull_secrets(obj: Mapping[str, Any]) -> list[str]:
    value = _section(obj, "spec").get("imagePullSecrets")
    return [str(s) for s in value] if isinstance(value, list) else []


def _int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def size_gib(obj: Mapping[str, Any]) -> Optional[int]:
    """spec.imageCacheSize as written, or None when absent (see effective_size_gib)."""
    return _int(_section(obj, "spec").get("imageCacheSize"))


def effective_size_gib(obj: Mapping[str, Any]) -> int:
    """The size the cloud builds: spec.imageCacheSize, else its default."""
    size = size_gib(obj)
    return size if size is not None else DEFAULT_SIZE_GIB


def retention_days(obj: Mapping[str, Any]) -> Optional[int]:
    return _int(_section(obj, "spec").get("retentionDays"))


def created_at(obj: Mapping[str, Any]) -> Optional[dt.datetime]:
    return parse_time(_section(obj, "metadata").get("creationTimestamp"))


def last_changed(obj: Mapping[str, Any]) -> Optional[dt.datetime]:
    """When the cloud last changed the cache (status.lastUpdatedTime), else when it started building, else
    its creation: the clock prune's --failed-grace runs on."""
    status = _section(obj, "status")
    return parse_time(status.get("lastUpdatedTime")) or parse_time(status.get("startTime")) or created_at(obj)


def expires_at(obj: Mapping[str, Any]) -> Optional[dt.datetime]:
    """status.expireDateTime; before the cloud wrote it, creation + retentionDays; None: never."""
    expires = parse_time(_section(obj, "status").get("expireDateTime"))
    if expires is None:
        created, days = created_at(obj), retention_days(obj)
        if created is not None and days is not None:
            expires = created + dt.timedelta(days=days)
    return expires


# -- our annotations, decoded once (any client may write any value: Alibaba's CRD accepts any) ---------
def _json_annotation(obj: Mapping[str, Any], key: str, shape: type, expected: str) -> Any:
    """The annotation's JSON value when it has ``shape``; else None, said once (notices)."""
    raw = annotations(obj).get(key)
    if raw is None or raw == "":
        return None
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        data = None
    if not isinstance(data, shape):
        notices.malformed(f"ImageCache {name(obj) or '<unnamed>'}", key, expected)
        return None
    return data


def digests(obj: Mapping[str, Any]) -> dict[str, str]:
    """Normalized image -> digest recorded by warm (empty for caches made by other tools)."""
    data = _json_annotation(obj, ANN_DIGESTS, dict, "a JSON object of image -> digest")
    if data is None:
        return {}
    out = {str(k): v for k, v in data.items() if isinstance(v, str)}
    if len(out) != len(data):
        notices.malformed(f"ImageCache {name(obj) or '<unnamed>'}", ANN_DIGESTS, "a JSON object of image -> digest")
    return out


def workloads(obj: Mapping[str, Any]) -> Optional[list[str]]:
    """The workloads warm made the cache for ("deployment/shop/web"); [] for images given directly;
    None when the cache records none (made by another tool) or the record is malformed."""
    data = _json_annotation(obj, ANN_WORKLOADS, list, "a JSON list of workload names")
    if data is None:
        return None
    if not all(isinstance(w, str) for w in data):
        notices.malformed(f"ImageCache {name(obj) or '<unnamed>'}", ANN_WORKLOADS, "a JSON list of workload names")
        return None
    return list(data)


def images_bytes(obj: Mapping[str, Any]) -> Optional[int]:
    """The images' size in bytes estimated when the cache was made, or None."""
    raw = annotations(obj).get(ANN_BYTES)
    if raw is None:
        return None
    value = _int(raw)
    if value is None or value < 0:
        notices.malformed(f"ImageCache {name(obj) or '<unnamed>'}", ANN_BYTES, "a number of bytes")
        return None
    return value


def platform(obj: Mapping[str, Any]) -> Optional[str]:
    """The platform warm sized the images for (os/arch[/variant]), or None."""
    raw = annotations(obj).get(ANN_PLATFORM)
    return raw if isinstance(raw, str) and raw else None


def replaces(obj: Mapping[str, Any]) -> Optional[str]:
    """On a refresh's replacement: the cache it takes over from."""
    raw = annotations(obj).get(ANN_REPLACES)
    return raw if isinstance(raw, str) and raw else None


def unique_name(base: str, taken: Collection[str]) -> str:
    """``base``, or the first of base-2, base-3... that no object has: warm's rule for a taken name."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
