"""`kubectl imagecache refresh NAME... | --all-stale`: replace stale caches, never leaving their images uncached.

For each cache: create a replacement holding the same images at the digests their tags name now
(sized again: the new content may be larger), wait until it is Ready, and only then delete the old
one. If the replacement fails or the wait runs out, the old cache stays and the command exits
non-zero naming the reason. A cache pinned by id (k8s.aliyun.com/eci-imc-id) is refused: its
replacement gets a new id, and deleting the old one would break the pods that pin it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import click

from ...errors import EXIT_FAILURE, AlreadyExists, ClusterNotFound, ImageCacheError, UsageError
from ..options import (
    CacheFlags,
    CacheSettings,
    CommandOptions,
    KubeFlags,
    RegistryFlags,
    RegistrySettings,
    cache_flags,
    kube_flags,
    output_flag,
    registry_flags,
)
from ..printers import NamePrinter, escape, info, print_structured, print_table, warn

if TYPE_CHECKING:
    from ...imagecache.freshness import RefreshPlan
    from ...kube.api import Cluster, KubeSettings


def size_replacement(obj: Mapping[str, Any], current: Mapping[str, str], cluster: Cluster,
                     registry: RegistrySettings, cache: CacheSettings) -> RefreshPlan:
    """freshness.plan_refresh with the size worked out again from the images' current manifests
    (never below the old size), read with the cache's own pull secrets."""
    from ...imagecache import resource as imc
    from ...imagecache.freshness import plan_refresh
    from ...kube.pullsecrets import load_pull_secrets
    from ...registry.reference import normalize_or_keep, parse_reference
    from ...sizing import recommend_gib

    secrets = load_pull_secrets(imc.pull_secrets(obj), cluster.get_secret) if imc.pull_secrets(obj) else []
    images = list(dict.fromkeys(normalize_or_keep(t) for t in imc.images(obj)))
    with registry.open_client(cache, secrets) as client:
        results = client.inspect_many([(i, parse_reference(i)) for i in images])
    failed = [r for r in results if r.error is not None]
    if failed or len(results) != len(images):
        first = failed[0] if failed else None
        raise ImageCacheError(f"cannot refresh {imc.name(obj)}: {first.image if first else 'an image'} could not be "
                              f"read from its registry ({first.error.message if first and first.error else '?'})")
    needed = sum(r.info.size_bytes for r in results if r.info is not None)
    size = max(imc.effective_size_gib(obj), recommend_gib(needed))
    return plan_refresh(obj, current, size_gib=size, image_bytes=needed)


def replace(cluster: Cluster, plan: RefreshPlan, timeout: float) -> Optional[str]:
    """Create ``plan``'s replacement (or find the one an earlier run made), wait until Ready, delete
    the old cache. None when done, else why the old cache stays."""
    from ...imagecache.resource import READY
    from ...kube.waiting import wait_for

    try:
        cluster.create_imagecache(dict(plan.body))
    except AlreadyExists:
        pass  # an earlier run (or a concurrent sync) made it: wait for it as well
    outcome = wait_for(cluster, [plan.name], READY, timeout)[plan.name]
    if not outcome.ok:
        what = f"{outcome.phase}" + (f": {outcome.reason}" if outcome.reason else "")
        if not outcome.done:
            what = f"not Ready after the timeout ({outcome.phase} at {outcome.progress})"
        return f"replacement {plan.name} is {what}; {plan.old} stays"
    try:
        cluster.delete_imagecache(plan.old)
    except ClusterNotFound:
        pass
    return None


