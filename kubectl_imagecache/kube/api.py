"""The Kubernetes API as the commands need it: raw JSON over the official client's ApiClient.

Raw JSON rather than the client's typed models: deserialising 2,000 pods into models costs
seconds, and the commands read a handful of fields. Every call goes through `_call`, which maps
API failures to our error types (CRD missing, forbidden, unauthorised, unreachable, not found).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence
from urllib.parse import quote

from ..errors import (
    AlreadyExists,
    ClusterError,
    ClusterNotFound,
    ClusterUnauthorized,
    ClusterUnreachable,
    CrdMissing,
    Forbidden,
    ImageCacheError,
    UsageError,
)
from ..imagecache.resource import CRD_NAME, GROUP, PLURAL, VERSION
from .gcpause import paused

__all__ = ["GROUP", "VERSION", "PLURAL", "CRD_NAME", "KubeSettings", "Cluster", "WORKLOAD_KINDS", "WORKLOAD_ORDER"]

_IMC = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
PAGE = 500  # items per list page: bounded memory and API-server load on large clusters
# ImageCaches page by 5,000 (~1 KB each, so ~5 MB): the API server answers a first page from its
# watch cache but reads a custom resource's continue pages from etcd, 4-10x slower (measured with
# bench/cluster.py; kubectl -v=6 shows the same), so 1,000 caches cost one quick request, not two.
IMC_PAGE = 5000

# --from KIND/NAME: accepted spellings -> (API path prefix, plural)
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


# What list_workloads reads, controllers first.
WORKLOAD_ORDER = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob", "Job", "Pod")
_CONTROLLERS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob", "Job"})


def _decode(data: bytes) -> Any:
    """json.loads with the cyclic garbage collector paused (gcpause: 2-3x faster for a page of pods)."""
    with paused():
        return json.loads(data)


@dataclass(frozen=True)
class KubeSettings:
    """kubectl's connection flags, completed and validated before any request."""

    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    cluster: Optional[str] = None
    user: Optional[str] = None
    request_timeout: Optional[float] = None  # seconds; None = no client-side limit

    def connect(self) -> Cluster:
        from .kubeconfig import api_client

        # With a timeout, no urllib3 retries: each retry would wait the whole timeout again.
        retries = 0 if self.request_timeout else None
        return Cluster(api_client(self.kubeconfig, self.context, self.cluster, self.user, retries),
                       self.request_timeout)


