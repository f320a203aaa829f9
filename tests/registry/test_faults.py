"""Faults between the client and a real registry: rate limits, error bursts, resets, stalls, redirects.

Every fault is injected by the FaultProxy; every non-fault answer is the real registry's. Timeouts,
retries and backoffs are kept small so the whole file runs in seconds on a 2-core CI machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

from kubectl_imagecache.errors import RegistryError, Unauthorized, Unreachable
from kubectl_imagecache.registry.cache import MetadataCache
from kubectl_imagecache.registry.client import ClientOptions, ImageInfo, RegistryClient
from kubectl_imagecache.registry.credentials import CredentialStore, load_docker_config
from kubectl_imagecache.registry.reference import parse_reference
from kubectl_imagecache.registry.transport import TransportOptions
from tests.fakes.faultproxy import FaultProxy
from tests.fakes.oci import PushedIndex
from tests.fakes.registry import LiveRegistry

MANIFEST = r"/manifests/"


def manifest_statuses(proxy: FaultProxy) -> list[int]:
    """Statuses of manifest requests only (a single-platform image also fetches its config blob)."""
    return [r.status for r in proxy.requests if "/manifests/" in r.path]


def make_client(tmp_path: Path, *, auths: Optional[dict[str, dict[str, str]]] = None,
                cache: Optional[MetadataCache] = None, **transport: object) -> RegistryClient:
    settings: dict[str, object] = {"timeout": 5.0, "retries": 2, "backoff": 0.01, "retry_after_cap": 2}
    settings.update(transport)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": auths or {}}))
    opts = ClientOptions(transport=TransportOptions(**settings))  # type: ignore[arg-type]
    return RegistryClient(opts, CredentialStore(load_docker_config(str(config))), cache)


def inspect(client: RegistryClient, ref: str) -> ImageInfo:
    return client.inspect(parse_reference(ref))


def basic_auths(reg: LiveRegistry, host: str) -> dict[str, dict[str, str]]:
    assert reg.username and reg.password
    return {host: {"auth": base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()}}


# -- retried statuses -----------------------------------------------------------------------------

def test_429_with_retry_after_is_honoured(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                          tmp_path: Path) -> None:
    fault_proxy.rate_limit(MANIFEST, retry_after=1, times=1)
    t0 = time.monotonic()
    info = inspect(make_client(tmp_path), f"{fault_proxy.host}/sample/oci-single:1.0")
    elapsed = time.monotonic() - t0
    assert info.digest == plain_registry.samples["sample/oci-single:1.0"].digest  # type: ignore[index]
    assert manifest_statuses(fault_proxy) == [429, 200]
    assert 0.9 <= elapsed < 5


def test_retry_after_beyond_the_cap_is_capped(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                              tmp_path: Path) -> None:
    fault_proxy.rate_limit(MANIFEST, retry_after=100, times=1)
    t0 = time.monotonic()
    inspect(make_client(tmp_path, retry_after_cap=1), f"{fault_proxy.host}/sample/oci-single:1.0")
    elapsed = time.monotonic() - t0
    assert manifest_statuses(fault_proxy) == [429, 200]
    assert 0.9 <= elapsed < 4  # waited the cap (1 s), not the 100 s asked for


def test_persistent_429_gives_a_rate_limit_error(fault_proxy: FaultProxy, tmp_path: Path) -> None:
    fault_proxy.rate_limit(MANIFEST, retry_after=0, times=None)
    with pytest.raises(RegistryError) as exc:
        inspect(make_client(tmp_path, retries=2), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert "429" in str(exc.value) and "rate limit" in str(exc.value)
    assert fault_proxy.count() == 3  # the first try and two retries, no more


def test_503_burst_then_success(plain_registry: LiveRegistry, fault_proxy: FaultProxy, tmp_path: Path) -> None:
    fault_proxy.fail(MANIFEST, status=503, times=2)
    pushed = plain_registry.samples["sample/oci-index:1.0"]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex)
    info = inspect(make_client(tmp_path, retries=3), f"{fault_proxy.host}/sample/oci-index:1.0")
    assert info.platform_digest == pushed.platform_digest()
    assert [r.status for r in fault_proxy.requests] == [503, 503, 200, 200]


@pytest.mark.parametrize("status", [502, 503, 504, 408])
def test_persistent_server_errors_are_unreachable_after_bounded_retries(fault_proxy: FaultProxy, tmp_path: Path,
                                                                        status: int) -> None:
    fault_proxy.fail(MANIFEST, status=status, times=None)
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as exc:
        inspect(make_client(tmp_path, retries=2), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert f"HTTP {status}" in str(exc.value)
    assert fault_proxy.count() == 3
    assert time.monotonic() - t0 < 3


def test_500_is_not_retried(fault_proxy: FaultProxy, tmp_path: Path) -> None:
    # A 500 is a bug on the server, not a passing overload: retrying only multiplies the load.
    fault_proxy.fail(MANIFEST, status=500, times=None)
    with pytest.raises(Unreachable):
        inspect(make_client(tmp_path, retries=2), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert fault_proxy.count() == 1


# -- connection faults ----------------------------------------------------------------------------

def test_connection_reset_then_success(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                       tmp_path: Path) -> None:
    fault_proxy.reset_connection(MANIFEST, times=1)
    info = inspect(make_client(tmp_path), f"{fault_proxy.host}/sample/docker-single:1.0")
    assert info.digest == plain_registry.samples["sample/docker-single:1.0"].digest  # type: ignore[index]
    assert [r.fault for r in fault_proxy.requests if "/manifests/" in r.path] == ["reset", None]


def test_persistent_resets_are_unreachable(fault_proxy: FaultProxy, tmp_path: Path) -> None:
    fault_proxy.reset_connection(MANIFEST, times=None)
    with pytest.raises(Unreachable):
        inspect(make_client(tmp_path, retries=2), f"{fault_proxy.host}/sample/docker-single:1.0")
    assert 2 <= fault_proxy.count() <= 3


def test_stalled_registry_times_out(fault_proxy: FaultProxy, tmp_path: Path) -> None:
    fault_proxy.stall(MANIFEST, times=None)
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as exc:
        inspect(make_client(tmp_path, timeout=0.5, retries=1), f"{fault_proxy.host}/sample/oci-single:1.0")
    elapsed = time.monotonic() - t0
    msg = str(exc.value)
    assert "did not answer in time" in msg and "timeout 0.5s" in msg and "--registry-timeout" in msg
    # --registry-timeout bounds the whole image: the stall used it up, no time was left to retry.
    assert elapsed < 1.5
    assert fault_proxy.count() == 1


def test_registry_timeout_bounds_the_whole_image(fault_proxy: FaultProxy, tmp_path: Path) -> None:
    # Each answer is slow but within the timeout; together they exceed it: the image gives up
    # at the timeout, where a per-request timeout would have waited for all of them (and retried).
    fault_proxy.delay("", seconds=0.6, times=None)
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as exc:
        inspect(make_client(tmp_path, timeout=1.0, retries=4), f"{fault_proxy.host}/sample/oci-index:1.0")
    assert time.monotonic() - t0 < 1.8
    assert "timeout 1s for the whole image" in str(exc.value)


def test_slow_but_alive_registry_is_waited_for(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                               tmp_path: Path) -> None:
    # The timeout is per read, not per request: an answer within it is taken.
    fault_proxy.delay(MANIFEST, seconds=0.3, times=1)
    info = inspect(make_client(tmp_path, timeout=2.0, retries=0), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert info.digest == plain_registry.samples["sample/oci-single:1.0"].digest  # type: ignore[index]


def test_faults_are_not_cached(plain_registry: LiveRegistry, fault_proxy: FaultProxy, tmp_path: Path) -> None:
    cache = MetadataCache(tmp_path / "cache")
    fault_proxy.fail(MANIFEST, status=503, times=None)
    with pytest.raises(Unreachable):
        inspect(make_client(tmp_path, cache=cache, retries=0), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert cache.get_tag(fault_proxy.host, "sample/oci-single", "1.0") is None
    fault_proxy.reset()
    info = inspect(make_client(tmp_path, cache=cache), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert info.digest == plain_registry.samples["sample/oci-single:1.0"].digest  # type: ignore[index]
    assert fault_proxy.counts_by_method() == {"GET": 2}  # manifest and config, both fetched afresh


# -- redirects ------------------------------------------------------------------------------------

def _authenticated_client(reg: LiveRegistry, proxy: FaultProxy, tmp_path: Path) -> RegistryClient:
    client = make_client(tmp_path, auths=basic_auths(reg, proxy.host))
    # One image first: the client learns the Basic challenge and sends credentials up front after.
    inspect(client, f"{proxy.host}/sample/docker-single:1.0")
    proxy.reset()
    return client


def test_redirect_to_another_host_drops_authorization(basic_registry: LiveRegistry,
                                                      make_fault_proxy: Callable[[LiveRegistry], FaultProxy],
                                                      tmp_path: Path) -> None:
    proxy = make_fault_proxy(basic_registry)
    client = _authenticated_client(basic_registry, proxy, tmp_path)
    pushed = basic_registry.samples["sample/oci-index:1.0"]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex)
    proxy.redirect(r"/v2/sample/oci-index/manifests/", status=307)
    info = inspect(client, f"{proxy.host}/sample/oci-index:1.0")
    assert info.digest == pushed.digest and info.platform_digest == pushed.platform_digest()
    # Credentials did go to the registry (so the test can fail)...
    assert [(r.status, r.auth_scheme) for r in proxy.requests] == [(307, "Basic"), (307, "Basic")]
    # ...and never to the other host, which still served the content.
    target = proxy.redirect_target
    assert [r.status for r in target.requests] == [200, 200]
    assert not target.authorization_seen


def test_blob_redirect_drops_authorization(basic_registry: LiveRegistry,
                                           make_fault_proxy: Callable[[LiveRegistry], FaultProxy],
                                           tmp_path: Path) -> None:
    # Real registries redirect blobs to object storage: the usual case for this rule.
    proxy = make_fault_proxy(basic_registry)
    client = _authenticated_client(basic_registry, proxy, tmp_path)
    layer = basic_registry.samples["sample/oci-single:1.0"].layers[1]  # type: ignore[union-attr]
    proxy.redirect(r"/blobs/", status=302)
    data = b"".join(client.blob(parse_reference(f"{proxy.host}/sample/oci-single:1.0"), layer.digest))
    assert len(data) == layer.size
    assert "sha256:" + hashlib.sha256(data).hexdigest() == layer.digest
    assert proxy.requests[0].auth_scheme == "Basic"
    assert proxy.redirect_target.requests and not proxy.redirect_target.authorization_seen


def test_token_redirect_drops_bearer(token_registry: LiveRegistry,
                                     make_fault_proxy: Callable[[LiveRegistry], FaultProxy],
                                     tmp_path: Path) -> None:
    proxy = make_fault_proxy(token_registry)
    client = make_client(tmp_path, auths=basic_auths(token_registry, proxy.host))
    inspect(client, f"{proxy.host}/private/secret:1.0")  # token for this scope now held
    proxy.reset()
    proxy.redirect(r"/v2/private/secret/manifests/")
    info = inspect(client, f"{proxy.host}/private/secret:1.0")
    assert info.digest == token_registry.samples["private/secret:1.0"].digest  # type: ignore[index]
    assert [r.auth_scheme for r in proxy.requests if "/manifests/" in r.path] == ["Bearer"]
    assert proxy.redirect_target.requests and not proxy.redirect_target.authorization_seen


def test_401_from_redirect_target_gets_no_credentials(basic_registry: LiveRegistry, tmp_path: Path) -> None:
    # No redirect_fetch: the target forwards to the basic registry without any Authorization,
    # so it answers 401 with a Basic challenge of its own, as a hostile host would.
    with FaultProxy(basic_registry.url) as proxy:
        client = _authenticated_client(basic_registry, proxy, tmp_path)
        proxy.redirect(r"/v2/sample/oci-single/manifests/")
        with pytest.raises(Unauthorized):
            inspect(client, f"{proxy.host}/sample/oci-single:1.0")
        target = proxy.redirect_target
        assert [r.status for r in target.requests] == [401]  # asked once, never again with credentials
        assert not target.authorization_seen
        assert [r.auth_scheme for r in proxy.requests] == ["Basic"]
        # The refusal came from another host: the registry's own credentials are still good.
        proxy.reset()
        info = inspect(client, f"{proxy.host}/a/b/c/nested:1.0")
        assert info.digest == basic_registry.samples["a/b/c/nested:1.0"].digest  # type: ignore[index]
        assert [(r.status, r.auth_scheme) for r in proxy.requests] == [(200, "Basic"), (200, "Basic")]