@dataclass
class RefreshOptions(CommandOptions):
    names: tuple[str, ...] = ()
    all_stale: bool = False
    dry_run: bool = False
    timeout: str = "30m"
    output: str = "table"
    kube_flags: KubeFlags = KubeFlags()
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube: KubeSettings = field(init=False)
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)
    seconds: float = field(init=False, default=0.0)

    def complete(self) -> None:
        from ...durations import parse_duration

        self.names = tuple(dict.fromkeys(self.names))
        self.kube = self.kube_flags.complete()
        self.registry = self.registry_flags.complete()
        self.cache = self.cache_flags.complete()
        self.seconds = parse_duration(self.timeout, "--timeout")

    def validate(self) -> None:
        if bool(self.names) == self.all_stale:
            raise UsageError("name the caches to refresh, or pass --all-stale (not both)")

    def run(self) -> int:
        from ...imagecache import resource as imc
        from ...imagecache.freshness import cache_freshness, tags_to_resolve
        from ..scope import pod_usage, resolve_current

        cluster = self.kube.connection
        caches = cluster.list_imagecaches()
        by_name = {imc.name(c): c for c in caches}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise ClusterNotFound(f'{imc.CRD_NAME} "{missing[0]}" not found')
        targets = [by_name[n] for n in self.names] if self.names else \
            [c for c in caches if imc.phase(c) == imc.READY]
        current = resolve_current(self.registry, self.cache, tags_to_resolve(targets))
        stale = []
        for obj in targets:
            f = cache_freshness(obj, current)
            if f.stale:
                stale.append(obj)
            elif self.names:
                why = "no digests recorded or unknown" if f.unknown else "every image is at its current digest"
                info(f"ImageCache {imc.name(obj)} is not stale ({why}): nothing to do")
        if not stale:
            if self.output in ("json", "yaml"):
                print_structured({"refreshes": [], "failed": []}, self.output)
            elif self.all_stale:
                click.echo("No stale ImageCaches.", err=True)
            return 0
        _, pins = pod_usage(cluster)
        plans: list[RefreshPlan] = []
        refused: list[str] = []
        for obj in stale:
            who = pins.pinned_by(imc.cache_id(obj))
            if who:
                refused.append(f"{imc.name(obj)} is pinned by id by {', '.join(who)}: its replacement would get a "
                               "new id; refresh it by hand and re-pin")
                continue
            plans.append(size_replacement(obj, current, cluster, self.registry, self.cache))
        for r in refused:
            warn(escape(r))
        if self.output not in ("json", "yaml"):
            print_table([[p.old, p.name, ", ".join(f"{c.image} {(c.recorded or '?')[:19]} -> {(c.current or '?')[:19]}"
                                                    for c in p.changes)] for p in plans],
                        ["STALE", "REPLACEMENT", "MOVED"])
        if self.dry_run:
            if self.output in ("json", "yaml"):
                print_structured({"refreshes": [p.to_dict() for p in plans], "failed": refused}, self.output)
            return EXIT_FAILURE if refused else 0
        printer = NamePrinter(err=self.output in ("json", "yaml"))
        failures: list[str] = []
        for p in plans:
            problem = replace(cluster, p, self.seconds)
            if problem:
                failures.append(problem)
                click.echo(f"error: {escape(problem)}", err=True)
            else:
                printer.name(p.name, "created")
                printer.deleted(p.old)
        if self.output in ("json", "yaml"):
            print_structured({"refreshes": [p.to_dict() for p in plans], "failed": refused + failures}, self.output)
        if failures or refused:
            raise ImageCacheError(f"{len(failures) + len(refused)} of {len(plans) + len(refused)} refresh(es) did not "
                                  f"complete: {(failures + refused)[0]}")
        return 0


@click.command("refresh", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all-stale", is_flag=True, help="Every Ready cache whose tags moved.")
@click.option("--dry-run", is_flag=True, help="Show the replacements; create and delete nothing.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION",
              help="How long to wait for each replacement to be Ready.")
@output_flag(("table", "json", "yaml"))
@registry_flags
@cache_flags
@kube_flags
def command(names: Sequence[str], all_stale: bool, dry_run: bool, timeout: str, output: str,
            registry: RegistryFlags, cache: CacheFlags, kube: KubeFlags) -> int:
    """Replace stale caches by caches of the same images at their current digests.

    The replacement is created and waited for first; the old cache is deleted only once it is
    Ready, so a Ready cache holds the images at every moment. If the replacement fails, the old
    cache stays and the command exits non-zero with the reason.

    \b
    Examples:
      kubectl imagecache refresh --all-stale --dry-run
      kubectl imagecache refresh imc-3f2a9c81d0b4 --timeout 20m
    """
    return RefreshOptions(tuple(names), all_stale, dry_run, timeout, output, kube, registry, cache).execute()