class Cluster:
    def __init__(self, api: Any, request_timeout: Optional[float] = None) -> None:
        self.api = api
        self.timeout = request_timeout
        self.server = getattr(api.configuration, "host", "the API server")

    # -- transport -----------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
              verb: str, resource: str, name: Optional[str] = None, stream: bool = False,
              timeout: Optional[float] = None, content_type: str = "application/json") -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            resp = self.api.call_api(
                path, method,
                query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=timeout if timeout is not None else self.timeout,
                _return_http_data_only=True,
            )
        except ApiException as exc:
            raise self._translate(exc, verb, resource, name) from None
        except Urllib3Error as exc:
            raise ClusterUnreachable(
                # MaxRetryError wraps the cause (a timeout, a refused connection): name the cause.
                f"cannot reach the API server at {self.server} "
                f"({(getattr(exc, 'reason', None) or exc).__class__.__name__}); check the "
                "kubeconfig context and the network, or raise --request-timeout"
            ) from None
        except Exception as exc:  # exec credential plugins and token refresh fail with their own types
            if exc.__class__.__name__ == "ConfigException":
                raise ClusterUnauthorized(f"cannot get credentials for {self.server}: {exc}") from None
            raise
        if stream:
            return resp
        data = resp.data
        return _decode(data) if data else {}

    def _translate(self, exc: Any, verb: str, resource: str, name: Optional[str]) -> ImageCacheError:
        status = getattr(exc, "status", 0) or 0
        message = ""
        reason = ""
        try:
            doc = json.loads(exc.body or "{}")
            message, reason = str(doc.get("message", "")), str(doc.get("reason", ""))
        except (ValueError, TypeError, AttributeError):
            pass
        what = f'{resource} "{name}"' if name else resource
        if status == 401:
            return ClusterUnauthorized(
                f"the API server {self.server} rejected the credentials (401 Unauthorized): they may have expired; "
                "log in again or refresh the kubeconfig"
            )
        if status == 403:
            return Forbidden(
                f"forbidden: you may not {verb} {resource}" + (f" ({message})" if message else "")
                + "; ask a cluster admin for RBAC access"
            )
        if status == 404:
            if resource.startswith(PLURAL) and not self.crd_installed():
                return CrdMissing(
                    f"the ImageCache CRD is not installed in this cluster ({self.server}); check with "
                    f"`kubectl get crd {CRD_NAME}` and install it (see the README)"
                )
            return ClusterNotFound(f"{what} not found")
        if status == 409 and reason == "AlreadyExists":
            return AlreadyExists(f"{what} already exists; choose another name or delete it first")
        if status == 422 or status == 400:
            return UsageError(f"the API server refused {what}: {message or reason}")
        if status == 0 or status >= 500:
            return ClusterUnreachable(f"the API server {self.server} failed to {verb} {what} "
                                      f"(HTTP {status or 'error'}): {message or reason or 'no details'}")
        return ClusterError(f"could not {verb} {what}: HTTP {status} {reason} {message}".strip())

    def crd_installed(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.api.call_api(f"/apis/{GROUP}/{VERSION}", "GET", header_params={"Accept": "application/json"},
                              auth_settings=["BearerToken"], _preload_content=False,
                              _request_timeout=self.timeout, _return_http_data_only=True)
        except ApiException as exc:
            return exc.status != 404
        return True

    def _pages(self, path: str, query: Mapping[str, Any], verb: str, resource: str,
               versions: Optional[list[str]] = None, page: int = PAGE) -> Iterator[dict]:
        """Items of a list, page by page (limit/continue), so memory stays bounded.

        `versions` receives the first page's resourceVersion: the snapshot a later watch starts from.
        """
        q = dict(query)
        q["limit"] = page
        while True:
            doc = self._call("GET", path, query=q, verb=verb, resource=resource)
            if versions is not None and not versions:
                versions.append(str((doc.get("metadata") or {}).get("resourceVersion") or ""))
            yield from doc.get("items") or []
            token = (doc.get("metadata") or {}).get("continue")
            if not token:
                return
            q["continue"] = token

    # -- ImageCaches (cluster-scoped) ---------------------------------------------------------------------
    def list_imagecaches(self, selector: Optional[str] = None) -> list[dict]:
        return self.list_imagecaches_at(selector)[0]

    def list_imagecaches_at(self, selector: Optional[str] = None) -> tuple[list[dict], str]:
        """Items and the list's resourceVersion, where a watch for later changes starts."""
        versions: list[str] = []
        items = list(self._pages(_IMC, {"labelSelector": selector}, "list", CRD_NAME, versions, IMC_PAGE))
        return items, versions[0] if versions else ""

    def get_imagecache(self, name: str) -> dict:
        return self._call("GET", f"{_IMC}/{quote(name)}", verb="get", resource=CRD_NAME, name=name)

    def create_imagecache(self, body: dict, dry_run: bool = False) -> dict:
        return self._call("POST", _IMC, query={"dryRun": "All" if dry_run else None}, body=body,
                          verb="create", resource=CRD_NAME, name=body["metadata"]["name"])

    def delete_imagecache(self, name: str) -> dict:
        return self._call("DELETE", f"{_IMC}/{quote(name)}", verb="delete", resource=CRD_NAME, name=name)

    def watch_imagecaches(self, name: Optional[str], resource_version: Optional[str],
                          timeout: float) -> Iterator[dict]:
        """Watch events (dicts with type and object); ends at the server-side timeout."""
        query = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": max(1, int(timeout)),
                 "allowWatchBookmarks": "true",
                 "fieldSelector": f"metadata.name={name}" if name else None}
        resp = self._call("GET", _IMC, query=query, verb="watch", resource=CRD_NAME, name=name, stream=True,
                          timeout=timeout + 5)
        try:
            buf = b""
            for chunk in resp.stream(4096, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()

    # -- workloads, pods, secrets ------------------------------------------------------------------------
    def list_pods(self, namespace: Optional[str] = None, selector: Optional[str] = None,
                  field_selector: Optional[str] = None) -> Iterator[dict]:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods" if namespace else "/api/v1/pods"
        return self._pages(path, {"labelSelector": selector, "fieldSelector": field_selector}, "list", "pods")

    def get_workload(self, kind: str, namespace: str, name: str) -> dict:
        k, api, plural = WORKLOAD_KINDS[kind.lower()]
        obj = self._call("GET", f"{api}/namespaces/{quote(namespace)}/{plural}/{quote(name)}", verb="get",
                         resource=plural, name=f"{namespace}/{name}")
        obj.setdefault("kind", k)
        return obj

    def list_workloads(self, namespace: Optional[str], selector: Optional[str],
                       kinds: Sequence[str] = WORKLOAD_ORDER) -> Iterator[dict]:
        """Every workload that owns its pods' spec; a ReplicaSet, Job or Pod is left out when a
        workload listed here controls it (its Deployment, CronJob, ...), which names the same images.
        `kinds`: fewer kinds, e.g. without "Pod" for a caller that lists every pod itself."""
        for kind in kinds:
            _, api, plural = WORKLOAD_KINDS[kind.lower()]
            path = f"{api}/namespaces/{quote(namespace)}/{plural}" if namespace else f"{api}/{plural}"
            for obj in self._pages(path, {"labelSelector": selector}, "list", plural):
                obj.setdefault("kind", kind)
                meta = obj.get("metadata") or {}
                owners = meta.get("ownerReferences") or []
                if any(o.get("controller") and o.get("kind") in _CONTROLLERS for o in owners):
                    continue  # its controller is listed itself
                yield obj

    def get_secret(self, namespace: str, name: str) -> dict:
        return self._call("GET", f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}", verb="get",
                          resource="secrets", name=f"{namespace}/{name}")

    def get_service_account(self, namespace: str, name: str) -> dict:
        return self._call("GET", f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(name)}",
                          verb="get", resource="serviceaccounts", name=f"{namespace}/{name}")
