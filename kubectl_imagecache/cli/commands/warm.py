"""`kubectl imagecache warm`: create ImageCaches from images, manifests or the workloads a cluster runs.

complete (the flags) -> validate (their combinations, before any request) -> run: read every
source (files, the cluster), the pull secrets and the registry, check sizes, names and conflicts
against the cluster, and only then create (or print, for --dry-run; then optionally wait).
Nothing is created unless every check passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import click

from ...errors import ImageCacheError, UsageError
from ...kube.api import KubeSettings
from ...kube.names import SUBDOMAIN_MAX, is_qualified_name, is_subdomain
from ...model import imagecache as imc
from ...model.imagecache import ANN_FLASH, ANN_REUSE, MAX_GIB, MAX_RETENTION_DAYS, MIN_GIB, READY
from ...model.kinds import WORKLOAD_KIND_NAMES, WORKLOAD_KINDS
from ...model.sizing import DEFAULT_HEADROOM, validate_headroom
from ..executor import Executor
from ..options import (
    CacheFlags,
    CacheSettings,
    CommandOptions,
    DryRun,
    KubeFlags,
    RegistryFlags,
    RegistrySettings,
    cache_flags,
    dry_run_flag,
    kube_flags,
    registry_flags,
    selector_flag,
)
from ..printers import NamePrinter, info, warn
from ..printflags import AnyPrinter, PrintFlags

EXIT_INTERRUPTED = 130  # as main() answers ^C elsewhere (128 + SIGINT)
_KINDS = ", ".join(WORKLOAD_KIND_NAMES)
# Room for the "-N" suffix a split or a taken name adds.
NAME_MAX = SUBDOMAIN_MAX - 13
OUTPUT_CHOICES = ("yaml", "json", "name")  # -o: what warm prints of the objects it creates


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not is_qualified_name(key):
            raise UsageError(f'{flag} "{v}" must be KEY=VALUE with a valid Kubernetes key')
        out[key] = val
    return out


def _looks_like_workload(image: str) -> bool:
    """kubectl's TYPE/NAME habit (`warm deployment/web`): a known kind, one slash, no tag or digest."""
    kind, slash, name = image.partition("/")
    return bool(slash and name) and kind.lower() in WORKLOAD_KINDS and not any(c in name for c in "/:@")


@dataclass
class Sources:
    """Images grouped as they must be cached, and where pull secrets were named."""

    groups: list[Any] = field(default_factory=list)  # plan.ImageGroup
    written: dict[str, str] = field(default_factory=dict)  # normalized -> first spelling seen
    refs: dict[str, Any] = field(default_factory=dict)  # normalized -> parsed Reference
    workloads: list[dict[str, Any]] = field(default_factory=list)  # objects read from the cluster

    def add(self, uses: Sequence[Any]) -> None:
        from ...imagecache.plan import ImageGroup
        from ...registry.reference import parse_reference

        by_workload: dict[Any, list[str]] = {}
        for use in uses:
            try:
                ref = parse_reference(use.image)
            except ImageCacheError as exc:
                raise UsageError(f"{_where(use)}{exc.message}") from None
            norm = str(ref)
            self.refs.setdefault(norm, ref)
            self.written.setdefault(norm, use.image.strip())
            if use.workload is None:
                self.groups.append(ImageGroup((norm,)))
            else:
                by_workload.setdefault(use.workload, [])
                if norm not in by_workload[use.workload]:
                    by_workload[use.workload].append(norm)
        for workload, images in by_workload.items():
            self.groups.append(ImageGroup(tuple(images), workload))


def _where(use: Any) -> str:
    """Where an image was found, as a message prefix: the file's line or document, the workload
    and the container (for a live workload the only way to find the broken image)."""
    parts = [p for p in (getattr(use, "origin", None), use.workload and str(use.workload)) if p]
    if use.workload is not None and use.container:
        parts.append(f'container "{use.container}"')
    return "".join(f"{p}: " for p in parts)


