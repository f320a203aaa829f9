"""The Kubernetes API as the commands need it: raw JSON over the official client's ApiClient.

Raw JSON rather than the client's typed models: deserialising 2,000 pods into models costs
seconds, and the commands read a handful of fields. Every call goes through `_call`, which maps
API failures to our error types (CRD missing, forbidden, unauthorised, unreachable, not found).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence, Union
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
from ..httpfacts import causes, parse_retry_after
from ..model.imagecache import CRD_NAME, GROUP, PLURAL, VERSION
from ..model.kinds import WORKLOAD_KINDS, WORKLOAD_ORDER, controlled
from .gcpause import paused

Obj = dict[str, Any]  # a Kubernetes object (or list) as the API server returns it, decoded JSON

if TYPE_CHECKING:
    from .kubeconfig import Kubeconfig

Timeout = Union[None, float, tuple[float, float]]

__all__ = ["GROUP", "VERSION", "PLURAL", "CRD_NAME", "KubeSettings", "Cluster"]

_IMC = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
PAGE = 500  # items per list page: bounded memory and API-server load on large clusters
# Without --request-timeout a request still ends: a stalled API server must never hang a command
# silently. kubectl's transport bounds the dial and TLS handshake (30 s, 10 s; kube.handshake does the
# same for ours); we bound each request too.
DEFAULT_REQUEST_TIMEOUT = 30.0
WATCH_MAX = 300  # seconds one watch request lasts at most (server-side timeoutSeconds)
RETRIES_429 = 5  # 429 (and 503) with Retry-After: retried this often, as client-go does (it allows 10)
RETRY_AFTER_MAX = 10.0  # seconds; a longer Retry-After is waited this long
WATCH_LINE_MAX = 16 * 2**20  # bytes of one watch event: bounded memory against a hostile server
# ImageCaches page by 5,000 (~1 KB each, so ~5 MB): the API server answers a first page from its
# watch cache but reads a custom resource's continue pages from etcd, 4-10x slower (measured with
# bench/cluster.py; kubectl -v=6 shows the same), so 1,000 caches cost one quick request, not two.
IMC_PAGE = 5000



def _decode(data: bytes) -> Any:
    """json.loads with the cyclic garbage collector paused (gcpause: 2-3x faster for a page of pods)."""
    with paused():
        return json.loads(data)


@dataclass(frozen=True)
class KubeSettings:
    """kubectl's connection flags, completed and validated before any request.

    The kubeconfig is read on first use and then kept: the namespace, the context and the client all
    come from that one reading, and a command that needs none of them (warm --dry-run=client with
    images only) never reads it.
    """

    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    cluster: Optional[str] = None
    user: Optional[str] = None
    request_timeout: Timeout = DEFAULT_REQUEST_TIMEOUT  # seconds, or (connect, read); None = no limit (0)
    namespace: Optional[str] = None  # -n as given

    @cached_property
    def config(self) -> Kubeconfig:
        from .kubeconfig import Kubeconfig

        return Kubeconfig.load(self.kubeconfig)

    def resolved_namespace(self) -> str:
        """-n, else the context's namespace, else "default" (kubectl's rule)."""
        return self.namespace or self.config.namespace(self.context)

    @cached_property
    def connection(self) -> Cluster:
        """One connection for the whole command, made on first use (after every flag was checked)."""
        return self.connect()

    def connect(self) -> Cluster:
        # No urllib3 retries: each would wait the whole timeout again, and they skip POSTs; `_call` retries
        # what is safe to retry (429/503 with Retry-After) itself, for every verb.
        return Cluster(self.config.api_client(self.context, self.cluster, self.user, 0), self.request_timeout)


class Cluster:
    def __init__(self, api: Any, request_timeout: Timeout = None) -> None:
        self.api = api
        self.timeout = request_timeout
        self.server = getattr(api.configuration, "host", "the API server")

    def close(self) -> None:
        self.api.close()

    # -- transport -----------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
              verb: str, resource: str, name: Optional[str] = None, stream: bool = False,
              timeout: Timeout = None, content_type: str = "application/json") -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        attempt = 0
        while True:
            try:
                resp = self.api.call_api(
                    path, method,
                    query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
                    header_params={"Accept": "application/json", "Content-Type": content_type},
                    body=body, auth_settings=["BearerToken"], _preload_content=False,
                    _request_timeout=timeout if timeout is not None else self.timeout,
                    _return_http_data_only=True,
                )
                break
            except ApiException as exc:
                wait = _retry_after(exc)
                if wait is not None and attempt < RETRIES_429:
                    attempt += 1
                    time.sleep(wait)  # the server asked for it: the request was not processed
                    continue
                raise self._translate(exc, verb, resource, name) from None
            except Urllib3Error as exc:
                raise self.unreachable(exc) from None
            except Exception as exc:  # exec credential plugins and token refresh fail with their own types
                if exc.__class__.__name__ == "ConfigException":
                    raise ClusterUnauthorized(f"cannot get credentials for {self.server}: {exc}") from None
                raise
        if stream:
            return resp
        try:
            data = resp.data
        except (Urllib3Error, OSError) as exc:  # the body stalled or the connection broke while reading it
            raise self.unreachable(exc) from None
        try:
            return _decode(data) if data else {}
        except ValueError:
            raise ClusterError(f"the API server {self.server} answered {verb} {resource} with a body that is "
                               "not JSON") from None

    def unreachable(self, exc: BaseException) -> ClusterUnreachable:
        """A transport failure as one line naming its cause (timeout, TLS, refused, cut)."""
        from .handshake import handshake_timeout

        stalled = handshake_timeout(exc)
        cause = network_cause(exc, self.timeout) if stalled is None else (
            f"no answer to the TLS handshake within {stalled.seconds:g}s; check the kubeconfig context (is the API "
            "server up and not overloaded?) and the network")
        return ClusterUnreachable(f"cannot reach the API server at {self.server}: {cause}")

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
                    f"`kubectl get crd {CRD_NAME}`; ACK's virtual node installs it, else see "
                    "https://help.aliyun.com/zh/eci/user-guide/deploy-an-imagecache-crd"
                )
            return ClusterNotFound(f"{what} not found", status=status)
        if status == 409 and reason == "AlreadyExists":
            return AlreadyExists(f"{what} already exists; choose another name or delete it first", status=status)
        if status == 422 or status == 400:
            return UsageError(f"the API server refused {what}: {message or reason}")
        if status == 0 and "SSL" in str(getattr(exc, "reason", "")):
            return self.unreachable(exc)
        if status == 0 or status >= 500:
            return ClusterUnreachable(f"the API server {self.server} failed to {verb} {what} "
                                      f"(HTTP {status or 'error'}): {message or reason or 'no details'}", status=status)
        return ClusterError(f"could not {verb} {what}: HTTP {status} {reason} {message}".strip(), status=status)

    def crd_installed(self) -> bool:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self.api.call_api(f"/apis/{GROUP}/{VERSION}", "GET", header_params={"Accept": "application/json"},
                              auth_settings=["BearerToken"], _preload_content=False,
                              _request_timeout=self.timeout, _return_http_data_only=True)
        except ApiException as exc:
            return bool(exc.status != 404)
        except Urllib3Error as exc:
            raise self.unreachable(exc) from None
        return True

    def _object(self, method: str, path: str, **kw: Any) -> Obj:
        """:meth:`_call` for an answer that must be one object: anything else is a broken answer."""
        data = self._call(method, path, **kw)
        if data is None:
            return {}  # a JSON null: nothing to read
        if not isinstance(data, dict):
            raise ClusterError(f"the API server answered {method} {path} with {type(data).__name__}, not an object")
        return data

    def _pages(self, path: str, query: Mapping[str, Any], verb: str, resource: str,
               versions: Optional[list[str]] = None, limit: Optional[int] = None,
               page: int = PAGE) -> Iterator[Obj]:
        """Items of a list, page by page (limit/continue), so memory stays bounded.

        `versions` receives the first page's resourceVersion: the snapshot a later watch starts from.
        `limit`: at most that many items, in one request (completion offers no more than that).
        """
        q = dict(query)
        q["limit"] = limit or page
        while True:
            doc = self._call("GET", path, query=q, verb=verb, resource=resource)
            if versions is not None and not versions:
                versions.append(str((doc.get("metadata") or {}).get("resourceVersion") or ""))
            yield from doc.get("items") or []
            token = (doc.get("metadata") or {}).get("continue")
            if not token or limit:
                return
            q["continue"] = token

    # -- ImageCaches (cluster-scoped) ---------------------------------------------------------------------
    def list_imagecaches(self, selector: Optional[str] = None, limit: Optional[int] = None) -> list[Obj]:
        if limit:
            return list(self._pages(_IMC, {"labelSelector": selector}, "list", CRD_NAME, limit=limit))
        return self.list_imagecaches_at(selector)[0]

    def list_imagecaches_at(self, selector: Optional[str] = None) -> tuple[list[Obj], str]:
        """Items and the list's resourceVersion, where a watch for later changes starts."""
        versions: list[str] = []
        items = list(self._pages(_IMC, {"labelSelector": selector}, "list", CRD_NAME, versions, IMC_PAGE))
        return items, versions[0] if versions else ""

    def get_imagecache(self, name: str) -> Obj:
        return self._object("GET", f"{_IMC}/{quote(name)}", verb="get", resource=CRD_NAME, name=name)

    def create_imagecache(self, body: Obj, dry_run: bool = False) -> Obj:
        return self._object("POST", _IMC, query={"dryRun": "All" if dry_run else None}, body=body,
                          verb="create", resource=CRD_NAME, name=body["metadata"]["name"])

    def delete_imagecache(self, name: str, dry_run: bool = False) -> Obj:
        return self._object("DELETE", f"{_IMC}/{quote(name)}", query={"dryRun": "All" if dry_run else None},
                          verb="delete", resource=CRD_NAME, name=name)

    def watch_imagecaches(self, name: Optional[str], resource_version: Optional[str],
                          timeout: float) -> Iterator[Obj]:
        """Watch events (dicts with type and object); ends at the server-side timeout.

        The request timeout bounds a watch too: the server ends it after at most that long (the caller
        lists and watches again), and a server that stops sending is given only a little more.
        """
        seconds = max(1, int(min(timeout, WATCH_MAX, *_seconds(self.timeout))))
        query = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": seconds,
                 "allowWatchBookmarks": "true",
                 "fieldSelector": f"metadata.name={name}" if name else None}
        connect = _seconds(self.timeout)
        grace = min(5.0, *connect) if connect else 5.0
        resp = self._call("GET", _IMC, query=query, verb="watch", resource=CRD_NAME, name=name, stream=True,
                          timeout=(connect[0] if connect else seconds + grace, seconds + grace))
        yield from self._events(resp)

    def _events(self, resp: Any) -> Iterator[Obj]:
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            buf = b""
            try:
                for chunk in resp.stream(4096, decode_content=True):
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.strip():
                            yield _event(line, self.server)
                    if len(buf) > WATCH_LINE_MAX:
                        raise ClusterError(f"the API server {self.server} sent a watch event larger than "
                                           f"{WATCH_LINE_MAX // 2**20} MiB")
            except (Urllib3Error, OSError) as exc:  # the server went away or stopped sending mid-watch
                raise self.unreachable(exc) from None
        finally:
            resp.release_conn()

    # -- workloads, pods, secrets ------------------------------------------------------------------------
    def list_pods(self, namespace: Optional[str] = None, selector: Optional[str] = None,
                  field_selector: Optional[str] = None) -> Iterator[Obj]:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods" if namespace else "/api/v1/pods"
        return self._pages(path, {"labelSelector": selector, "fieldSelector": field_selector}, "list", "pods")

    def list_namespaces(self, limit: Optional[int] = None) -> list[Obj]:
        return list(self._pages("/api/v1/namespaces", {}, "list", "namespaces", limit=limit))

    def list_secrets(self, namespace: str, secret_type: Optional[str] = None, limit: Optional[int] = None,
                     ) -> list[Obj]:
        """Secrets of one namespace, optionally of one type (fieldSelector type=...)."""
        return list(self._pages(f"/api/v1/namespaces/{quote(namespace)}/secrets",
                                {"fieldSelector": f"type={secret_type}" if secret_type else None}, "list", "secrets",
                                limit=limit))

    def list_kind(self, kind: str, namespace: str, limit: Optional[int] = None) -> list[Obj]:
        """Objects of one workload kind (any spelling --from accepts) in one namespace."""
        _, api, plural = WORKLOAD_KINDS[kind.lower()]
        return list(self._pages(f"{api}/namespaces/{quote(namespace)}/{plural}", {}, "list", plural, limit=limit))

    def get_workload(self, kind: str, namespace: str, name: str) -> Obj:
        k, api, plural = WORKLOAD_KINDS[kind.lower()]
        obj = self._object("GET", f"{api}/namespaces/{quote(namespace)}/{plural}/{quote(name)}", verb="get",
                         resource=plural, name=f"{namespace}/{name}")
        obj.setdefault("kind", k)
        return obj

    def list_workloads(self, namespace: Optional[str], selector: Optional[str],
                       kinds: Sequence[str] = WORKLOAD_ORDER) -> Iterator[Obj]:
        """Every workload that owns its pods' spec; a ReplicaSet, Job or Pod is left out when a
        workload listed here controls it (its Deployment, CronJob, ...), which names the same images.
        `kinds`: fewer kinds, e.g. without "Pod" for a caller that lists every pod itself."""
        for kind in kinds:
            _, api, plural = WORKLOAD_KINDS[kind.lower()]
            path = f"{api}/namespaces/{quote(namespace)}/{plural}" if namespace else f"{api}/{plural}"
            for obj in self._pages(path, {"labelSelector": selector}, "list", plural):
                obj.setdefault("kind", kind)
                if not controlled(obj):  # else its controller is listed itself
                    yield obj

    def list_pod_events(self, namespace: Optional[str]) -> Iterator[Obj]:
        """core/v1 Events about pods (ECI's cache hits and misses are among them), page by page."""
        path = f"/api/v1/namespaces/{quote(namespace)}/events" if namespace else "/api/v1/events"
        return self._pages(path, {"fieldSelector": "involvedObject.kind=Pod"}, "list", "events")

    def create_event(self, body: Obj) -> Obj:
        """POST a core/v1 Event into its metadata.namespace."""
        namespace = str(body["metadata"]["namespace"])
        return self._object("POST", f"/api/v1/namespaces/{quote(namespace)}/events", body=body, verb="create",
                            resource="events", name=f"{namespace}/{body['metadata']['name']}")

    # -- Leases (kube.lease keeps two syncs apart with them) --------------------------------------------
    def get_lease(self, namespace: str, name: str) -> Obj:
        return self._object("GET", _lease_path(namespace, name), verb="get", resource=_LEASES,
                            name=f"{namespace}/{name}")

    def create_lease(self, namespace: str, body: Obj) -> Obj:
        name = str((body.get("metadata") or {}).get("name") or "")
        return self._object("POST", _lease_path(namespace), body=body, verb="create", resource=_LEASES,
                          name=f"{namespace}/{name}")

    def update_lease(self, namespace: str, name: str, body: Obj) -> Obj:
        """PUT with the body's resourceVersion: a 409 Conflict (ClusterError) when another wrote first."""
        return self._object("PUT", _lease_path(namespace, name), body=body, verb="update", resource=_LEASES,
                          name=f"{namespace}/{name}")

    def get_cronjob(self, namespace: str, name: str) -> Obj:
        return self._object("GET", f"/apis/batch/v1/namespaces/{quote(namespace)}/cronjobs/{quote(name)}",
                            verb="get", resource="cronjobs.batch", name=f"{namespace}/{name}")

    def get_secret(self, namespace: str, name: str) -> Obj:
        return self._object("GET", f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}", verb="get",
                          resource="secrets", name=f"{namespace}/{name}")

    def get_service_account(self, namespace: str, name: str) -> Obj:
        return self._object("GET", f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(name)}",
                          verb="get", resource="serviceaccounts", name=f"{namespace}/{name}")


