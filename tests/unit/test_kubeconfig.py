"""kube/kubeconfig: one loader that reads and merges the files once, as kubectl does.

Clients are built by the real Kubernetes client; nothing connects (the servers are never asked).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest
import yaml

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.kube.api import KubeSettings
from kubectl_imagecache.kube.kubeconfig import Kubeconfig
from tests.unit.test_credentials import TOKEN, assert_no_secret

load = Kubeconfig.load


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test may read the developer's real ~/.kube."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    yield home


def _kubeconfig(path: Path, current: Optional[str], contexts: Dict[str, str], token: str = "t") -> Path:
    """contexts: name -> server URL."""
    doc = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Config
        {current}
        clusters:
        {clusters}
        contexts:
        {contexts}
        users:
        - name: u
          user: {{token: {token}}}
        """
    ).format(
        current=f"current-context: {current}" if current is not None else "",
        clusters="\n".join(f"- name: c-{n}\n  cluster: {{server: '{s}'}}" for n, s in contexts.items()) or "[]",
        contexts="\n".join(f"- name: {n}\n  context: {{cluster: c-{n}, user: u}}" for n in contexts) or "[]",
        token=token,
    )
    path.write_text(doc)
    return path


def test_api_client_explicit_file_and_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", "one", {"one": "https://127.0.0.1:1001", "two": "https://127.0.0.1:1002"})
    before = path.read_bytes()
    assert load(str(path)).api_client().configuration.host == "https://127.0.0.1:1001"
    assert load(str(path)).api_client("two").configuration.host == "https://127.0.0.1:1002"
    assert path.read_bytes() == before  # never written back


def test_api_client_kubeconfig_list_first_current_context_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _kubeconfig(tmp_path / "a", "first", {"first": "https://127.0.0.1:2001"})
    b = _kubeconfig(tmp_path / "b", "second", {"second": "https://127.0.0.1:2002"})
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(tmp_path / "missing"), str(b)]))
    assert load(None).api_client().configuration.host == "https://127.0.0.1:2001"
    assert load(None).api_client("second").configuration.host == "https://127.0.0.1:2002"


def test_api_client_default_location(isolated_home: Path) -> None:
    (isolated_home / ".kube").mkdir()
    _kubeconfig(isolated_home / ".kube" / "config", "home", {"home": "https://127.0.0.1:3001"})
    assert load(None).api_client().configuration.host == "https://127.0.0.1:3001"


def test_api_client_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    with pytest.raises(UsageError, match="no kubeconfig found"):
        load(None).api_client()
    with pytest.raises(UsageError, match="--kubeconfig .*no such file"):
        load(str(tmp_path / "nope")).api_client()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="KUBECONFIG"):
        load(None).api_client()
    path = _kubeconfig(tmp_path / "kc", None, {"one": "https://127.0.0.1:1"}, token=TOKEN)
    with pytest.raises(UsageError, match="no current context.*--context"):
        load(str(path)).api_client()
    with pytest.raises(UsageError, match='context "zzz" not found.*contexts: one') as info:
        load(str(path)).api_client("zzz")
    assert_no_secret(info.value)
    (tmp_path / "bad").write_text("a: [" + TOKEN)
    with pytest.raises(UsageError, match="not valid YAML") as info:
        load(str(tmp_path / "bad")).api_client()
    assert_no_secret(info.value)


def write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def config(clusters: Dict[str, dict], users: Dict[str, dict], contexts: Dict[str, dict],
           current: Optional[str] = None) -> dict:
    doc: dict = {"apiVersion": "v1", "kind": "Config",
                 "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
                 "users": [{"name": n, "user": u} for n, u in users.items()],
                 "contexts": [{"name": n, "context": c} for n, c in contexts.items()]}
    if current:
        doc["current-context"] = current
    return doc


def test_files_are_read_once(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config({"c": {"server": "https://127.0.0.1:4001"}}, {"u": {"token": "t"}},
                                         {"main": {"cluster": "c", "user": "u", "namespace": "shop"}}, "main"))
    kc = load(str(path))
    path.unlink()  # every answer below comes from that one reading
    assert kc.context() == "main"
    assert kc.namespace() == "shop"
    assert kc.names("contexts") == ["main"] and kc.names("clusters") == ["c"] and kc.names("users") == ["u"]
    assert kc.api_client().configuration.host == "https://127.0.0.1:4001"