@dataclass
class WarmOptions(CommandOptions):
    images: tuple[str, ...] = ()
    more_images: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    froms: tuple[str, ...] = ()
    from_namespace: bool = False
    selector: Optional[str] = None
    name: Optional[str] = None
    size: Optional[int] = None
    headroom: float = DEFAULT_HEADROOM
    retention_days: Optional[int] = None
    reuse: bool = False
    flash: bool = False
    annotations: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    force: bool = False
    dry_run: DryRun = DryRun.NONE
    output: str = ""
    wait: bool = False
    timeout: str = "30m"
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube_flags: KubeFlags = KubeFlags()
    # complete():
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)
    kube: KubeSettings = field(init=False)
    wait_seconds: float = field(init=False, default=0.0)
    extra_annotations: dict[str, str] = field(init=False, default_factory=dict)
    extra_labels: dict[str, str] = field(init=False, default_factory=dict)
    workload_refs: list[tuple[str, str]] = field(init=False, default_factory=list)  # --from (kind, name)
    # run(): live caches that already hold a plan's images but are still building (--wait waits for them).
    building: list[str] = field(init=False, default_factory=list)
    printer: Optional[AnyPrinter] = field(init=False, default=None)  # -o: the objects made, else name lines

    # -- complete and validate: the flags alone, no request yet ---------------------------------------------
    def complete(self) -> None:
        from ...durations import parse_duration

        self.cache = self.cache_flags.complete()
        self.kube = self.kube_flags.complete()
        self.registry = self.registry_flags.complete()
        validate_headroom(self.headroom)
        self.wait_seconds = parse_duration(self.timeout, "--timeout")
        self.extra_annotations = _pairs(self.annotations, "--annotation")
        self.extra_labels = _pairs(self.labels, "--label")
        # a dry run prints the objects it would create, as the help says
        output = self.output or ("yaml" if self.dry_run is not DryRun.NONE else "")
        self.printer = PrintFlags(output, OUTPUT_CHOICES).to_printer() if output else None

    def validate(self) -> None:
        if self.name is not None and not is_subdomain(self.name, NAME_MAX):
            raise UsageError(f'--name "{self.name}" must be a lowercase DNS-1123 name (a-z, 0-9, "-", ".")')
        if self.size is not None and not MIN_GIB <= self.size <= MAX_GIB:
            raise UsageError(f"--size {self.size} is out of range: an ImageCache is {MIN_GIB} to {MAX_GIB} GiB")
        if self.selector and not self.from_namespace:
            raise UsageError("-l/--selector applies to --from-namespace: add it, or drop -l")
        if self.kube_flags.all_namespaces and not self.from_namespace:
            raise UsageError("-A/--all-namespaces applies to --from-namespace")
        if self.wait and self.dry_run is not DryRun.NONE:
            raise UsageError("--wait waits for created caches: it cannot be used with --dry-run")
        for image in self.images:
            if _looks_like_workload(image):
                raise UsageError(f'"{image}" reads as kubectl\'s TYPE/NAME: did you mean --from {image}? '
                                 f"(for an image of that name, give its tag: {image}:latest)")
        refs = []
        for f in self.froms:
            kind, sep, name = f.partition("/")
            if not sep or not name or kind.lower() not in WORKLOAD_KINDS:
                raise UsageError(f'--from "{f}" must be KIND/NAME with KIND one of {_KINDS}')
            refs.append((kind, name))
        self.workload_refs = refs

    # -- run ------------------------------------------------------------------------------------------------
    @property
    def _needs_cluster(self) -> bool:
        return bool(self.froms or self.from_namespace) or self.dry_run is not DryRun.CLIENT

    def run(self) -> int:
        import datetime as dt

        from ...imagecache.planner import Policy, Scope, Snapshot, plan
        from ...kube.pullsecrets import Discovered, Reads, discover

        src = self._read_sources()
        found = Discovered()
        if self._needs_cluster or self.registry.pull_secrets:
            cluster = self.kube.connection
            found = discover(src.workloads, self.registry.pull_secrets,
                             Reads(cluster.get_secret, cluster.get_service_account), warn)
        sizes = self._size(src, found.secrets)
        existing = self.kube.connection.list_imagecaches() if self._needs_cluster else []
        snapshot = Snapshot(existing, dt.datetime.now(dt.timezone.utc), sizes=sizes,
                            platform=str(self.registry.platform), pull_secrets=tuple(found.names))
        warming = plan(snapshot, Scope(), Policy(request=self._request(src)))
        for n in warming.notes:
            info(f"ImageCache {n.subject} {n.reason}")
        self.building = list(warming.building)
        objects = [c.body for c in warming.creates]
        if not objects:
            return self._wait(self.building) if self.wait and self.building else 0
        if self.dry_run is DryRun.CLIENT:
            _print_objects(objects, self.printer)
            return 0
        names = None if self.printer is not None else NamePrinter()  # -o prints the objects instead
        out = Executor(self.kube.connection, names, exists_ok=self._exists_ok, dry_run=self.dry_run is DryRun.SERVER,
                       stop_on_error=True).run(warming, existing, None, snapshot.now)
        if out.errors:
            raise out.errors[0]
        if self.printer is not None and out.objects:
            _print_objects(out.objects, self.printer)
        if self.wait:
            return self._wait([*self.building, *out.created])
        return 0

    def _request(self, src: Sources) -> Any:
        from ...imagecache.planner import WarmRequest

        return WarmRequest(tuple(src.groups), self.name, self.size, self.headroom, self.force, self.wait,
                           self.retention_days, self.reuse, self.flash, self.extra_annotations, self.extra_labels,
                           src.written)

    def _exists_ok(self, body: Mapping[str, Any]) -> Optional[bool]:
        """A cache of this name appeared since planning: None (said, skipped) when a concurrent warm created
        one holding exactly these images, the no-op this warm would have been a moment later (--wait then
        waits for it); else False, a conflict."""
        from ...imagecache.plan import matching_cache, normalized_images

        name = imc.name(body)
        images, gib, digests = sorted(normalized_images(body)), imc.effective_size_gib(body), imc.digests(body)
        holder = matching_cache([self.kube.connection.get_imagecache(name)], images, gib, digests)
        if holder is None or holder.stale:
            return False
        info(f"ImageCache {name} with these {len(images)} image(s) was just created by another warm: "
             "nothing to do" + (", waiting for it" if self.wait else ""))
        self.building.append(name)
        return None

    def _read_sources(self) -> Sources:
        from ...imagecache.sources import ImageUse, images_from_objects, read_image_file

        src = Sources()
        src.add([ImageUse(i) for i in [*self.images, *self.more_images]])
        for path in self.files:
            src.add(read_image_file(path))
        if self.workload_refs or self.from_namespace:
            cluster, ns = self.kube.connection, self.kube.resolved_namespace()
            for kind, name in self.workload_refs:
                obj = cluster.get_workload(kind, ns, name)
                src.workloads.append(obj)
                src.add(images_from_objects([obj]))
            if self.from_namespace:
                all_namespaces = self.kube_flags.all_namespaces
                objs = list(cluster.list_workloads(None if all_namespaces else ns, self.selector))
                if not objs:
                    where = "any namespace" if all_namespaces else f"namespace {ns}"
                    match = f" match -l {self.selector}" if self.selector else ""
                    raise UsageError(f"no workloads in {where}{match}")
                src.workloads.extend(objs)
                src.add(images_from_objects(objs))
        if not src.groups:
            raise UsageError("no images to cache: give images, --image, -f FILE, --from KIND/NAME or --from-namespace")
        return src

    def _size(self, src: Sources, secrets: list[Any]) -> dict[str, Any]:
        """Every image's digest and size from its registry: one that cannot be sized fails the run (a size
        that ignores an image would be too small)."""
        from ...imagecache.planner import ImageFacts
        from ..progress import MIN_ITEMS, CountBar

        unique = sorted({i for g in src.groups for i in g.images})
        bar = CountBar(len(unique), "Sizing images")
        with self.registry.open_client(self.cache, secrets) as client, bar as step:
            if len(unique) >= MIN_ITEMS and not bar.active:  # not a terminal: one line instead of a bar
                info(f"sizing {len(unique)} images from their registries...")
            results = client.inspect_many([(i, src.refs[i]) for i in unique], progress=step)
        failed = [(r.image, r.error) for r in results if r.error is not None]
        if failed:
            for image, error in failed:
                click.echo(f"error: {image}: {error.message}", err=True)
            raise ImageCacheError(
                f"{len(failed)} image(s) could not be sized, so no cache was created (a size that ignores an image "
                "would be too small)", exit_code=failed[0][1].exit_code)
        return {r.image: ImageFacts(r.info.digest, r.info.size_bytes) for r in results if r.info is not None}

    def _wait(self, names: list[str]) -> int:
        from ..progress import wait_and_report

        def timed_out(o: Any) -> str:
            return (f"timed out after {self.timeout} waiting for {o.name}: it is {o.phase} at {o.progress}; "
                    f"follow it with `kubectl imagecache wait {o.name}`")

        try:
            return wait_and_report(self.kube.connection, names, READY, self.wait_seconds, timed_out, None)
        except KeyboardInterrupt:
            # The caches go on building without us: say how to follow them (kubectl's habit after ^C).
            follow = " ".join(names)
            click.echo(f"interrupted: the cache build goes on; follow it with `kubectl imagecache wait {follow}` "
                       f"or `kubectl imagecache list {follow}`", err=True)
            return EXIT_INTERRUPTED