_LEASES = "leases.coordination.k8s.io"


def _lease_path(namespace: str, name: Optional[str] = None) -> str:
    base = f"/apis/coordination.k8s.io/v1/namespaces/{quote(namespace)}/leases"
    return f"{base}/{quote(name)}" if name else base


def _event(line: bytes, server: str) -> Obj:
    try:
        doc = json.loads(line)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise ClusterError(f"the API server {server} sent a watch event that is not a JSON object")
    return doc


def _seconds(timeout: Timeout) -> tuple[float, ...]:
    """The request timeout as (seconds,) to take a minimum of, or () for none."""
    if timeout is None:
        return ()
    return (min(timeout),) if isinstance(timeout, tuple) else (float(timeout),)


def _retry_after(exc: Any) -> Optional[float]:
    """Seconds to wait before retrying a 429 or 503 that carried Retry-After, else None."""
    if getattr(exc, "status", 0) not in (429, 503):
        return None
    headers = getattr(exc, "headers", None) or {}
    seconds = parse_retry_after(next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None))
    return None if seconds is None else min(seconds, RETRY_AFTER_MAX)


# OpenSSL verify codes (X509_V_ERR_*) that have a plain-words cause.
_VERIFY_CAUSES = {
    18: "its certificate is self-signed and not trusted (signed by an unknown authority)",
    19: "its certificate is signed by an unknown authority",
    20: "its certificate is signed by an unknown authority",
    21: "its certificate is signed by an unknown authority",
    10: "its certificate has expired",
    9: "its certificate is not yet valid",
    62: "its certificate is not valid for this host name (hostname mismatch)",
    64: "its certificate is not valid for this IP address (hostname mismatch)",
}
_TLS_HINT = "; check certificate-authority(-data), server and tls-server-name in the kubeconfig"


