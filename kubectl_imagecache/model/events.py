"""The Events the plugin posts on an ImageCache: their reasons, source and shape, written once. Pure.

core/v1 Events, as `kubectl describe` and `kubectl get events` read them. An ImageCache is
cluster-scoped: the API server stores an Event about a cluster-scoped object only in the namespace
``default`` (core/v1 validation: the involved object's namespace, empty, or "default"), and
`kubectl describe` finds it there by involvedObject name, kind and uid.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Mapping, Optional, Sequence

from . import imagecache as imc

__all__ = ["CREATED", "REFRESHED", "REFRESH_FAILED", "PRUNED", "REASONS", "SOURCE", "NAMESPACE", "NORMAL",
           "WARNING", "MESSAGE_MAX", "for_workloads", "event"]

CREATED = "Created"  # a new cache was created
REFRESHED = "Refreshed"  # on a replacement: it is Ready and the stale cache it replaces was deleted
REFRESH_FAILED = "RefreshFailed"  # on a replacement that failed; the stale cache stays
PRUNED = "Pruned"  # a cache was deleted for prune's reasons
REASONS = (CREATED, REFRESHED, REFRESH_FAILED, PRUNED)
SOURCE = "kubectl-imagecache"  # source.component and reportingComponent
NAMESPACE = "default"  # where Events about cluster-scoped objects live (module doc)
NORMAL, WARNING = "Normal", "Warning"
MESSAGE_MAX = 1024  # events.k8s.io's limit on a note; core/v1 has none, kubectl's columns thank us


def for_workloads(obj: Mapping[str, Any]) -> str:
    """"for deployment/shop/web, ..." from the cache's recorded workloads annotation."""
    owners: Optional[Sequence[str]] = imc.workloads(obj)
    if owners is None:
        return "for no recorded workload (made by another tool)"
    return f"for {', '.join(owners)}" if owners else "for images given directly"


def event(obj: Mapping[str, Any], reason: str, message: str, now: dt.datetime, kind: str = NORMAL) -> dict[str, Any]:
    """A core/v1 Event about ImageCache ``obj`` (as the API server returned it: its uid is what
    `kubectl describe` matches on)."""
    name = imc.name(obj)
    meta = obj.get("metadata") or {}
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1", "kind": "Event",
        # client-go's naming: the object's name and a unique suffix.
        "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": NAMESPACE},
        "involvedObject": {"apiVersion": imc.API_VERSION, "kind": imc.KIND, "name": name,
                           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
        "reason": reason, "message": message[:MESSAGE_MAX], "type": kind,
        "source": {"component": SOURCE}, "reportingComponent": SOURCE, "reportingInstance": SOURCE,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }
