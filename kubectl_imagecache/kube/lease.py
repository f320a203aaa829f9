"""A coordination.k8s.io Lease that keeps two syncs from acting at once.

Taken with optimistic concurrency: create when absent (one creator wins, the other gets
AlreadyExists), else update with the read resourceVersion (one updater wins, the other gets a
409 Conflict). A lease whose holder did not renew within leaseDurationSeconds is free: a sync
that died does not block the next one for longer than that. The holder renews it between the
steps of a long run (:func:`renew`), so a sync that takes longer than the duration keeps it.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Mapping, Optional

from ..errors import AlreadyExists, ClusterError, ClusterNotFound, ImageCacheError
from ..model.imagecache import format_time, parse_time

__all__ = ["LEASE_NAME", "LEASE_NAMESPACE", "LeaseHeld", "LeaseLost", "Lease", "acquire", "renew", "release",
           "holder_identity"]

LEASE_NAME = "kubectl-imagecache-sync"  # deploy/sync/role.yaml grants get/update on this name only
LEASE_NAMESPACE = "kubectl-imagecache"
DEPLOY_COMMAND = "kubectl apply -k deploy/sync"  # makes the namespace, the Lease's RBAC and the CronJob
CRONJOB_NAME = "imagecache-sync"  # deploy/sync/cronjob.yaml's, in LEASE_NAMESPACE ...
CRONJOB_SCHEDULE = "*/15 * * * *"  # ... and its schedule, for when the CronJob cannot be read (tests hold them equal)


class LeaseHeld(ImageCacheError):
    """Another sync holds the Lease: this one does nothing."""


class LeaseLost(ImageCacheError):
    """Another sync took the Lease while this one held it (it had expired): this one stops acting."""


@dataclass
class Lease:
    namespace: str
    name: str
    holder: str
    obj: dict[str, Any]


def holder_identity() -> str:
    # host (the pod's name in a CronJob), pid and a nonce: two processes never share one.
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _micro(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # metav1.MicroTime


def _conflict(exc: ClusterError) -> bool:
    # 409 is Conflict (a stale resourceVersion) on update; AlreadyExists (also 409) is its own type.
    return exc.status == HTTPStatus.CONFLICT and not isinstance(exc, AlreadyExists)


def _iso(t: Optional[dt.datetime]) -> str:
    return format_time(t) if t else "an unknown time"


def _held(namespace: str, name: str, spec: dict[str, Any], now: dt.datetime) -> LeaseHeld:
    """LeaseHeld naming the holder, since when it holds the Lease and until when (``spec``: the Lease's)."""
    since = parse_time(spec.get("acquireTime")) or parse_time(spec.get("renewTime"))
    until = _until(spec)
    holder = spec.get("holderIdentity")
    who = f"another sync ({holder}, holding it since {_iso(since)})" if holder else \
        f"another sync (it took the Lease at {_iso(since)} and has given it back since)"
    when = f" until {_iso(until)}" if holder and until and until > now else ""
    return LeaseHeld(f"{who} holds Lease {namespace}/{name}{when}; nothing was done (two syncs never act together)")


def _until(spec: dict[str, Any]) -> Optional[dt.datetime]:
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    return renewed + dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)) if renewed else None


def _lost_race(cluster: Any, namespace: str, name: str, now: dt.datetime) -> LeaseHeld:
    """The sync that wrote first holds the Lease now: read it back to name that sync."""
    try:
        spec = cluster.get_lease(namespace, name).get("spec") or {}
    except ImageCacheError:
        spec = {}
    return _held(namespace, name, spec, now)


def acquire(cluster: Any, namespace: str, holder: str, duration_seconds: int, now: Optional[dt.datetime] = None,
            name: str = LEASE_NAME) -> Lease:
    now = now or dt.datetime.now(dt.timezone.utc)
    spec = {"holderIdentity": holder, "leaseDurationSeconds": int(duration_seconds), "acquireTime": _micro(now),
            "renewTime": _micro(now)}
    try:
        current = cluster.get_lease(namespace, name)
    except ClusterNotFound:
        return _create(cluster, namespace, name, holder, spec, now)
    old = current.get("spec") or {}
    other = old.get("holderIdentity")
    until = _until(old)
    if other and other != holder and until is not None and until > now:
        raise _held(namespace, name, old, now)
    body = {**current, "spec": {**spec, "leaseTransitions": int(old.get("leaseTransitions") or 0) + (other != holder)}}
    try:
        obj = cluster.update_lease(namespace, name, body)
    except ClusterError as exc:
        if _conflict(exc):
            raise _lost_race(cluster, namespace, name, now) from None
        raise
    return Lease(namespace, name, holder, obj)


def _create(cluster: Any, namespace: str, name: str, holder: str, spec: dict[str, Any], now: dt.datetime) -> Lease:
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace}, "spec": {**spec, "leaseTransitions": 0}}
    try:
        obj = cluster.create_lease(namespace, body)
    except AlreadyExists:
        raise _lost_race(cluster, namespace, name, now) from None
    except ClusterNotFound:  # creating in a collection that exists fails with 404 only when its namespace is gone
        make = DEPLOY_COMMAND if namespace == LEASE_NAMESPACE else f"kubectl create namespace {namespace}"
        raise ClusterNotFound(f'namespace "{namespace}" of the sync Lease does not exist: create it with `{make}` '
                              "(or name another with --lease-namespace); nothing was done",
                              status=HTTPStatus.NOT_FOUND) from None
    return Lease(namespace, name, holder, obj)


def renew(cluster: Any, lease: Lease, now: Optional[dt.datetime] = None) -> None:
    """Move renewTime to ``now``: the Lease stays this holder's for another leaseDurationSeconds.

    Written with the resourceVersion last seen: a conflict means another sync took it meanwhile
    (it had expired), and :class:`LeaseLost` tells the caller to stop.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    spec = {**(lease.obj.get("spec") or {}), "renewTime": _micro(now)}
    try:
        lease.obj = cluster.update_lease(lease.namespace, lease.name, {**lease.obj, "spec": spec})
    except ClusterError as exc:
        if _conflict(exc) or isinstance(exc, ClusterNotFound):
            raise LeaseLost(f"Lease {lease.namespace}/{lease.name} was taken by another sync while this one "
                            "held it; stopped before acting further") from None
        raise


def release(cluster: Any, lease: Lease, annotations: Optional[Mapping[str, str]] = None, prefix: str = "") -> None:
    """Give the Lease up (the next sync need not wait for it to expire). Errors are the caller's to report.

    ``annotations`` are written in the same update, replacing every annotation that starts with ``prefix``
    (the last run's summary: one write, no verb beyond update).
    """
    spec = dict(lease.obj.get("spec") or {})
    if spec.get("holderIdentity") != lease.holder:
        return
    spec.pop("holderIdentity", None)
    spec["leaseDurationSeconds"] = 1
    meta = dict(lease.obj.get("metadata") or {})
    if annotations is not None:
        kept = {k: v for k, v in (meta.get("annotations") or {}).items() if not (prefix and k.startswith(prefix))}
        meta["annotations"] = {**kept, **annotations}
    body = {**lease.obj, "metadata": meta, "spec": spec}
    lease.obj = cluster.update_lease(lease.namespace, lease.name, body)
