"""Flag groups (as cli-runtime's genericclioptions) and the command pattern they feed.

Each group's decorator adds its flags and collects their values into one typed object that the
command receives under one keyword (`kube`, `registry`, `cache`): never a `**flags` bag. A group's
`complete()` turns what was typed into checked settings (no I/O besides reading files named on
the command line); commands are `CommandOptions` dataclasses run as complete -> validate -> run,
so every input is checked before the first side effect (kubectl's Complete/Validate/Run).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import click

from ..errors import UsageError
from ..registry.defaults import DEFAULT_CONCURRENCY
from ..registry.platform import DEFAULT_PLATFORM, Platform, parse_platform
from .printers import OUTPUT_FORMATS, warn

if TYPE_CHECKING:
    from pathlib import Path

    from ..kube.api import KubeSettings
    from ..registry.client import RegistryClient
    from ..registry.credentials import CredentialStore, PullSecret

__all__ = [
    "CommandOptions", "KubeFlags", "RegistryFlags", "CacheFlags", "DryRun", "RegistrySettings", "CacheSettings",
    "kube_flags", "registry_flags", "cache_flags", "selector_flag", "output_flag", "dry_run_flag", "KUBE_PARAMS",
]

F = Callable[..., Any]


class CommandOptions:
    """A command's inputs as a dataclass: complete() fills in what follows from the flags (defaults,
    parsed values, files named), validate() refuses bad combinations, run() acts and returns the
    exit code. Nothing may change anything before run()."""

    def complete(self) -> None:
        pass

    def validate(self) -> None:
        pass

    def run(self) -> int:
        raise NotImplementedError

    def execute(self) -> int:
        self.complete()
        self.validate()
        return self.run()


def _apply(f: F, decorators: Sequence[Callable[[F], F]]) -> F:
    for d in reversed(decorators):
        f = d(f)
    return f


def _group(cls: type, dest: str, params: dict[str, str], options: Sequence[Callable[[F], F]]) -> Callable[[F], F]:
    """A decorator adding `options` and passing their values as one `cls` object named `dest`.

    `params` maps each click parameter name to its field of `cls`.
    """
    assert set(params.values()) == {f.name for f in fields(cls)}, cls

    def decorator(f: F) -> F:
        @functools.wraps(f)
        def collect(*args: Any, **kwargs: Any) -> Any:
            values = {field: kwargs.pop(param) for param, field in params.items()}
            return f(*args, **{dest: cls(**values)}, **kwargs)

        return _apply(collect, options)

    return decorator


# -- connection (cli-runtime's ConfigFlags) ------------------------------------------------------------

@dataclass(frozen=True)
class KubeFlags:
    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    cluster: Optional[str] = None
    user: Optional[str] = None
    request_timeout: Optional[str] = None  # None: the default (kube.api.DEFAULT_REQUEST_TIMEOUT)
    namespace: Optional[str] = None
    all_namespaces: bool = False

    def complete(self) -> KubeSettings:
        from ..durations import parse_duration
        from ..kube.api import DEFAULT_REQUEST_TIMEOUT, KubeSettings

        if self.request_timeout is None:
            timeout: Optional[float] = DEFAULT_REQUEST_TIMEOUT
        else:  # kubectl's "0": no limit
            timeout = parse_duration(self.request_timeout, "--request-timeout") or None
        return KubeSettings(self.kubeconfig, self.context, self.cluster, self.user, timeout, self.namespace)


# click parameter name -> KubeFlags field; completion reads the same words with the same names.
KUBE_PARAMS = {"kubeconfig": "kubeconfig", "kube_context": "context", "kube_cluster": "cluster",
               "kube_user": "user", "request_timeout": "request_timeout", "namespace": "namespace",
               "all_namespaces": "all_namespaces"}

# kubectl's connection flags, -n and -A, as one KubeFlags argument named `kube`.
kube_flags = _group(KubeFlags, "kube", KUBE_PARAMS, [
    click.option("-n", "--namespace", metavar="NAMESPACE",
                 help="Namespace of workloads and secrets (default: the context's, else default). "
                      "ImageCaches are cluster-scoped: commands that only touch them ignore it, as kubectl does."),
    click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace (see -n)."),
    click.option("--kubeconfig", metavar="FILE",
                 help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."),
    click.option("--context", "kube_context", metavar="NAME", help="The kubeconfig context to use."),
    click.option("--cluster", "kube_cluster", metavar="NAME", help="The kubeconfig cluster to use."),
    click.option("--user", "kube_user", metavar="NAME", help="The kubeconfig user to use."),
    click.option("--request-timeout", metavar="DURATION",
                 help="Time to wait for one API request, e.g. 500ms, 10s, 1m; also bounds each watch "
                      "(default: 30s; 0: no limit)."),
])


def selector_flag(help_text: str) -> Callable[[F], F]:
    return click.option("-l", "--selector", metavar="SELECTOR", help=help_text)


def output_flag(formats: Sequence[str] = OUTPUT_FORMATS) -> Callable[[F], F]:
    return click.option("-o", "--output", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help="Output format.")


class DryRun(enum.Enum):
    """kubectl's --dry-run: none (act), client (print, no request), server (the API server validates)."""

    NONE = "none"
    CLIENT = "client"
    SERVER = "server"