def network_cause(exc: BaseException, timeout: Timeout = None) -> str:
    """What went wrong on the way to the API server, in words, with what to do about it.

    Never the exception's text as is: urllib3's names the Python objects involved.
    """
    import ssl

    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError

    chain = causes(exc)
    limit = f" within {_seconds(timeout)[0]:g}s" if timeout else ""
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            cause = _VERIFY_CAUSES.get(getattr(e, "verify_code", 0))
            detail = str(getattr(e, "verify_message", "") or "certificate verify failed")
            return f"TLS: {cause or detail}{_TLS_HINT}"
    text = " ".join(str(e) for e in chain)
    if "CERTIFICATE_VERIFY_FAILED" in text:  # the client flattened the error into text
        if "mismatch" in text:
            return f"TLS: its certificate is not valid for this host name (hostname mismatch){_TLS_HINT}"
        if "issuer" in text or "self-signed" in text or "self signed" in text:
            return f"TLS: its certificate is signed by an unknown authority{_TLS_HINT}"
        return f"TLS: certificate verify failed{_TLS_HINT}"
    for e in chain:  # NewConnectionError is a ConnectTimeoutError to urllib3: look at it first
        if isinstance(e, ConnectionRefusedError) or isinstance(e, NewConnectionError) and "refused" in str(e).lower():
            return "connection refused; check the kubeconfig context (is the cluster running?)"
        if isinstance(e, NewConnectionError) and "resolution" in str(e).lower():
            return "the server's host name does not resolve; check the kubeconfig context and DNS"
    for e in chain:
        timed_out = isinstance(e, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)) and \
            not isinstance(e, NewConnectionError)
        if timed_out or isinstance(e, ssl.SSLError) and "timed out" in str(e).lower():
            return (f"no answer{limit} (request timed out); check the kubeconfig context and the network, "
                    "or raise --request-timeout")
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return f"TLS handshake failed ({getattr(e, 'reason', None) or 'SSL error'}){_TLS_HINT}"
    for e in chain:
        if isinstance(e, (ProtocolError, ConnectionError)):
            return "the connection was closed before the answer was complete; try again"
    return "the connection failed; check the kubeconfig context and the network"
