"""One shared flag set (as cli-runtime's genericclioptions) and what it builds.

Commands declare which groups they take; `RegistrySettings.from_flags` completes and validates
them (no I/O besides reading files named on the command line), and `open_client` builds the
client only after every check has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import click

from ..errors import UsageError
from ..registry.platform import DEFAULT_PLATFORM, Platform, parse_platform
from ..registry.transport import DEFAULT_CONCURRENCY
from .printers import OUTPUT_FORMATS, warn

__all__ = [
    "registry_flags", "cache_flags", "kube_flags", "namespace_flags", "selector_flag", "output_flag",
    "kube_settings", "RegistrySettings", "CacheSettings",
]

F = Callable[..., Any]


def _apply(f: F, decorators: Sequence[Callable[[F], F]]) -> F:
    for d in reversed(decorators):
        f = d(f)
    return f


def kube_flags(f: F) -> F:
    """kubectl's connection flags (cli-runtime's ConfigFlags), for every command that reads a cluster."""
    return _apply(f, [
        click.option("--kubeconfig", metavar="FILE",
                     help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."),
        click.option("--context", "kube_context", metavar="NAME", help="The kubeconfig context to use."),
        click.option("--cluster", "kube_cluster", metavar="NAME", help="The kubeconfig cluster to use."),
        click.option("--user", "kube_user", metavar="NAME", help="The kubeconfig user to use."),
        click.option("--request-timeout", default="0", show_default=True, metavar="DURATION",
                     help="Time to wait for one API request (0: no limit)."),
    ])


def namespace_flags(all_namespaces: bool = True) -> Callable[[F], F]:
    decorators = [click.option("-n", "--namespace", metavar="NAMESPACE",
                               help="Namespace (default: the context's namespace, else default).")]
    if all_namespaces:
        decorators.append(click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace."))
    return lambda f: _apply(f, decorators)


def selector_flag(help_text: str) -> Callable[[F], F]:
    return click.option("-l", "--selector", metavar="SELECTOR", help=help_text)


def kube_settings(flags: dict[str, Any]) -> Any:
    """Pops the connection flags out of a command's keyword arguments and validates them."""
    from ..durations import parse_duration
    from ..kube.api import KubeSettings

    timeout = parse_duration(flags.pop("request_timeout", "0") or "0", "--request-timeout")
    return KubeSettings(flags.pop("kubeconfig", None), flags.pop("kube_context", None),
                        flags.pop("kube_cluster", None), flags.pop("kube_user", None), timeout or None)


def registry_flags(f: F) -> F:
    return _apply(f, [
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
        click.option("--registry-timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
                     metavar="SECONDS", help="Time allowed per image: every connection, read and retry it needs."),
    ])


def cache_flags(f: F) -> F:
    return _apply(f, [
        click.option("--cache-dir", metavar="DIR",
                     help="Local metadata cache (default: $KUBECTL_IMAGECACHE_CACHE_DIR, "
                          "$XDG_CACHE_HOME/kubectl-imagecache/metadata or ~/.cache/kubectl-imagecache/metadata)."),
        click.option("--cache-ttl", default="1h", show_default=True, metavar="DURATION",
                     help="How long a tag's digest is trusted before it is checked again."),
        click.option("--refresh", is_flag=True, help="Check every tag's digest with the registry now."),
        click.option("--offline", is_flag=True, help="Make no request at all; fail for anything not cached."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the local cache."),
    ])


def output_flag(formats: Sequence[str] = OUTPUT_FORMATS) -> Callable[[F], F]:
    return click.option("-o", "--output", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help="Output format.")


@dataclass(frozen=True)
class CacheSettings:
    directory: Any  # pathlib.Path
    ttl: float
    refresh: bool
    offline: bool
    enabled: bool

    @classmethod
    def from_flags(cls, cache_dir: Optional[str], cache_ttl: str, refresh: bool, offline: bool,
                   no_cache: bool) -> CacheSettings:
        from ..durations import parse_duration
        from ..registry.cache import default_cache_dir

        if offline and no_cache:
            raise UsageError("--offline needs the local cache: drop --no-cache")
        if offline and refresh:
            raise UsageError("--offline and --refresh contradict each other: use one")
        return cls(default_cache_dir(cache_dir), parse_duration(cache_ttl, "--cache-ttl"), refresh, offline,
                   not no_cache)

    def open(self) -> Any:
        from ..registry.cache import MetadataCache

        return MetadataCache(self.directory, warn=_warn_once()) if self.enabled else None


def _warn_once() -> Callable[[str], None]:
    said: set[str] = set()

    def w(message: str) -> None:
        if message not in said:
            said.add(message)
            warn(message)

    return w


@dataclass(frozen=True)
class RegistrySettings:
    platform: Platform
    concurrency: int
    insecure_hosts: frozenset[str]
    registry_config: Optional[str]
    pull_secrets: tuple[tuple[str, str], ...]
    timeout: float
    kube: Any  # cluster.KubeSettings: where --pull-secret secrets are read

    @classmethod
    def from_flags(cls, platform: str, concurrency: int, insecure_registries: Sequence[str],
                   registry_config: Optional[str], pull_secrets: Sequence[str], registry_timeout: float,
                   kube: Any = None) -> RegistrySettings:
        from ..registry.credentials import parse_pull_secret_spec

        hosts = []
        for host in insecure_registries:
            h = host.strip().lower()
            if not h or "/" in h or " " in h:
                raise UsageError(f'--insecure-registry "{host}" must be HOST or HOST:PORT, without scheme or path')
            hosts.append(h)
        return cls(
            platform=parse_platform(platform),
            concurrency=concurrency,
            insecure_hosts=frozenset(hosts),
            registry_config=registry_config,
            pull_secrets=tuple(parse_pull_secret_spec(s) for s in dict.fromkeys(pull_secrets)),
            timeout=registry_timeout,
            kube=kube,
        )

    def credential_store(self, extra_secrets: Sequence[Any] = ()) -> Any:
        """Reads the docker config and, when asked, pull secrets from the cluster (reads only)."""
        from ..registry.credentials import CredentialStore, load_docker_config, load_pull_secrets

        config = load_docker_config(self.registry_config)
        secrets: list[Any] = []
        if self.pull_secrets:
            from ..kube.api import KubeSettings

            kube = self.kube or KubeSettings()
            clusters: list[Any] = []

            def get_secret(namespace: str, name: str) -> Any:
                if not clusters:  # connect on the first read, after every spec was checked
                    clusters.append(kube.connect())
                return clusters[0].get_secret(namespace, name)

            secrets = load_pull_secrets([f"{ns}:{name}" for ns, name in self.pull_secrets], get_secret)
        return CredentialStore(config, [*secrets, *extra_secrets], on_warning=_warn_once())

    def open_client(self, cache: CacheSettings, extra_secrets: Sequence[Any] = ()) -> Any:
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
        return RegistryClient(opts, self.credential_store(extra_secrets), cache.open())