def test_merge_first_file_wins_for_each_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a", config({"shared": {"server": "https://127.0.0.1:5001"}}, {"u": {"token": "a"}},
                                     {"one": {"cluster": "shared", "user": "u"}}))
    b = write(tmp_path / "b", config({"shared": {"server": "https://127.0.0.1:5002"},
                                      "other": {"server": "https://127.0.0.1:5003"}}, {"u": {"token": "b"}},
                                     {"one": {"cluster": "other", "user": "u"},
                                      "two": {"cluster": "other", "user": "u"}}, "two"))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b), str(a)]))
    kc = load(None)
    assert kc.paths == [str(a), str(b)]  # duplicates merged once
    assert kc.names("clusters") == ["shared", "other"] and kc.names("contexts") == ["one", "two"]
    assert kc.context() == "two"  # the only current-context, though in the second file
    client = kc.api_client("one")  # the first file's context, cluster and user
    assert client.configuration.host == "https://127.0.0.1:5001"
    assert client.configuration.auth_settings()["BearerToken"]["value"] == "Bearer a"
    assert kc.api_client("one", cluster="other").configuration.host == "https://127.0.0.1:5003"


def test_namespace_flag_else_context_else_default(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config({"c": {"server": "https://127.0.0.1:1"}}, {"u": {"token": "t"}},
                                         {"with": {"cluster": "c", "user": "u", "namespace": "shop"},
                                          "without": {"cluster": "c", "user": "u"}}, "with"))
    assert KubeSettings(str(path)).resolved_namespace() == "shop"
    assert KubeSettings(str(path), namespace="cli").resolved_namespace() == "cli"
    assert KubeSettings(str(path), context="without").resolved_namespace() == "default"
    # -n given: the kubeconfig is not even read (a missing one is no error).
    assert KubeSettings(str(tmp_path / "missing"), namespace="cli").resolved_namespace() == "cli"
    with pytest.raises(UsageError, match="no such file"):
        KubeSettings(str(tmp_path / "missing")).resolved_namespace()


def test_relative_certificate_paths_resolve_against_their_own_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    (second_dir / "ca.crt").write_text("not read until a connection is made")
    first = write(first_dir / "kc", config({}, {"u": {"token": "t"}}, {"ctx": {"cluster": "far", "user": "u"}}, "ctx"))
    second = write(second_dir / "kc", config({"far": {"server": "https://127.0.0.1:6001",
                                                      "certificate-authority": "ca.crt"}}, {}, {}))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    for kwargs in ({}, {"cluster": "far"}, {"user": "u"}):
        client = load(None).api_client(**kwargs)
        assert client.configuration.ssl_ca_cert == str(second_dir / "ca.crt"), kwargs


def test_inline_certificates_never_land_next_to_the_kubeconfig(tmp_path: Path) -> None:
    import base64

    folder = tmp_path / "kube"
    folder.mkdir()
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n").decode()
    clusters = {"c": {"server": "https://127.0.0.1:7001", "certificate-authority-data": ca},
                "d": {"server": "https://127.0.0.1:7002", "certificate-authority-data": ca}}
    path = write(folder / "config", config(clusters, {"u": {"token": "t"}}, {"ctx": {"cluster": "c", "user": "u"}},
                                           "ctx"))
    before = sorted(folder.iterdir())
    assert load(str(path)).api_client().configuration.host == "https://127.0.0.1:7001"
    assert load(str(path)).api_client(cluster="d").configuration.host == "https://127.0.0.1:7002"
    assert sorted(folder.iterdir()) == before


def test_cluster_and_user_overrides_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config({"c": {"server": "https://127.0.0.1:1"}}, {"u": {"token": TOKEN}},
                                         {"ctx": {"cluster": "c", "user": "u"}}, "ctx"))
    with pytest.raises(UsageError, match=r'--cluster "x" not found in kubeconfig .* \(clusters: c\)'):
        load(str(path)).api_client(cluster="x")
    with pytest.raises(UsageError, match=r'--user "y" not found in kubeconfig .* \(users: u\)') as info:
        load(str(path)).api_client(user="y")
    assert_no_secret(info.value)