def _print_objects(objects: Sequence[Mapping[str, Any]], printer: Optional[AnyPrinter]) -> None:
    from ..view import as_list, for_output

    assert printer is not None  # complete() chose one: a dry run prints yaml by default
    printer.print_obj(for_output(objects[0]) if len(objects) == 1 else as_list(list(objects)))


@click.command("warm", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, metavar="[IMAGE]...")
@click.option("--name", metavar="NAME", help="Cache name (NAME-1, NAME-2... when split); default: derived "
                                             "from the images.")
@click.option("--image", "more_images", multiple=True, metavar="IMAGE", help="An image to cache (repeatable).")
@click.option("-f", "--filename", "files", multiple=True, metavar="FILE",
              help="Image list or Kubernetes YAML (workloads keep their images together); - reads stdin.")
@click.option("--from", "froms", multiple=True, metavar="KIND/NAME",
              help=f"A workload of the cluster in -n: {', '.join(WORKLOAD_KIND_NAMES[:-1])} or "
                   f"{WORKLOAD_KIND_NAMES[-1]} (repeatable).")
@click.option("--from-namespace", is_flag=True, help="Every workload of -n (or of all namespaces with -A).")
@selector_flag("With --from-namespace: only workloads with these labels.")
@click.option("--size", type=int, metavar="GiB", help=f"imageCacheSize ({MIN_GIB}..{MAX_GIB}, at least 2x the images "
                                                      "unless --force); default: the estimate.")
