"""Objects as the API server returns them, for the pure tiers: one ``cache()``, ``pod()`` and
``deployment()`` (any workload kind) instead of a copy per test file.

Times are relative to ``NOW`` (hours ago), written as Go writes RFC 3339 timestamps.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional, Sequence

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
API_VERSION = "eci.alibabacloud.com/v1"  # written here, not imported: the builders check the plugin
ANN_DIGESTS = "kubectl-imagecache.io/digests"
ANN_WORKLOADS = "kubectl-imagecache.io/workloads"
PINNED_ID = "k8s.aliyun.com/eci-imc-id"


def ts(hours_ago: float, now: dt.datetime = NOW) -> str:
    return (now - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cache(name: str, images: Sequence[str], *, phase: str = "Ready", size: Optional[int] = 20, age_h: float = 10,
          digests: Optional[dict[str, str]] = None, workloads: Optional[Sequence[str]] = None,
          cid: Optional[str] = None, retention: Optional[int] = None, updated_h: Optional[float] = None,
          expires_h: Optional[float] = None, annotations: Optional[dict[str, str]] = None,
          labels: Optional[dict[str, str]] = None, pull_secrets: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """An ImageCache; ``expires_h`` hours from now (negative: expired) sets status.expireDateTime."""
    ann: dict[str, str] = dict(annotations or {})
    if digests is not None:
        ann[ANN_DIGESTS] = json.dumps(digests)
    if workloads is not None:
        ann[ANN_WORKLOADS] = json.dumps(list(workloads))
    meta: dict[str, Any] = {"name": name, "creationTimestamp": ts(age_h)}
    if ann:
        meta["annotations"] = ann
    if labels:
        meta["labels"] = dict(labels)
    spec: dict[str, Any] = {"images": list(images)}
    if size is not None:
        spec["imageCacheSize"] = size
    if pull_secrets:
        spec["imagePullSecrets"] = list(pull_secrets)
    if retention:
        spec["retentionDays"] = retention
    status: dict[str, Any] = {"phase": phase}
    if cid:
        status["imageCacheId"] = cid
    if updated_h is not None:
        status["lastUpdatedTime"] = ts(updated_h)
    if expires_h is not None:
        status["expireDateTime"] = ts(-expires_h)
    return {"apiVersion": API_VERSION, "kind": "ImageCache", "metadata": meta, "spec": spec, "status": status}


def _template(images: Sequence[str], annotations: Optional[dict[str, str]], labels: Optional[dict[str, str]]) \
        -> dict[str, Any]:
    return {"metadata": {"annotations": dict(annotations or {}), "labels": dict(labels or {})},
            "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}}


def _owned(meta: dict[str, Any], owner: Optional[tuple[str, str]], uid: Optional[str]) -> dict[str, Any]:
    if uid:
        meta["uid"] = uid
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return meta


def deployment(name: str, images: Sequence[str], annotations: Optional[dict[str, str]] = None, *,
               kind: str = "Deployment", namespace: str = "ns", labels: Optional[dict[str, str]] = None,
               owner: Optional[tuple[str, str]] = None, uid: Optional[str] = None) -> dict[str, Any]:
    """A workload of ``kind`` (Deployment, StatefulSet, DaemonSet, Job, CronJob...) whose pod template has
    ``images`` and ``annotations``; ``owner`` (kind, name) is its controller (a Deployment's ReplicaSet)."""
    tpl = _template(images, annotations, labels)
    spec = {"jobTemplate": {"spec": {"template": tpl}}} if kind == "CronJob" else {"template": tpl}
    meta = _owned({"name": name, "namespace": namespace, "labels": dict(labels or {})}, owner, uid)
    return {"kind": kind, "metadata": meta, "spec": spec}


def pod(owner: str, images: Sequence[str], annotations: Optional[dict[str, str]] = None, *, namespace: str = "ns",
        phase: str = "Running", owner_kind: Optional[str] = "ReplicaSet", template_hash: Optional[str] = "6d4f",
        name: Optional[str] = None, labels: Optional[dict[str, str]] = None, uid: Optional[str] = None,
        image_ids: Sequence[str] = ()) -> dict[str, Any]:
    """A pod of Deployment ``owner`` through its ReplicaSet ``owner-<template_hash>`` (``template_hash=None``: of
    ReplicaSet ``owner`` itself); with another ``owner_kind``, of that controller ``owner`` (a Job, a StatefulSet,
    an operator's resource); with ``owner_kind=None``, a bare pod named ``owner``. ``labels`` replaces the
    pod-template-hash label; ``image_ids`` are the runtime's, one container status each."""
    rs_hash = template_hash if owner_kind == "ReplicaSet" else None
    controller = f"{owner}-{rs_hash}" if rs_hash else owner
    meta: dict[str, Any] = {"name": name or (f"{controller}-abcde" if owner_kind else owner),
                            "namespace": namespace, "annotations": dict(annotations or {})}
    pod_labels = labels if labels is not None else ({"pod-template-hash": rs_hash} if rs_hash else {})
    if pod_labels:
        meta["labels"] = dict(pod_labels)
    status: dict[str, Any] = {"phase": phase}
    if image_ids:
        status["containerStatuses"] = [{"imageID": i} for i in image_ids]
    return {"kind": "Pod", "metadata": _owned(meta, (owner_kind, controller) if owner_kind else None, uid),
            "spec": {"containers": [{"image": i} for i in images]}, "status": status}