def dry_run_flag(help_text: str) -> Callable[[F], F]:
    return click.option("--dry-run", type=click.Choice([d.value for d in DryRun]), default=DryRun.NONE.value,
                        show_default=True, callback=lambda ctx, param, value: DryRun(value), help=help_text)


class DurationType(click.ParamType):
    """A DURATION flag read by click itself, in seconds from `low` to `high` (parse_duration's forms and refusals)."""

    name = "duration"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> float:
        from ..durations import parse_duration

        flag = max(param.opts, key=len) if param is not None else "duration"
        seconds = parse_duration(str(value), flag)
        if not self.low <= seconds <= self.high:
            raise UsageError(f'{flag} "{value}" is out of range: use {self.low:g}s to {self.high:g}s')
        return seconds


# -- registry -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegistrySettings:
    platform: Platform
    concurrency: int
    insecure_hosts: frozenset[str]
    registry_config: Optional[str]
    pull_secrets: tuple[tuple[str, str], ...]  # --pull-secret NAMESPACE:NAME, parsed, in order
    timeout: float

    def credential_store(self, pull_secrets: Sequence[PullSecret] = ()) -> CredentialStore:
        """The docker config and the pull secrets the command read (pull secrets first)."""
        from ..registry.credentials import CredentialStore, load_docker_config

        return CredentialStore(load_docker_config(self.registry_config), list(pull_secrets), on_warning=_warn_once())

    def open_client(self, cache: CacheSettings, pull_secrets: Sequence[PullSecret] = ()) -> RegistryClient:
        from ..registry.client import ClientOptions, RegistryClient
        from ..registry.transport import TransportOptions

        opts = ClientOptions(
            platform=self.platform,
            ttl=cache.ttl,
            refresh=cache.refresh,
            offline=cache.offline,
            transport=TransportOptions(concurrency=self.concurrency, timeout=self.timeout,
                                       insecure_hosts=self.insecure_hosts),
        )
        return RegistryClient(opts, self.credential_store(pull_secrets), cache.open())


@dataclass(frozen=True)
class RegistryFlags:
    platform: str = str(DEFAULT_PLATFORM)
    concurrency: int = DEFAULT_CONCURRENCY
    insecure_registries: tuple[str, ...] = ()
    registry_config: Optional[str] = None
    pull_secrets: tuple[str, ...] = ()
    registry_timeout: float = 30.0

    def complete(self) -> RegistrySettings:
        hosts = []
        for host in self.insecure_registries:
            h = host.strip().lower()
            if not h or "/" in h or " " in h:
                raise UsageError(f'--insecure-registry "{host}" must be HOST or HOST:PORT, without scheme or path')
            hosts.append(h)
        secrets: tuple[tuple[str, str], ...] = ()
        if self.pull_secrets:  # the kube layer is imported only when a pull secret is named (~10 ms)
            from ..kube.pullsecrets import parse_pull_secret_spec

            secrets = tuple(dict.fromkeys(parse_pull_secret_spec(s) for s in self.pull_secrets))
        return RegistrySettings(
            platform=parse_platform(self.platform),
            concurrency=self.concurrency,
            insecure_hosts=frozenset(hosts),
            registry_config=self.registry_config,
            pull_secrets=secrets,
            timeout=self.registry_timeout,
        )


