"""cli/options: each flag group reaches the command as one typed object, checked by its complete()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from kubectl_imagecache.cli.options import (
    CacheFlags,
    CommandOptions,
    DryRun,
    KubeFlags,
    RegistryFlags,
    cache_flags,
    dry_run_flag,
    kube_flags,
    registry_flags,
)
from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.kube.api import DEFAULT_REQUEST_TIMEOUT


def received(*args: str) -> dict[str, Any]:
    """What a command declared with every flag group receives for `args`."""
    got: dict[str, Any] = {}

    @click.command()
    @click.argument("images", nargs=-1)
    @dry_run_flag("help")
    @registry_flags
    @cache_flags
    @kube_flags
    def cmd(**kwargs: Any) -> None:
        got.update(kwargs)

    result = CliRunner().invoke(cmd, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return got


def test_groups_arrive_as_typed_objects_never_as_loose_flags() -> None:
    got = received("img", "-n", "shop", "-A", "--context", "ctx", "--request-timeout", "5s", "--pull-secret", "a:b",
                   "--insecure-registry", "R.example:5000", "--offline", "--cache-ttl", "2h", "--dry-run=client")
    assert set(got) == {"images", "dry_run", "kube", "registry", "cache"}
    assert got["kube"] == KubeFlags(context="ctx", request_timeout="5s", namespace="shop", all_namespaces=True)
    assert got["registry"] == RegistryFlags(pull_secrets=("a:b",), insecure_registries=("R.example:5000",))
    assert got["cache"] == CacheFlags(cache_ttl="2h", offline=True)
    assert got["dry_run"] is DryRun.CLIENT


def test_defaults_are_the_dataclass_defaults() -> None:
    got = received()
    assert (got["kube"], got["registry"], got["cache"], got["dry_run"]) == (
        KubeFlags(), RegistryFlags(), CacheFlags(), DryRun.NONE)


def test_complete_turns_flags_into_checked_settings(tmp_path: Path) -> None:
    kube = KubeFlags(kubeconfig="kc", context="c", request_timeout="1m", namespace="shop").complete()
    assert (kube.kubeconfig, kube.context, kube.request_timeout, kube.namespace) == ("kc", "c", 60.0, "shop")
    assert KubeFlags().complete().request_timeout == DEFAULT_REQUEST_TIMEOUT == 30.0  # bounded by default
    assert KubeFlags(request_timeout="0").complete().request_timeout is None  # kubectl's 0: no limit
    assert KubeFlags(request_timeout="500ms").complete().request_timeout == 0.5
    registry = RegistryFlags(platform="linux/arm64", insecure_registries=(" R.example:5000 ",),
                             pull_secrets=("a:b", "a:b", "c:d")).complete()
    assert str(registry.platform) == "linux/arm64"
    assert registry.insecure_hosts == frozenset({"r.example:5000"})
    assert registry.pull_secrets == (("a", "b"), ("c", "d"))
    cache = CacheFlags(cache_dir=str(tmp_path), cache_ttl="30m", no_cache=True).complete()
    assert (cache.directory, cache.ttl, cache.enabled) == (tmp_path, 1800.0, False)


@pytest.mark.parametrize("flags, message", [
    (KubeFlags(request_timeout="soon"), "--request-timeout"),
    (RegistryFlags(pull_secrets=("nocolon",)), "--pull-secret NAMESPACE:NAME"),
    (RegistryFlags(insecure_registries=("http://r.example",)), "without scheme or path"),
    (RegistryFlags(platform="linux/"), "platform"),
    (CacheFlags(offline=True, no_cache=True), "--offline needs the local cache"),
    (CacheFlags(offline=True, refresh=True), "contradict"),
    (CacheFlags(cache_ttl="forever"), "--cache-ttl"),
])
def test_complete_refuses_bad_input(flags: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        flags.complete()


def test_command_options_check_everything_before_running() -> None:
    order: list[str] = []

    class Probe(CommandOptions):
        def complete(self) -> None:
            order.append("complete")

        def validate(self) -> None:
            order.append("validate")
            raise UsageError("bad")

        def run(self) -> int:
            order.append("run")
            return 0

    with pytest.raises(UsageError):
        Probe().execute()
    assert order == ["complete", "validate"]
