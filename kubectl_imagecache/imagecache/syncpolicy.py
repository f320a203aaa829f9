"""`sync --policy FILE`: a small YAML file that bounds what an unattended sync may do. Checked whole first.

    reasons: [expired, failed, unused]   # which prune reasons sync deletes for (default: these three)
    maxCreate: 10                        # like --max-create (the flag wins when both are given)
    maxDelete: 5                         # like --max-delete
    namespaces: [shop, web]              # the workloads' namespaces (default: -n, or every one with -A)

Any other key, a wrong type or an unknown reason is refused with the key named: a typo in a policy
must never widen what an unattended job deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import UsageError
from ..model.reasons import DEFAULT_REASONS, REASONS, Reason

__all__ = ["SyncPolicy", "POLICY_REASONS", "SYNC_REASONS", "parse_policy", "load_policy"]

POLICY_REASONS = tuple(r for r in REASONS if r in DEFAULT_REASONS)  # older-than needs a duration: not here
# What an unattended sync deletes for unless its policy says otherwise: superseded caches stay until
# the operator asks, since the newer cache may not have served a pod yet.
SYNC_REASONS = frozenset({Reason.EXPIRED.value, Reason.FAILED.value, Reason.UNUSED.value})
_KEYS = ("reasons", "maxCreate", "maxDelete", "namespaces")
_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class SyncPolicy:
    reasons: Optional[frozenset[str]] = None
    max_create: Optional[int] = None
    max_delete: Optional[int] = None
    namespaces: Optional[tuple[str, ...]] = None


def _count(doc: dict[str, Any], key: str, where: str) -> Optional[int]:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{where}: {key} must be a whole number of 0 or more")
    return int(value)  # already an int; int() says so to every mypy version


def parse_policy(text: str, where: str) -> SyncPolicy:
    import yaml

    from ..kube.names import is_subdomain

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise UsageError(f"{where}: not valid YAML") from None
    if doc is None:
        return SyncPolicy()
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: must be a mapping of {', '.join(_KEYS)}")
    unknown = [str(k) for k in doc if k not in _KEYS]
    if unknown:
        raise UsageError(f'{where}: unknown key "{unknown[0][:64]}" (known: {", ".join(_KEYS)})')
    reasons = None
    if doc.get("reasons") is not None:
        raw = doc["reasons"]
        if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
            raise UsageError(f"{where}: reasons must be a list of {', '.join(POLICY_REASONS)}")
        bad = [r for r in raw if r not in POLICY_REASONS]
        if bad:
            raise UsageError(f'{where}: reason "{bad[0][:64]}" is unknown: use {", ".join(POLICY_REASONS)}')
        reasons = frozenset(raw)
    namespaces = None
    if doc.get("namespaces") is not None:
        raw = doc["namespaces"]
        if not isinstance(raw, list) or not raw or not all(isinstance(n, str) and is_subdomain(n, 63) and "." not in n
                                                           for n in raw):
            raise UsageError(f"{where}: namespaces must be a non-empty list of namespace names")
        namespaces = tuple(dict.fromkeys(raw))
    return SyncPolicy(reasons, _count(doc, "maxCreate", where), _count(doc, "maxDelete", where), namespaces)


def load_policy(path: str) -> SyncPolicy:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_BYTES + 1)
    except OSError as e:
        raise UsageError(f"--policy {path}: {e.strerror or type(e).__name__}") from None
    if len(data) > _MAX_BYTES:
        raise UsageError(f"--policy {path}: larger than {_MAX_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--policy {path}: not UTF-8 text") from None
    return parse_policy(text, f"--policy {path}")