registry_flags = _group(RegistryFlags, "registry", {f.name: f.name for f in fields(RegistryFlags)}, [
    click.option("--platform", "platform", default=str(DEFAULT_PLATFORM), show_default=True,
                 metavar="OS/ARCH[/VARIANT]", help="Platform to size in multi-platform images."),
    click.option("--concurrency", type=click.IntRange(1, 64), default=DEFAULT_CONCURRENCY, show_default=True,
                 help="Registry requests in flight at once, per registry (halved when it answers 429)."),
    click.option("--insecure-registry", "insecure_registries", multiple=True, metavar="HOST[:PORT]",
                 help="Allow plain HTTP or unverified TLS for this registry only (repeatable)."),
    click.option("--registry-config", metavar="PATH",
                 help="Docker config file or folder with credentials (default: $DOCKER_CONFIG or ~/.docker)."),
    click.option("--pull-secret", "pull_secrets", multiple=True, metavar="NAMESPACE:NAME",
                 help="Use this Kubernetes docker-config secret's credentials (repeatable)."),
    click.option("--registry-timeout", type=DurationType(0.1, 600), default="30s", show_default=True,
                 metavar="DURATION", help="Time allowed per image: every connection, read and retry it needs."),
])


# -- the local metadata cache -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CacheSettings:
    directory: Path
    ttl: float
    refresh: bool
    offline: bool
    enabled: bool

    def open(self) -> Any:
        if not self.enabled:  # --no-cache: the cache module (and diskcache, sqlite) is never imported
            return None
        from ..registry.cache import MetadataCache

        return MetadataCache(self.directory, warn=_warn_once())


@dataclass(frozen=True)
class CacheFlags:
    cache_dir: Optional[str] = None
    cache_ttl: str = "1h"
    refresh: bool = False
    offline: bool = False
    no_cache: bool = False

    def complete(self) -> CacheSettings:
        from ..durations import parse_duration
        from ..registry.cachedir import default_cache_dir  # not registry.cache: --no-cache never opens it

        if self.offline and self.no_cache:
            raise UsageError("--offline needs the local cache: drop --no-cache")
        if self.offline and self.refresh:
            raise UsageError("--offline and --refresh contradict each other: use one")
        return CacheSettings(default_cache_dir(self.cache_dir), parse_duration(self.cache_ttl, "--cache-ttl"),
                             self.refresh, self.offline, not self.no_cache)


CACHE_DIR_HELP = ("Local metadata cache (default: $KUBECTL_IMAGECACHE_CACHE_DIR, "
                  "$XDG_CACHE_HOME/kubectl-imagecache/metadata or ~/.cache/kubectl-imagecache/metadata).")

cache_flags = _group(CacheFlags, "cache", {f.name: f.name for f in fields(CacheFlags)}, [
    click.option("--cache-dir", metavar="DIR", help=CACHE_DIR_HELP),
    click.option("--cache-ttl", default="1h", show_default=True, metavar="DURATION",
                 help="How long a tag's digest is trusted before it is checked again."),
    click.option("--refresh", is_flag=True, help="Check every tag's digest with the registry now."),
    click.option("--offline", is_flag=True, help="Make no request at all; fail for anything not cached."),
    click.option("--no-cache", is_flag=True, help="Neither read nor write the local cache."),
])


def _warn_once() -> Callable[[str], None]:
    said: set[str] = set()

    def w(message: str) -> None:
        if message not in said:
            said.add(message)
            warn(message)

    return w
