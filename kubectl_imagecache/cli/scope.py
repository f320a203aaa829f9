"""What coverage, explain, refresh, sync, list and describe read about a scope, in one place.

Workloads with their pods, ECI's pod events and every cache; what pods use and pin (prune's
rules need it); the digests tags name now (through the local metadata cache); warm's sizing of
planned caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from ..errors import Forbidden, ImageCacheError
from .options import CacheFlags, CacheSettings, RegistryFlags, RegistrySettings
from .printers import warn

if TYPE_CHECKING:
    from ..imagecache.planner import ImageFacts, Usage
    from ..kube.api import Cluster

__all__ = ["Scope", "read_scope", "pod_usage", "read_usage", "resolve_current", "freshness_of", "stale_text",
           "size_images", "discover_secrets", "cache_secrets", "for_want_of_secret"]


@dataclass
class Scope:
    """What one run read: workloads of the scope, their pods and events, every cache."""

    workloads: list[dict[str, Any]]
    pods: list[dict[str, Any]]
    events: list[dict[str, Any]]
    caches: list[dict[str, Any]]
    whole: bool = False  # every namespace, no selector: every pod and workload of the cluster


def read_scope(cluster: Cluster, namespace: Optional[str], selector: Optional[str], events: bool = True) -> Scope:
    """Workloads of the scope, their pods (each read once) and events, and every cache."""
    from ..kube.gcpause import settle
    from ..model.kinds import WORKLOAD_ORDER, controlled

    if selector is None:
        # The bare pods among the workloads are among the pods: one read serves both.
        workloads = list(cluster.list_workloads(namespace, None, kinds=[k for k in WORKLOAD_ORDER if k != "Pod"]))
        pods = list(cluster.list_pods(namespace))
        for pod in pods:
            pod.setdefault("kind", "Pod")
        workloads += [pod for pod in pods if not controlled(pod)]
    else:
        workloads = list(cluster.list_workloads(namespace, selector))
        pods = list(cluster.list_pods(namespace)) if workloads else []
    evs: list[dict[str, Any]] = []
    if events and workloads:
        try:
            evs = list(cluster.list_pod_events(namespace))
        except Forbidden:
            warn("cannot list events: the last hit or miss is not shown")
    scope = Scope(workloads, pods, evs, cluster.list_imagecaches(), whole=namespace is None and selector is None)
    settle()
    return scope


def resolve_current(registry: RegistrySettings, cache: CacheSettings, tags: Sequence[str],
                    secrets: Sequence[Any] = ()) -> dict[str, str]:
    """The digests the tags name now (HEAD through the local metadata cache: none within --cache-ttl).

    A tag that cannot be resolved is left out (its freshness is unknown) with one warning.
    """
    if not tags:
        return {}
    from ..registry.reference import parse_reference

    refs = []
    for t in tags:
        try:
            refs.append((t, parse_reference(t)))
        except ImageCacheError:
            continue
    with registry.open_client(cache, secrets) as client:
        results = client.inspect_many(refs)
    failed = [r for r in results if r.error is not None]
    if failed:
        warn(f"{len(failed)} tag(s) could not be resolved, their freshness is unknown "
             f"(first: {failed[0].image}: {failed[0].error.message if failed[0].error else ''})")
    return {r.image: r.info.digest for r in results if r.info is not None}


# Seconds list and describe give a registry to say what a tag names now: the STALE column is a
# nicety, and a stalled registry must not hold the table for the 30 s other commands allow.
FRESHNESS_TIMEOUT = 5.0


def freshness_of(caches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """name -> freshness.CacheFreshness, with the default registry and metadata-cache settings (list,
    describe): HEAD requests only for tags older than the cache's TTL; a failure leaves them unknown."""
    from ..imagecache.freshness import cache_freshness, tags_to_resolve
    from ..model import imagecache as imc

    try:
        registry = RegistryFlags(registry_timeout=FRESHNESS_TIMEOUT).complete()
        current = resolve_current(registry, CacheFlags().complete(), tags_to_resolve(caches))
    except ImageCacheError as exc:
        warn(f"cannot check the images' current digests ({exc.message}): staleness unknown")
        current = {}
    return {imc.name(c): cache_freshness(c, current) for c in caches}


def stale_text(f: Any) -> str:
    """list's STALE column: yes (a tag moved), no (every recorded digest is current), - (cannot tell)."""
    if f.stale:
        return "yes"
    return "no" if f.images and not f.unknown else "-"


