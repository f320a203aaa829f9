"""The workload kinds, written once: how users spell them, where the API serves them, where each keeps
its pod template, and which control others. With the accessors that read a pod template. Pure.

kube/ lists kinds from this table, imagecache/ decides from it which objects are workloads, and cli/
reads it for flags, completion and messages.
"""

from __future__ import annotations

from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

__all__ = [
    "Workload", "Kind", "KINDS", "WORKLOAD_KINDS", "WORKLOAD_KIND_NAMES", "WORKLOAD_ORDER", "CONTROLLER_KINDS",
    "DEFAULT_SERVICE_ACCOUNT", "lookup", "controlled", "controller_ref", "pod_spec", "template_metadata",
    "template_annotations", "template_images", "workload_pull_secrets", "workload_service_account",
]


@dataclass(frozen=True)
class Workload:
    """An object that runs pods. Equality and hashing use kind, namespace and name only."""

    kind: str
    namespace: Optional[str]
    name: str
    pull_secrets: tuple[str, ...] = field(default=(), compare=False)
    service_account: Optional[str] = field(default=None, compare=False)

    def __str__(self) -> str:
        # kubectl's kind/name, with the namespace in between when known: deployment/shop/web.
        parts = [self.kind.lower(), self.namespace, self.name]
        return "/".join(p for p in parts if p)


@dataclass(frozen=True)
class Kind:
    name: str  # as the API writes it: Deployment
    api: str  # API path prefix: /apis/apps/v1
    plural: str  # deployments
    aliases: tuple[str, ...]  # how users spell it on the command line (kubectl's short names included)
    spec_path: tuple[str, ...]  # where its pod spec lives in the object
    controls: bool  # a controller: an object it owns is no workload of its own
    listed: bool = True  # read from the cluster (a manifest-only kind is still read from files)

    @property
    def meta_path(self) -> tuple[str, ...]:
        """Where the pod template's metadata lives (a Pod's own metadata): beside its spec."""
        return self.spec_path[:-1] + ("metadata",)


_TEMPLATE = ("spec", "template", "spec")
# Controllers first: the order a cluster is read in, so an owner is known before what it owns.
KINDS: tuple[Kind, ...] = (
    Kind("Deployment", "/apis/apps/v1", "deployments", ("deployment", "deployments", "deploy"), _TEMPLATE, True),
    Kind("StatefulSet", "/apis/apps/v1", "statefulsets", ("statefulset", "statefulsets", "sts"), _TEMPLATE, True),
    Kind("DaemonSet", "/apis/apps/v1", "daemonsets", ("daemonset", "daemonsets", "ds"), _TEMPLATE, True),
    Kind("ReplicaSet", "/apis/apps/v1", "replicasets", ("replicaset", "replicasets", "rs"), _TEMPLATE, True),
    Kind("CronJob", "/apis/batch/v1", "cronjobs", ("cronjob", "cronjobs", "cj"),
         ("spec", "jobTemplate", "spec", "template", "spec"), True),
    Kind("Job", "/apis/batch/v1", "jobs", ("job", "jobs"), _TEMPLATE, True),
    Kind("Pod", "/api/v1", "pods", ("pod", "pods", "po"), ("spec",), False),
    # Read from manifests only: ReplicationController is superseded by Deployment, and a PodTemplate
    # runs no pod; listing them from every cluster would cost a request each for what nobody runs.
    # An RC is not read, so the pods it owns stand as workloads of their own (not "controlled").
    Kind("ReplicationController", "/api/v1", "replicationcontrollers", (), _TEMPLATE, False, listed=False),
    Kind("PodTemplate", "/api/v1", "podtemplates", (), ("template", "spec"), False, listed=False),
)
_BY_NAME = {k.name: k for k in KINDS}
_LISTED = tuple(k for k in KINDS if k.listed)

