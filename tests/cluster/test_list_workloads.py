"""Cluster.list_workloads against the real API server: which kinds it reads, and what it leaves out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubectl_imagecache.kube.api import KubeSettings
from kubectl_imagecache.model.kinds import WORKLOAD_ORDER
from tests.cluster.commands_support import create_deployment, create_pod, delete_pods


def _names(cluster: Any, namespace: str, **kw: Any) -> set[str]:
    return {f"{o['kind']}/{o['metadata']['name']}" for o in cluster.list_workloads(namespace, None, **kw)}


def test_kinds_limits_the_kinds_read(kubeconfig: Path, admin_api: Any, namespace: str) -> None:
    create_deployment(admin_api, namespace, "web", ["registry.example/app:1"])
    create_pod(admin_api, namespace, "bare", ["registry.example/tool:1"])
    cluster = KubeSettings(kubeconfig=str(kubeconfig)).connect()
    try:
        assert _names(cluster, namespace) == {"Deployment/web", "Pod/bare"}
        # prune reads every pod itself, so it asks for every kind but Pod.
        without_pods = [k for k in WORKLOAD_ORDER if k != "Pod"]
        assert _names(cluster, namespace, kinds=without_pods) == {"Deployment/web"}
        assert _names(cluster, namespace, kinds=["Pod"]) == {"Pod/bare"}
    finally:
        delete_pods(admin_api, namespace)
