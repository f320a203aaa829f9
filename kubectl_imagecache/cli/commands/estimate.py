"""`kubectl imagecache estimate`: complete -> validate -> run, over the registry client and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import click

from ...errors import UsageError
from ...model.sizing import DEFAULT_HEADROOM, human_bytes, validate_headroom
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
from ..printers import print_table
from ..printflags import PrintOptions
from ..progress import CountBar

if TYPE_CHECKING:
    from ...kube.api import KubeSettings



@dataclass
class EstimateOptions(CommandOptions, PrintOptions):
    args: Sequence[str] = ()
    files: Sequence[str] = ()
    headroom: float = DEFAULT_HEADROOM
    output: str = "table"
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube_flags: KubeFlags = KubeFlags()
    # complete():
    images: list[tuple[str, Any]] = field(init=False, default_factory=list)  # (as given, Reference), no duplicates
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)
    kube: KubeSettings = field(init=False)

    def complete(self) -> None:
        from ...errors import InvalidReference
        from ...registry.reference import parse_reference

        self.cache = self.cache_flags.complete()
        self.kube = self.kube_flags.complete()
        self.registry = self.registry_flags.complete()
        texts: list[tuple[str, Optional[str]]] = [(a, None) for a in self.args]  # (image, where it was read)
        empty: list[str] = []  # files that held no image (e.g. `kubectl get svc -o yaml`)
        for path in self.files:
            from ...imagecache.sources import read_image_file

            uses = read_image_file(path)
            if not uses:
                empty.append("stdin" if path == "-" else f'"{path}"')
            texts.extend((use.image, use.origin) for use in uses)
        if not texts and empty:
            raise UsageError(f"{' and '.join(empty)} held no images: give a list of images or manifests of pods and "
                             "workloads (Deployment, StatefulSet, Job, ...)")
        if not texts:
            raise UsageError("no images given: name images as arguments or list them in a file with -f FILE")
        seen: dict[str, tuple[str, Any]] = {}
        for text, origin in texts:
            try:
                ref = parse_reference(text)  # raises InvalidReference naming the broken rule
            except InvalidReference as exc:
                raise InvalidReference(f"{origin}: {exc.message}" if origin else exc.message) from None
            seen.setdefault(str(ref), (text.strip(), ref))
        self.images = list(seen.values())

    def validate(self) -> None:
        validate_headroom(self.headroom)

    def run(self) -> int:
        from ...imagecache.estimate import build_report

        secrets = []
        if self.registry.pull_secrets:  # without --pull-secret no kubeconfig is needed
            from ...kube.pullsecrets import load_pull_secrets

            secrets = load_pull_secrets([f"{ns}:{name}" for ns, name in self.registry.pull_secrets],
                                        self.kube.connection.get_secret)
        from ...kube.gcpause import paused

        # Importing the HTTP stack and reading the answers make few reference cycles: with the collector
        # paused (kube/gcpause) a cold run of 50 images makes 28 collections instead of 61.
        with paused(), self.registry.open_client(self.cache, secrets) as client, \
                CountBar(len(self.images), "Inspecting images") as step:
            results = client.inspect_many(self.images, progress=step)
        report = build_report(results, self.headroom)
        for e in report.errors:
            click.echo(f"error: {e['image']}: {e['error']}", err=True)
        if self.printer.document:
            self.printer.print_obj(report.to_dict())
        else:
            _print_table(report)
        if report.too_large is not None:
            click.echo(f"error: {report.too_large.message}", err=True)
        return report.exit_code


def _short(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}"


def _print_table(report: Any) -> None:
    rows = [[i["image"], i["platform"], _short(i["digest"]), str(i["layers"]), human_bytes(i["sizeBytes"])]
            for i in report.images]
    if rows:
        print_table(rows, ["IMAGE", "PLATFORM", "DIGEST", "LAYERS", "SIZE"])
        click.echo("")
    n = len(report.images)
    click.echo(f"Total:  {human_bytes(report.total_bytes)} ({report.total_bytes} bytes) in {n} image{'s' * (n != 1)}")
    click.echo(f"Unique: {human_bytes(report.unique_bytes)} ({report.unique_bytes} bytes, shared layers counted once)")
    if report.size_gib is not None:
        click.echo(f"Recommended imageCacheSize: {report.size_gib} GiB "
                   f"({report.headroom:g}x the total, at least 20 GiB)")
    elif report.errors:
        failed = len(report.errors)
        click.echo(f"Recommended imageCacheSize: none ({failed} image{'s' * (failed != 1)} could not be sized; "
                   "a size that ignores them would be too small)")
    else:
        click.echo("Recommended imageCacheSize: none (too large for one cache)")


@click.command("estimate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, metavar="[IMAGE]...")
@click.option("-f", "--filename", "files", multiple=True, metavar="FILE",
              help="Image list (one per line) or Kubernetes YAML (Pods, workloads, Lists); - reads stdin.")
@click.option("--headroom", type=float, default=DEFAULT_HEADROOM, show_default=True,
              help="Cache size as a multiple of the images' size (ECI needs at least 2.0).")
@output_flag()
@registry_flags
@cache_flags
@kube_flags
def command(images: Sequence[str], files: Sequence[str], headroom: float, output: str, registry: RegistryFlags,
            cache: CacheFlags, kube: KubeFlags) -> int:
    """Size an ImageCache from the registry manifests of its images.

    Each image's size is its config plus layers, as the manifest for the chosen platform declares
    them; the recommended imageCacheSize is max(20, ceil(headroom x total / GiB)) GiB.

    \b
    Examples:
      kubectl imagecache estimate nginx:1.27 redis:7
      kubectl imagecache estimate -f deployment.yaml --platform linux/arm64 -o json
      kubectl get deploy -n shop -o yaml | kubectl imagecache estimate -f -
    """
    return EstimateOptions(images, files, headroom, output, registry_flags=registry, cache_flags=cache,
                           kube_flags=kube).execute()


__all__ = ["command", "EstimateOptions"]