@click.option("--headroom", type=float, default=DEFAULT_HEADROOM, show_default=True,
              help="Estimated size as a multiple of the images' size.")
@click.option("--retention-days", type=click.IntRange(1, MAX_RETENTION_DAYS),
              help="Delete the cache after this many days.")
@click.option("--reuse", is_flag=True, help=f"Reuse layers of existing caches ({ANN_REUSE}).")
@click.option("--flash", is_flag=True, help=f"Instant cache from a local snapshot ({ANN_FLASH}).")
@click.option("--annotation", "annotations", multiple=True, metavar="KEY=VALUE", help="Add an annotation.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a label.")
@click.option("--force", is_flag=True, help="Create even when a cache already holds these images, or when "
                                            "--size is below twice the images.")
@dry_run_flag("Print the objects; create nothing (server: validated by the API server).")
@click.option("-o", "--output", type=click.Choice(list(OUTPUT_CHOICES)), default=None,
              help="Print the created objects (default: one line per cache).")
@click.option("--wait", is_flag=True, help=f"Wait until the caches are {READY}, with progress on stderr.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION", help="How long --wait waits.")
@registry_flags
@cache_flags
@kube_flags
def command(images: tuple[str, ...], name: Optional[str], more_images: tuple[str, ...], files: tuple[str, ...],
            froms: tuple[str, ...], from_namespace: bool, selector: Optional[str], size: Optional[int],
            headroom: float, retention_days: Optional[int], reuse: bool, flash: bool, annotations: tuple[str, ...],
            labels: tuple[str, ...], force: bool, dry_run: DryRun, output: Optional[str], wait: bool, timeout: str,
            registry: RegistryFlags, cache: CacheFlags, kube: KubeFlags) -> int:
    """Create ImageCaches sized from the registry, from images, manifests or live workloads.

    A workload's images always share one cache (pods match a cache as a whole); more than 20
    images are split into several caches. When a live cache already holds exactly these images
    with enough room, nothing is created.

    \b
    Examples:
      kubectl imagecache warm nginx:1.27 redis:7 --retention-days 7
      kubectl imagecache warm --from deployment/web -n shop --wait
      kubectl imagecache warm --from-namespace -n shop -l tier=frontend --dry-run=client
      kubectl imagecache warm -f deploy.yaml --name shop-web --size 40
    """
    return WarmOptions(
        images=images, more_images=more_images, files=files, froms=froms, from_namespace=from_namespace,
        selector=selector, name=name, size=size, headroom=headroom, retention_days=retention_days, reuse=reuse,
        flash=flash, annotations=annotations, labels=labels, force=force, dry_run=dry_run, output=output or "",
        wait=wait, timeout=timeout, registry_flags=registry, cache_flags=cache, kube_flags=kube,
    ).execute()
