"""What coverage, explain, refresh, sync, list and describe read about a scope, in one place.

Workloads with their pods, ECI's pod events and every cache; what pods use and pin (prune's
rules need it); the digests tags name now (through the local metadata cache); warm's sizing of
planned caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import click

from ..errors import Forbidden, ImageCacheError
from .options import CacheFlags, CacheSettings, RegistryFlags, RegistrySettings
from .printers import warn

if TYPE_CHECKING:
    from ..imagecache.plan import PlannedCache
    from ..imagecache.prune import Pins, PodImages
    from ..kube.api import Cluster

__all__ = ["Scope", "read_scope", "pod_usage", "resolve_current", "freshness_of", "stale_text", "build_bodies"]


@dataclass
class Scope:
    """What one run read: workloads of the scope, their pods and events, every cache."""

    workloads: list[dict]
    pods: list[dict]
    events: list[dict]
    caches: list[dict]
    whole: bool = False  # every namespace, no selector: every pod and workload of the cluster


def read_scope(cluster: Cluster, namespace: Optional[str], selector: Optional[str], events: bool = True) -> Scope:
    """Workloads of the scope, their pods (each read once) and events, and every cache."""
    from ..kube.gcpause import settle
    from ..kube.kinds import WORKLOAD_ORDER, controlled

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
    evs: list[dict] = []
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
    from ..imagecache import resource as imc
    from ..imagecache.freshness import cache_freshness, tags_to_resolve

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


def build_bodies(planned: Sequence[PlannedCache], workloads: Sequence[Mapping[str, Any]], cluster: Cluster,
                 registry: RegistrySettings, cache: CacheSettings, strict: bool = True) -> list[dict]:
    """warm's sizing of planned caches: every image inspected (none missing), 2x rule, current digests.

    strict: one image that cannot be sized fails all (coverage --fix, as warm); else (sync) only the
    caches holding it are left out, with a warning each, so one broken workload does not stop the rest.
    """
    if not planned:
        return []
    from ..imagecache.plan import imagecache_object
    from ..kube.pullsecrets import Reads, discover
    from ..registry.reference import parse_reference
    from ..sizing import recommend_gib

    found = discover(workloads, registry.pull_secrets, Reads(cluster.get_secret, cluster.get_service_account), warn)
    unique = sorted({i for p in planned for i in p.images})
    with registry.open_client(cache, found.secrets) as client:
        results = client.inspect_many([(i, parse_reference(i)) for i in unique])
    failed = [r for r in results if r.error is not None]
    if failed and not strict:
        bad = {r.image for r in failed}
        for r in failed:
            warn(f"{r.image}: {r.error.message if r.error else ''}")
        for p in planned:
            if bad & set(p.images):
                warn(f"not warming {p.name} ({', '.join(p.workloads)}): an image could not be sized")
        planned = [p for p in planned if not bad & set(p.images)]
    elif failed:
        for r in failed:
            click.echo(f"error: {r.image}: {r.error.message if r.error else ''}", err=True)
        raise ImageCacheError(f"{len(failed)} image(s) could not be sized, so no cache was planned (a size that "
                              "ignores an image would be too small)", exit_code=failed[0].error.exit_code
                              if failed[0].error else None)
    infos = {r.image: r.info for r in results if r.info is not None}
    bodies = []
    for p in planned:
        needed = sum(infos[i].size_bytes for i in p.images)
        bodies.append(imagecache_object(p, size_gib=recommend_gib(needed), digests={i: infos[i].digest
                                                                                     for i in p.images},
                                        image_bytes=needed, platform=str(registry.platform),
                                        pull_secrets=found.names))
    return bodies


def pod_usage(cluster: Any, scope: Optional[Scope] = None) -> tuple[PodImages, Pins]:
    """What pods use and pin, from every pod and every workload's pod template (read-only).

    A ``scope`` read of the whole cluster has read them all already: nothing is read again."""
    from ..imagecache.prune import Pins, PodImages
    from ..imagecache.resource import POD_PINNED_ID
    from ..kube.kinds import WORKLOAD_ORDER

    images, pins = PodImages(), Pins()
    whole = scope if scope is not None and scope.whole else None
    try:
        # Page by page into sets: memory grows with distinct images and pins, not with pods.
        for pod in whole.pods if whole else cluster.list_pods():
            images.add_pod(pod)
            pins.add_pod(pod)
        # Pods were all read just above (add_pod pins them): listing them again would double the reads.
        for obj in whole.workloads if whole else \
                cluster.list_workloads(None, None, kinds=[k for k in WORKLOAD_ORDER if k != "Pod"]):
            pins.add_workload(obj)
    except Forbidden as exc:
        # Any cache could be pinned by what we cannot see: delete nothing rather than guess.
        raise Forbidden(f"{exc.message}. prune reads every pod and pod template to keep the caches they use "
                        f"or pin ({POD_PINNED_ID}); nothing was deleted") from None
    return images, pins