def size_images(images: Sequence[str], registry: RegistrySettings, cache: CacheSettings,
                secrets: Sequence[Any] = ()) -> tuple[dict[str, ImageFacts], dict[str, str]]:
    """The digest and size of each normalized image, from its registry (through the metadata cache);
    and, apart, why each image that could not be read failed."""
    from ..imagecache.planner import ImageFacts
    from ..registry.reference import parse_reference

    if not images:
        return {}, {}
    refs, errors = [], {}
    for i in sorted(set(images)):
        try:
            refs.append((i, parse_reference(i)))
        except ImageCacheError as exc:
            errors[i] = exc.message
    with registry.open_client(cache, secrets) as client:
        results = client.inspect_many(refs)
    sizes = {r.image: ImageFacts(r.info.digest, r.info.size_bytes) for r in results if r.info is not None}
    errors.update({r.image: r.error.message for r in results if r.error is not None})
    return sizes, errors


def discover_secrets(workloads: Sequence[Mapping[str, Any]], cluster: Cluster, registry: RegistrySettings,
                     unread: Optional[dict[str, str]] = None) -> tuple[list[Any], tuple[str, ...]]:
    """The credentials of the workloads' pull secrets and --pull-secret, and the names new caches carry.
    With ``unread``, a secret RBAC forbids reading is left unread, its namespace noted there (sync)."""
    from ..kube.pullsecrets import Reads, discover

    found = discover(workloads, registry.pull_secrets, Reads(cluster.get_secret, cluster.get_service_account), warn,
                     where_granted=unread is not None)
    if unread is not None:
        unread.update(found.unread)
    return list(found.secrets), tuple(found.names)


def cache_secrets(caches: Sequence[Mapping[str, Any]], cluster: Cluster,
                  unread: Optional[dict[str, str]] = None) -> list[Any]:
    """The credentials of the pull secrets the caches name (a refresh reads images as the cache did).
    With ``unread``, as :func:`discover_secrets`."""
    from ..kube.pullsecrets import load_pull_secrets
    from ..model import imagecache as imc

    names = sorted({s for c in caches for s in imc.pull_secrets(c)})
    if unread is None:
        return list(load_pull_secrets(names, cluster.get_secret)) if names else []
    found: list[Any] = []
    for spec in names:
        try:
            found += load_pull_secrets([spec], cluster.get_secret)
        except Forbidden as exc:
            ns, _, name = spec.partition(":")
            unread.setdefault(ns, f"{ns}/{name} ({exc.message})")
    return found


def for_want_of_secret(errors: Mapping[str, str], unread: Mapping[str, str],
                       workloads: Sequence[Mapping[str, Any]] = (),
                       caches: Sequence[Mapping[str, Any]] = ()) -> dict[str, str]:
    """image -> the pull secret that could not be read, for each image that could not be sized and that a
    workload of the secret's namespace runs (or a cache naming a secret of it holds); each said once."""
    from ..model import imagecache as imc
    from ..model.imagecache import MIN_GIB
    from ..model.kinds import template_images
    from ..registry.reference import normalize_or_keep

    pairs = [((o.get("metadata") or {}).get("namespace") or "", template_images(o)) for o in workloads]
    pairs += [(s.partition(":")[0], imc.images(c)) for c in caches for s in imc.pull_secrets(c)]
    out: dict[str, str] = {}
    for ns, images in pairs:
        for image in (normalize_or_keep(i) for i in images) if ns in unread else ():
            if image in errors and image not in out:
                out[image] = unread[ns]
                warn(f"{image} could not be sized: pull secret {unread[ns]} could not be read; its cache gets "
                     f"the size of the cache it replaces, else the {MIN_GIB} GiB minimum")
    return out


def pod_usage(cluster: Any, scope: Optional[Scope] = None) -> Usage:
    """What every pod and every workload's pod template uses and pins (read-only, cluster-wide).

    A ``scope`` read of the whole cluster has read them all already: nothing is read again. Raises
    Forbidden when RBAC forbids a read (:func:`read_usage` turns that into "unknown")."""
    from ..imagecache.planner import usage_of
    from ..model.kinds import WORKLOAD_ORDER

    whole = scope if scope is not None and scope.whole else None
    if whole:
        return usage_of(whole.pods, whole.workloads)
    # Pods are all read first (add_pod pins them): listing bare pods among the workloads would read them twice.
    pods = cluster.list_pods()
    return usage_of(pods, cluster.list_workloads(None, None, kinds=[k for k in WORKLOAD_ORDER if k != "Pod"]))


def read_usage(cluster: Any, scope: Optional[Scope] = None) -> tuple[Optional[Usage], str]:
    """:func:`pod_usage`, or (None, why) when RBAC forbids the cluster-wide reads it takes."""
    from ..model.imagecache import POD_PINNED_ID

    try:
        return pod_usage(cluster, scope), ""
    except Forbidden as exc:
        return None, (f"{exc.message}; without every pod and pod template the pins ({POD_PINNED_ID}) and "
                      "what running pods use are unknown")
