"""The API layer's bounds and error naming, in process: the default request timeout the client is
configured with, Retry-After parsing, and transport failures named in words."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import yaml
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError, SSLError

from kubectl_imagecache.cli.options import KubeFlags
from kubectl_imagecache.kube.api import DEFAULT_REQUEST_TIMEOUT, _retry_after, network_cause


def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return path


def test_default_request_timeout_reaches_the_client(tmp_path: Path) -> None:
    cluster = KubeFlags(kubeconfig=str(kubeconfig(tmp_path))).complete().connect()
    assert cluster.timeout == DEFAULT_REQUEST_TIMEOUT == 30.0
    assert cluster.api.configuration.retries == 0  # urllib3 must not pay the timeout four times
    unlimited = KubeFlags(kubeconfig=str(kubeconfig(tmp_path)), request_timeout="0").complete().connect()
    assert unlimited.timeout is None


class Err:
    def __init__(self, status: int, headers: Any) -> None:
        self.status, self.headers = status, headers


def test_retry_after() -> None:
    assert _retry_after(Err(429, {"Retry-After": "1"})) == 1.0
    assert _retry_after(Err(503, {"retry-after": "2"})) == 2.0
    assert _retry_after(Err(429, {"Retry-After": "3600"})) == 10.0  # capped
    assert _retry_after(Err(429, {})) is None
    assert _retry_after(Err(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) is None
    assert _retry_after(Err(500, {"Retry-After": "1"})) is None


def verify_error(code: int) -> ssl.SSLCertVerificationError:
    e = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    e.verify_code, e.verify_message = code, "x"
    return e


def test_network_cause_names_the_cause() -> None:
    wrapped = MaxRetryError(None, "/", SSLError(verify_error(20)))  # type: ignore[arg-type]
    assert "unknown authority" in network_cause(wrapped)
    assert "hostname mismatch" in network_cause(MaxRetryError(None, "/", SSLError(verify_error(64))))  # type: ignore
    timeout = MaxRetryError(None, "/", ReadTimeoutError(None, "/", "Read timed out."))  # type: ignore[arg-type]
    assert network_cause(timeout, 0.5).startswith("no answer within 0.5s (request timed out)")
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore
    assert "connection refused" in network_cause(MaxRetryError(None, "/", refused))  # type: ignore[arg-type]
    assert "connection was closed" in network_cause(ProtocolError("Connection broken", ConnectionResetError()))
    flattened = Exception("SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer certificate")
    assert "unknown authority" in network_cause(flattened)
    for text in (network_cause(wrapped), network_cause(timeout)):
        assert "urllib3" not in text and "Error" not in text


def test_missing_exec_plugin_is_named(tmp_path: Path) -> None:
    import pytest

    from kubectl_imagecache.errors import EXIT_AUTH, ClusterUnauthorized
    from kubectl_imagecache.kube.kubeconfig import Kubeconfig

    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "no-such-plugin-xyz", "interactiveMode": "Never"}}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    with pytest.raises(ClusterUnauthorized) as info:
        Kubeconfig.load(str(path)).api_client()
    assert info.value.exit_code == EXIT_AUTH
    assert 'exec credential plugin "no-such-plugin-xyz" was not found' in info.value.message
