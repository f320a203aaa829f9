"""The workload kinds: how users spell them, where the API serves them, which control others. Pure facts.

kube.api lists them; imagecache.coverage decides from them which objects are workloads.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["WORKLOAD_KINDS", "WORKLOAD_KIND_NAMES", "WORKLOAD_ORDER", "CONTROLLER_KINDS", "controlled"]

# Accepted spellings (--from KIND/NAME, explain KIND/NAME) -> (kind, API path prefix, plural)
WORKLOAD_KINDS: dict[str, tuple[str, str, str]] = {}
for _kind, _api, _plural, _aliases in (
    ("Deployment", "/apis/apps/v1", "deployments", ("deployment", "deployments", "deploy")),
    ("StatefulSet", "/apis/apps/v1", "statefulsets", ("statefulset", "statefulsets", "sts")),
    ("DaemonSet", "/apis/apps/v1", "daemonsets", ("daemonset", "daemonsets", "ds")),
    ("ReplicaSet", "/apis/apps/v1", "replicasets", ("replicaset", "replicasets", "rs")),
    ("Job", "/apis/batch/v1", "jobs", ("job", "jobs")),
    ("CronJob", "/apis/batch/v1", "cronjobs", ("cronjob", "cronjobs", "cj")),
    ("Pod", "/api/v1", "pods", ("pod", "pods", "po")),
):
    for _alias in _aliases:
        WORKLOAD_KINDS[_alias] = (_kind, _api, _plural)
WORKLOAD_KIND_NAMES = tuple(dict.fromkeys(k.lower() for k, _, _ in WORKLOAD_KINDS.values()))  # for messages

# The kinds that own a pod template, controllers first (the order list_workloads reads them in).
WORKLOAD_ORDER = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob", "Job", "Pod")
# An object one of these controls is not a workload of its own: its controller names the same images.
CONTROLLER_KINDS = frozenset(WORKLOAD_ORDER) - {"Pod"}


def controlled(obj: Mapping[str, Any]) -> bool:
    """Whether a controller of one of CONTROLLER_KINDS owns ``obj`` (then it is no workload of its own)."""
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(o, dict) and o.get("controller") and o.get("kind") in CONTROLLER_KINDS for o in owners)