# Accepted spellings (--from KIND/NAME, explain KIND/NAME) -> (kind, API path prefix, plural)
WORKLOAD_KINDS: dict[str, tuple[str, str, str]] = {a: (k.name, k.api, k.plural) for k in _LISTED for a in k.aliases}
WORKLOAD_KIND_NAMES = tuple(k.name.lower() for k in _LISTED)  # for messages
# The kinds that own a pod template, controllers first (the order list_workloads reads them in).
WORKLOAD_ORDER = tuple(k.name for k in _LISTED)
# An object one of these controls is not a workload of its own: its controller names the same images.
CONTROLLER_KINDS = frozenset(k.name for k in KINDS if k.controls)
DEFAULT_SERVICE_ACCOUNT = "default"  # what Kubernetes runs pods as when the spec names none
# Ephemeral containers exist only on live pods (kubectl debug, later); ECI matches at creation without them.
_TEMPLATE_CONTAINERS = ("initContainers", "containers")


def lookup(kind: Any) -> Optional[Kind]:
    return _BY_NAME.get(kind) if isinstance(kind, str) else None


def _dig(obj: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def controller_ref(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The ownerReference marked controller, if any."""
    owners = _dig(obj, ("metadata", "ownerReferences"))
    for ref in owners if isinstance(owners, list) else ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def controlled(obj: Mapping[str, Any]) -> bool:
    """Whether a controller of one of CONTROLLER_KINDS owns ``obj`` (then it is no workload of its own)."""
    ref = controller_ref(obj)
    return ref is not None and ref.get("kind") in CONTROLLER_KINDS


def _spec_path(obj: Mapping[str, Any]) -> Optional[tuple[str, ...]]:
    """A known kind's pod spec path; for others (Argo Rollouts, OpenKruise CloneSets...) the usual
    spec.template.spec when it holds containers: skipping such a kind would undersize a cache."""
    known = lookup(obj.get("kind"))
    if known is not None:
        return known.spec_path
    generic = _dig(obj, _TEMPLATE)
    return _TEMPLATE if isinstance(generic, Mapping) and isinstance(generic.get("containers"), list) else None


def pod_spec(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The pod spec of a workload object, or None for kinds that do not run pods."""
    path = _spec_path(obj)
    spec = _dig(obj, path) if path else None
    return spec if isinstance(spec, Mapping) else None


def template_metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod template's metadata (a Pod's own): where ECI reads its matching annotations."""
    path = _spec_path(obj) or _TEMPLATE
    meta = _dig(obj, path[:-1] + ("metadata",))
    return meta if isinstance(meta, Mapping) else {}


def template_annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = template_metadata(obj).get("annotations")
    return value if isinstance(value, Mapping) else {}


def template_images(obj: Mapping[str, Any]) -> list[str]:
    """The images of the pod template's init containers and containers, as written."""
    spec = pod_spec(obj) or {}
    out = []
    for key in _TEMPLATE_CONTAINERS:
        containers = spec.get(key)
        for c in containers if isinstance(containers, list) else ():
            image = c.get("image") if isinstance(c, Mapping) else None
            if isinstance(image, str) and image.strip():
                out.append(image.strip())
    return out


def workload_pull_secrets(obj: Mapping[str, Any]) -> list[str]:
    """Names in the pod spec's imagePullSecrets (in order, without duplicates)."""
    spec = pod_spec(obj)
    secrets = spec.get("imagePullSecrets") if spec else None
    names: list[str] = []
    for entry in secrets if isinstance(secrets, list) else ():
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def workload_service_account(obj: Mapping[str, Any]) -> Optional[str]:
    """The service account the pods run as: "default" when unset; None when there are no pods."""
    spec = pod_spec(obj)
    if spec is None:
        return None
    # serviceAccount is the deprecated alias; the API server fills both, manifests may have either.
    for key in ("serviceAccountName", "serviceAccount"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            return value
    return DEFAULT_SERVICE_ACCOUNT
