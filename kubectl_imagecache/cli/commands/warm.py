"""`kubectl imagecache warm`: create ImageCaches from images, manifests or the workloads a cluster runs.

complete (read every source, the registry and the cluster) -> validate (sizes, names, secrets,
conflicts) -> run (create, or print for --dry-run; then optionally wait). Nothing is created
unless every check passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import click

from ...errors import ClusterNotFound, ImageCacheError, UsageError
from ...sizing import DEFAULT_HEADROOM, validate_headroom
from ..options import (
    CacheSettings,
    RegistrySettings,
    cache_flags,
    kube_flags,
    kube_settings,
    namespace_flags,
    registry_flags,
    selector_flag,
)
from ..printers import info, print_structured, warn

_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
DOCKER_SECRET_TYPES = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not _LABEL_KEY.match(key) or len(key.split("/")[-1]) > 63:
            raise UsageError(f'{flag} "{v}" must be KEY=VALUE with a valid Kubernetes key')
        out[key] = val
    return out


@dataclass
class Sources:
    """Images grouped as they must be cached, and where pull secrets were named."""

    groups: list[Any] = field(default_factory=list)  # warmplan.ImageGroup
    written: dict[str, str] = field(default_factory=dict)  # normalized -> first spelling seen
    refs: dict[str, Any] = field(default_factory=dict)  # normalized -> parsed Reference
    workloads: list[dict] = field(default_factory=list)  # objects read from the cluster

    def add(self, uses: Sequence[Any]) -> None:
        from ...imagecache.plan import ImageGroup
        from ...registry.reference import parse_reference

        by_workload: dict[Any, list[str]] = {}
        for use in uses:
            try:
                ref = parse_reference(use.image)
            except ImageCacheError as exc:
                where = f"{use.origin}: " if getattr(use, "origin", None) else ""
                raise UsageError(f"{where}{exc.message}") from None
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


def _read_sources(images: Sequence[str], files: Sequence[str], froms: Sequence[str], from_namespace: bool,
                  namespace: str, all_namespaces: bool, selector: Optional[str], cluster_fn: Any) -> Sources:
    from ...imagecache.sources import ImageUse, images_from_objects, read_image_file
    from ...kube.api import WORKLOAD_KINDS

    src = Sources()
    src.add([ImageUse(i) for i in images])
    for path in files:
        src.add(read_image_file(path))
    parsed = []
    for f in froms:
        kind, sep, name = f.partition("/")
        if not sep or not name or kind.lower() not in WORKLOAD_KINDS:
            kinds = "deployment, statefulset, daemonset, replicaset, job, cronjob, pod"
            raise UsageError(f'--from "{f}" must be KIND/NAME with KIND one of {kinds}')
        parsed.append((kind, name))
    if parsed or from_namespace:
        cluster = cluster_fn()
        for kind, name in parsed:
            obj = cluster.get_workload(kind, namespace, name)
            src.workloads.append(obj)
            src.add(images_from_objects([obj]))
        if from_namespace:
            objs = list(cluster.list_workloads(None if all_namespaces else namespace, selector))
            if not objs:
                where = "any namespace" if all_namespaces else f"namespace {namespace}"
                raise UsageError(f"no workloads in {where}" + (f" match -l {selector}" if selector else ""))
            src.workloads.extend(objs)
            src.add(images_from_objects(objs))
    if not src.groups:
        raise UsageError("no images to cache: give images, --image, -f FILE, --from KIND/NAME or --from-namespace")
    return src


def _pull_secrets(src: Sources, explicit: Sequence[tuple[str, str]], cluster: Any) -> tuple[list[str], list[Any]]:
    """namespace:name of every usable pull secret, and their registry credentials."""
    from ...imagecache.sources import workload_pull_secrets, workload_service_account
    from ...registry.credentials import PullSecret, credentials_from_secret

    wanted: dict[tuple[str, str], bool] = {(ns, n): True for ns, n in explicit}  # value: given explicitly
    for obj in src.workloads:
        ns = (obj.get("metadata") or {}).get("namespace") or "default"
        for name in workload_pull_secrets(obj):
            wanted.setdefault((ns, name), False)
        sa = workload_service_account(obj)
        if sa:
            try:
                account = cluster.get_service_account(ns, sa)
            except ClusterNotFound:
                continue
            for ref in account.get("imagePullSecrets") or []:
                if ref.get("name"):
                    wanted.setdefault((ns, ref["name"]), False)
    names, creds = [], []
    for (ns, name), was_explicit in wanted.items():
        try:
            secret = cluster.get_secret(ns, name)
        except ClusterNotFound:
            if was_explicit:
                raise ClusterNotFound(f"pull secret {ns}/{name} not found (--pull-secret {ns}:{name})") from None
            warn(f"pull secret {ns}/{name} named by a workload does not exist; the cache will not use it")
            continue
        if secret.get("type") not in DOCKER_SECRET_TYPES:
            message = (f"secret {ns}/{name} is of type {secret.get('type')}, not a docker-config secret "
                       f"({' or '.join(DOCKER_SECRET_TYPES)})")
            if was_explicit:
                raise UsageError(message)
            warn(message + "; skipped")
            continue
        creds.append(PullSecret(ns, name, credentials_from_secret(ns, name, secret.get("type"), secret.get("data"))))
        names.append(f"{ns}:{name}")
    return names, creds


@click.command("warm", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, metavar="[IMAGE]...")
@click.option("--name", metavar="NAME", help="Cache name (NAME-1, NAME-2... when split); default: derived "
                                             "from the images.")
@click.option("--image", "more_images", multiple=True, metavar="IMAGE", help="An image to cache (repeatable).")
@click.option("-f", "--filename", "files", multiple=True, metavar="FILE",
              help="Image list or Kubernetes YAML (workloads keep their images together); - reads stdin.")
@click.option("--from", "froms", multiple=True, metavar="KIND/NAME",
              help="A workload of the cluster in -n: deployment, statefulset, daemonset, replicaset, job, "
                   "cronjob or pod (repeatable).")
@click.option("--from-namespace", is_flag=True, help="Every workload of -n (or of all namespaces with -A).")
@namespace_flags()
@selector_flag("With --from-namespace: only workloads with these labels.")
@click.option("--size", type=int, metavar="GiB", help="imageCacheSize (20..32768, at least 2x the images "
                                                      "unless --force); default: the estimate.")
@click.option("--headroom", type=float, default=DEFAULT_HEADROOM, show_default=True,
              help="Estimated size as a multiple of the images' size.")
@click.option("--retention-days", type=click.IntRange(1, 65536), help="Delete the cache after this many days.")
@click.option("--reuse", is_flag=True, help="Reuse layers of existing caches (k8s.aliyun.com/imc-enable-reuse).")
@click.option("--flash", is_flag=True, help="Instant cache from a local snapshot (k8s.aliyun.com/imc-enable-flash).")
@click.option("--annotation", "annotations", multiple=True, metavar="KEY=VALUE", help="Add an annotation.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a label.")
@click.option("--force", is_flag=True, help="Create even when a cache already holds these images, or when "
                                            "--size is below twice the images.")
@click.option("--dry-run", type=click.Choice(["none", "client", "server"]), default="none", show_default=True,
              help="Print the objects; create nothing (server: validated by the API server).")
@click.option("-o", "--output", type=click.Choice(["", "yaml", "json", "name"]), default="",
              help="Print the created objects (default: one line per cache).")
@click.option("--wait", is_flag=True, help="Wait until the caches are Ready, with progress on stderr.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION", help="How long --wait waits.")
@registry_flags
@cache_flags
@kube_flags
def command(images: tuple[str, ...], name: Optional[str], more_images: tuple[str, ...], files: tuple[str, ...],
            froms: tuple[str, ...], from_namespace: bool, namespace: Optional[str], all_namespaces: bool,
            selector: Optional[str], size: Optional[int], headroom: float, retention_days: Optional[int],
            reuse: bool, flash: bool, annotations: tuple[str, ...], labels: tuple[str, ...], force: bool,
            dry_run: str, output: str, wait: bool, timeout: str, **flags: Any) -> int:
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
    from ...durations import parse_duration
    from ...imagecache.plan import imagecache_object, matching_cache, plan_caches, validate_size
    from ...kube.kubeconfig import context_namespace
    from ...sizing import recommend_gib

    # -- complete and validate the flags: no request yet -------------------------------------------------
    cache = CacheSettings.from_flags(flags.pop("cache_dir"), flags.pop("cache_ttl"), flags.pop("refresh"),
                                     flags.pop("offline"), flags.pop("no_cache"))
    kube = kube_settings(flags)
    registry = RegistrySettings.from_flags(**flags, kube=kube)
    validate_headroom(headroom)
    wait_seconds = parse_duration(timeout, "--timeout")
    extra_annotations, extra_labels = _pairs(annotations, "--annotation"), _pairs(labels, "--label")
    if name is not None and (not _DNS1123.match(name) or len(name) > 240):
        raise UsageError(f'--name "{name}" must be a lowercase DNS-1123 name (a-z, 0-9, "-", ".")')
    if size is not None and not 20 <= size <= 32768:
        raise UsageError(f"--size {size} is out of range: an ImageCache is 20 to 32768 GiB")
    if selector and not from_namespace:
        raise UsageError("-l/--selector applies to --from-namespace: add it, or drop -l")
    if all_namespaces and not from_namespace:
        raise UsageError("-A/--all-namespaces applies to --from-namespace")
    if wait and dry_run != "none":
        raise UsageError("--wait waits for created caches: it cannot be used with --dry-run")
    clusters: list[Any] = []

    def cluster() -> Any:
        if not clusters:
            clusters.append(kube.connect())
        return clusters[0]

    needs_cluster = bool(froms or from_namespace) or dry_run != "client"
    ns = namespace or (context_namespace(kube.kubeconfig, kube.context) if (froms or from_namespace) else "default")

    # -- complete: images, secrets, sizes --------------------------------------------------------------
    src = _read_sources([*images, *more_images], files, froms, from_namespace, ns, all_namespaces, selector, cluster)
    secret_names: list[str] = []
    secret_creds: list[Any] = []
    if needs_cluster or registry.pull_secrets:
        secret_names, secret_creds = _pull_secrets(src, registry.pull_secrets, cluster())
    plans = plan_caches(src.groups, name)
    unique = sorted({i for p in plans for i in p.images})
    if len(unique) >= 10:
        info(f"sizing {len(unique)} images from their registries...")
    if secret_creds or registry.pull_secrets:
        # _pull_secrets already read --pull-secret's secrets with the discovered ones: not twice.
        import dataclasses

        registry = dataclasses.replace(registry, pull_secrets=())
    with registry.open_client(cache, secret_creds) as client:
        results = client.inspect_many([(i, src.refs[i]) for i in unique])
    failed = [r for r in results if r.error is not None]
    if failed:
        for r in failed:
            click.echo(f"error: {r.image}: {r.error.message}", err=True)
        raise ImageCacheError(
            f"{len(failed)} image(s) could not be sized, so no cache was created (a size that ignores an image "
            "would be too small)", exit_code=failed[0].error.exit_code)
    infos = {r.image: r.info for r in results}

    # -- validate against the cluster: conflicts and idempotency ------------------------------------------
    existing = cluster().list_imagecaches() if needs_cluster else []
    taken = {str(o["metadata"]["name"]): o for o in existing}
    objects = []
    for p in plans:
        needed = sum(infos[i].size_bytes for i in p.images)
        gib = size if size is not None else recommend_gib(needed, headroom)
        if size is not None:
            validate_size(size, needed, headroom, force, p.name)
        digests = {i: infos[i].digest for i in p.images}
        holder = matching_cache(existing, p.images, gib, digests)
        if holder and holder.stale:
            info(f"ImageCache {holder.name} holds these images at older digests (stale): creating a replacement")
        elif holder and not force:
            unverified = "" if holder.verified else " (it records no digests, so a moved tag cannot be told)"
            info(f"ImageCache {holder.name} already holds these {len(p.images)} image(s) with {gib} GiB or more"
                 f"{unverified}: nothing to do (--force creates another)")
            continue
        if p.name in taken:
            replacing = holder is not None and holder.stale and holder.name == p.name
            if not force and name is not None and not replacing:
                raise UsageError(f'an ImageCache named "{p.name}" already exists with other images or size; '
                                 "choose another --name, or delete it first")
            base, n = p.name, 2
            while f"{base}-{n}" in taken:
                n += 1
            p.name = f"{base}-{n}"
        taken[p.name] = {}
        spec_images = [src.written.get(i, i) for i in p.images]
        obj = imagecache_object(
            p, size_gib=gib, digests=digests, image_bytes=needed,
            platform=str(registry.platform), pull_secrets=secret_names, retention_days=retention_days,
            reuse=reuse, flash=flash, annotations=extra_annotations, labels=extra_labels,
        )
        obj["spec"]["images"] = spec_images
        objects.append(obj)

    # -- run ----------------------------------------------------------------------------------------------
    if not objects:
        return 0
    if dry_run != "none":
        output = output or "yaml"  # a dry run prints the objects it would create, as the help says
    if dry_run == "client":
        _print_objects(objects, output)
        return 0
    created = []
    for obj in objects:
        created.append(cluster().create_imagecache(obj, dry_run=dry_run == "server"))
        if not output:
            suffix = " (server dry run)" if dry_run == "server" else ""
            click.echo(f"imagecache.eci.alibabacloud.com/{obj['metadata']['name']} created{suffix}")
    if output:
        _print_objects(created, output)
    if wait:
        return _wait([o["metadata"]["name"] for o in created], wait_seconds, timeout, cluster())
    return 0


def _print_objects(objects: list[dict], output: str) -> None:
    if output == "name":
        for o in objects:
            click.echo(f"imagecache.eci.alibabacloud.com/{o['metadata']['name']}")
        return
    from ...imagecache.view import as_list, for_output

    print_structured(for_output(objects[0]) if len(objects) == 1 else as_list(objects), output)


def _wait(names: list[str], seconds: float, timeout: str, cluster: Any) -> int:
    from ...errors import EXIT_FAILURE, WaitTimeout
    from ...kube.waiting import wait_for
    from ..progress import BuildProgress, failure_text

    progress = BuildProgress(len(names))
    try:
        outcomes = wait_for(cluster, names, "Ready", seconds, progress)
    finally:
        progress.close()
    code = 0
    for n in names:
        o = outcomes[n]
        if o.done and not o.ok:
            click.echo(f"error: {failure_text(o)}", err=True)
            code = EXIT_FAILURE
        elif not o.done:
            raise WaitTimeout(f"timed out after {timeout} waiting for {n}: it is {o.phase} at {o.progress}; "
                              f"follow it with `kubectl imagecache wait {n}`")
    return code
