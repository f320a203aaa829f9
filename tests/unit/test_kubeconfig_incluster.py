"""In-cluster configuration: with no kubeconfig anywhere, the pod's service account is used (kubectl's rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.kube.kubeconfig import Kubeconfig, in_cluster_config


@pytest.fixture
def sa_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "sa"
    d.mkdir()
    (d / "token").write_text("tok-123")
    (d / "ca.crt").write_text("not checked here")
    (d / "namespace").write_text("kubectl-imagecache\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr("kubectl_imagecache.kube.kubeconfig.SERVICE_ACCOUNT_DIR", str(d))
    return d


def test_load_without_kubeconfig_uses_the_service_account(sa_dir: Path) -> None:
    found = in_cluster_config(str(sa_dir))
    assert found is not None
    assert found.namespace() == "kubectl-imagecache"
    cfg = Kubeconfig.load()  # through the default directory (patched to sa_dir)
    assert cfg.label.startswith("in-cluster")
    api = cfg.api_client()
    assert api.configuration.host == "https://10.0.0.1:443"
    assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer tok-123"
    assert api.configuration.ssl_ca_cert == str(sa_dir / "ca.crt")


def test_ipv6_service_host_is_bracketed(sa_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    found = in_cluster_config(str(sa_dir))
    assert found is not None
    assert found.api_client().configuration.host == "https://[fd00::1]:443"


def test_not_a_pod_keeps_the_kubeconfig_error(sa_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert in_cluster_config(str(sa_dir)) is None
    with pytest.raises(UsageError, match="no kubeconfig found"):
        Kubeconfig.load()


def test_an_explicit_kubeconfig_never_falls_back(sa_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(sa_dir / "missing"))
    with pytest.raises(UsageError, match="KUBECONFIG"):
        Kubeconfig.load()
    with pytest.raises(UsageError, match="no such file"):
        Kubeconfig.load(str(sa_dir / "missing"))
