"""kube/pullsecrets: `NAMESPACE:NAME`, docker-config secrets, and discovering them through workloads.

Secrets and service accounts are read through the real Kubernetes client (kube.api.Cluster) from a
small local HTTP server that counts the requests it answers.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from kubectl_imagecache.errors import (
    EXIT_FORBIDDEN,
    EXIT_NOT_FOUND,
    ClusterNotFound,
    CredentialError,
    ImageCacheError,
    UsageError,
)
from kubectl_imagecache.kube.api import Cluster
from kubectl_imagecache.kube.pullsecrets import (
    DOCKERCFG,
    DOCKERCONFIGJSON,
    Reads,
    credentials_from_secret,
    discover,
    load_pull_secrets,
    parse_pull_secret_spec,
)
from tests.unit.test_credentials import PASSWORD, TOKEN, assert_no_secret, b64, dockerconfigjson

# --------------------------------------------------------------------------------------------------
# NAMESPACE:NAME and secret contents


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("default:regcred", ("default", "regcred")),
        ("kube-system:my.secret-1", ("kube-system", "my.secret-1")),
        ("a" * 63 + ":" + "b" * 253, ("a" * 63, "b" * 253)),
    ],
)
def test_parse_pull_secret_spec(spec: str, expected: tuple) -> None:
    assert parse_pull_secret_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "regcred",
        "default/regcred",
        ":regcred",
        "default:",
        "Default:regcred",
        "default:RegCred",
        "de.fault:regcred",
        "-ns:regcred",
        "ns:regcred-",
        "a" * 64 + ":x",
        "ns:" + "b" * 254,
        "ns:a:b",
        "ns:a..b",
    ],
)
def test_bad_pull_secret_spec(spec: str) -> None:
    with pytest.raises(UsageError, match="--pull-secret NAMESPACE:NAME"):
        parse_pull_secret_spec(spec)


def test_dockerconfigjson_secret() -> None:
    data = dockerconfigjson(
        {
            "https://index.docker.io/v1/": {"auth": b64("hub:" + PASSWORD)},
            "r.example:5000": {"username": "u", "password": PASSWORD},
            "acr.example": {"identitytoken": TOKEN},
        }
    )
    creds = credentials_from_secret("default", "regcred", DOCKERCONFIGJSON, data)
    assert list(creds) == ["https://index.docker.io/v1/", "r.example:5000", "acr.example"]
    assert creds["https://index.docker.io/v1/"].username == "hub"
    assert (
        creds["https://index.docker.io/v1/"].source
        == 'pull secret default/regcred (auths "https://index.docker.io/v1/")'
    )
    assert creds["acr.example"].identity_token == TOKEN
    assert_no_secret(*creds.values())


def test_dockercfg_secret() -> None:
    data = {".dockercfg": b64(json.dumps({"r.example": {"auth": b64("old:" + PASSWORD), "email": "x@y"}}))}
    creds = credentials_from_secret("ns", "legacy", DOCKERCFG, data)
    assert creds["r.example"].username == "old" and creds["r.example"].password == PASSWORD


@pytest.mark.parametrize("secret_type", ["Opaque", "kubernetes.io/tls", None])
def test_unsupported_secret_type(secret_type: Optional[str]) -> None:
    with pytest.raises(CredentialError) as info:
        credentials_from_secret("default", "regcred", secret_type, {"password": b64(PASSWORD)})
    message = str(info.value)
    assert "default/regcred" in message and str(secret_type or "(none)") in message
    assert DOCKERCONFIGJSON in message and DOCKERCFG in message
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "secret_type, data, fragment",
    [
        (DOCKERCONFIGJSON, {}, "no .dockerconfigjson"),
        (DOCKERCONFIGJSON, {".dockercfg": b64("{}")}, "no .dockerconfigjson"),
        (DOCKERCFG, {".dockerconfigjson": b64("{}")}, "no .dockercfg"),
        (DOCKERCONFIGJSON, {".dockerconfigjson": "@@" + PASSWORD}, "not base64"),
        (DOCKERCONFIGJSON, {".dockerconfigjson": b64('{"auths": {"' + PASSWORD)}, "not base64-encoded JSON"),
        (DOCKERCONFIGJSON, {".dockerconfigjson": b64('{"x": 1}')}, "auths"),
        (DOCKERCONFIGJSON, dockerconfigjson({"r.example": {"auth": b64(PASSWORD)}}), "user:password"),
    ],
)
def test_malformed_secret_data(secret_type: str, data: dict, fragment: str) -> None:
    with pytest.raises(CredentialError, match=fragment) as info:
        credentials_from_secret("default", "regcred", secret_type, data)
    assert "default/regcred" in str(info.value)
    assert_no_secret(info.value)



# --------------------------------------------------------------------------------------------------
# load_pull_secrets through the real client against a tiny local API server


class _FakeAPI(BaseHTTPRequestHandler):
    secrets: Dict[str, dict] = {}
    service_accounts: Dict[str, dict] = {}
    forbidden: set = set()
    requests: collections.Counter = collections.Counter()  # path -> GETs answered

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        self.requests[path] += 1
        # api/v1/namespaces/{ns}/{secrets|serviceaccounts}/{name}
        parts = path.strip("/").split("/")
        ns, kind, name = parts[3], parts[4], parts[5]
        found = (self.secrets if kind == "secrets" else self.service_accounts).get(f"{ns}/{name}")
        if ns in self.forbidden:
            self._reply(
                403, {"kind": "Status", "code": 403, "reason": "Forbidden", "message": f'{kind} "{name}" is forbidden'}
            )
        elif found is not None:
            self._reply(200, found)
        else:
            self._reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    def _reply(self, code: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeAPI.secrets = {
        "default/regcred": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "regcred", "namespace": "default"},
            "type": DOCKERCONFIGJSON,
            "data": dockerconfigjson({"r.example": {"auth": b64("k8s:" + PASSWORD)}}),
        },
        "default/opaque": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "opaque", "namespace": "default"},
            "type": "Opaque",
            "data": {"x": b64(PASSWORD)},
        },
    }
    _FakeAPI.service_accounts = {}
    _FakeAPI.forbidden = {"locked"}
    _FakeAPI.requests = collections.Counter()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _cluster(host: str) -> Cluster:
    """The API as the plugin reads it: kube.api.Cluster over the real client."""
    from kubernetes.client import ApiClient, Configuration

    return Cluster(ApiClient(Configuration(host=host)))


def _reader(host: str):
    return _cluster(host).get_secret


def test_load_pull_secrets_reads_them_in_order(fake_api: str) -> None:
    [secret] = load_pull_secrets(["default:regcred", "default:regcred"], _reader(fake_api))
    assert secret.label == "default/regcred"
    assert secret.credentials["r.example"].username == "k8s"
    assert_no_secret(secret)


def test_load_pull_secrets_not_found(fake_api: str) -> None:
    with pytest.raises(ImageCacheError, match="^pull secret default/missing not found$") as info:
        load_pull_secrets(["default:missing"], _reader(fake_api))
    assert info.value.exit_code == EXIT_NOT_FOUND


def test_load_pull_secrets_forbidden(fake_api: str) -> None:
    # The same exit code as any other forbidden read (README's table): 8, not 3.
    with pytest.raises(ImageCacheError, match="pull secret locked/regcred: forbidden: you may not get secrets") as info:
        load_pull_secrets(["locked:regcred"], _reader(fake_api))
    assert info.value.exit_code == EXIT_FORBIDDEN


def test_load_pull_secrets_wrong_type(fake_api: str) -> None:
    # Refused as warm's discover refuses it: the same words, a usage error (exit 2) in every command.
    with pytest.raises(UsageError, match="secret default/opaque is of type Opaque, not a docker-config secret") \
            as info:
        load_pull_secrets(["default:opaque"], _reader(fake_api))
    assert info.value.exit_code == 2
    assert_no_secret(info.value)


def test_load_pull_secrets_checks_all_specs_before_connecting() -> None:
    def reader(namespace: str, name: str) -> dict:
        raise AssertionError("must not connect")

    with pytest.raises(UsageError):
        load_pull_secrets(["default:ok", "bad"], reader)
    assert load_pull_secrets([], reader) == []


def test_module_does_not_import_kubernetes() -> None:
    code = (
        "import sys, kubectl_imagecache.kube.pullsecrets as p;"
        "p.load_pull_secrets([], lambda ns, n: 1/0); p.parse_pull_secret_spec('a:b');"
        "assert 'kubernetes' not in sys.modules, 'kubernetes imported';"
        "import kubectl_imagecache.kube.kubeconfig, kubectl_imagecache.kube.api;"
        "assert 'kubernetes' not in sys.modules, 'kubernetes imported by kube'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# --------------------------------------------------------------------------------------------------
# discover: the secrets workloads pull with, each read once


def deployment(namespace: str, name: str, service_account: Optional[str] = None,
               pull_secrets: List[str] = ()) -> Dict[str, Any]:  # type: ignore[assignment]
    spec: Dict[str, Any] = {"containers": [{"name": "c", "image": "r.example/app:1"}]}
    if service_account:
        spec["serviceAccountName"] = service_account
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    return {"kind": "Deployment", "metadata": {"namespace": namespace, "name": name},
            "spec": {"template": {"spec": spec}}}


def docker_secret(namespace: str, name: str, user: str) -> dict:
    return {"kind": "Secret", "metadata": {"namespace": namespace, "name": name}, "type": DOCKERCONFIGJSON,
            "data": dockerconfigjson({"r.example": {"auth": b64(f"{user}:" + PASSWORD)}})}


def test_service_accounts_and_secrets_are_read_once_per_namespace_and_name(fake_api: str) -> None:
    # 100 workloads in 2 namespaces share 3 service accounts (one missing) and name 2 secrets
    # themselves (one missing): 3 + 4 reads, not 100 + 200 (warm --from-namespace -A, issue 10).
    _FakeAPI.service_accounts = {
        "a/builder": {"metadata": {"name": "builder"}, "imagePullSecrets": [{"name": "sa-cred"}]},
        "b/default": {"metadata": {"name": "default"}, "imagePullSecrets": [{"name": "sa-cred"}, {"name": "gone"}]},
    }
    _FakeAPI.secrets = {f"{ns}/{n}": docker_secret(ns, n, f"{ns}-{n}")
                        for ns, n in (("a", "sa-cred"), ("b", "sa-cred"), ("a", "own"))}
    workloads = [deployment("a", f"a{i}", "builder", ["own"]) for i in range(40)]
    workloads += [deployment("b", f"b{i}") for i in range(50)]  # the "default" service account
    workloads += [deployment("a", f"x{i}", "nobody", ["missing"]) for i in range(10)]
    cluster = _cluster(fake_api)
    warnings: List[str] = []
    found = discover(workloads, [], Reads(cluster.get_secret, cluster.get_service_account), warnings.append)

    assert sorted(found.names) == ["a:own", "a:sa-cred", "b:sa-cred"]
    assert sorted(s.credentials["r.example"].username for s in found.secrets) == ["a-own", "a-sa-cred", "b-sa-cred"]
    sa, sec = "/api/v1/namespaces/{}/serviceaccounts/{}", "/api/v1/namespaces/{}/secrets/{}"
    assert dict(_FakeAPI.requests) == {
        sa.format("a", "builder"): 1, sa.format("b", "default"): 1, sa.format("a", "nobody"): 1,
        sec.format("a", "own"): 1, sec.format("a", "sa-cred"): 1, sec.format("b", "sa-cred"): 1,
        sec.format("b", "gone"): 1, sec.format("a", "missing"): 1,
    }
    assert sorted(warnings) == [
        "pull secret a/missing named by a workload does not exist; the cache will not use it",
        "pull secret b/gone named by a workload does not exist; the cache will not use it",
    ]
    assert_no_secret(found.secrets, *warnings)


def test_reads_remember_not_found_and_do_not_keep_other_failures() -> None:
    calls: collections.Counter = collections.Counter()

    def get_secret(namespace: str, name: str) -> dict:
        calls[(namespace, name)] += 1
        if name == "missing":
            raise ClusterNotFound(f'secrets "{namespace}/{name}" not found')
        if name == "flaky":
            raise ImageCacheError("unreachable")
        return {"type": DOCKERCONFIGJSON}

    reads = Reads(get_secret, lambda ns, n: {})
    for _ in range(3):
        assert reads.secret("a", "ok") == {"type": DOCKERCONFIGJSON}
        with pytest.raises(ClusterNotFound):
            reads.secret("a", "missing")
        with pytest.raises(ImageCacheError, match="unreachable"):
            reads.secret("a", "flaky")
    assert calls == {("a", "ok"): 1, ("a", "missing"): 1, ("a", "flaky"): 3}


def test_explicit_pull_secrets_must_exist_and_be_docker_config(fake_api: str) -> None:
    cluster = _cluster(fake_api)

    def run(*explicit: tuple) -> Any:
        return discover([], list(explicit), Reads(cluster.get_secret, cluster.get_service_account), lambda m: None)

    assert run(("default", "regcred")).names == ["default:regcred"]
    with pytest.raises(ClusterNotFound, match=r"^pull secret default/nope not found \(--pull-secret default:nope\)$"):
        run(("default", "nope"))
    with pytest.raises(UsageError, match="secret default/opaque is of type Opaque, not a docker-config secret"):
        run(("default", "opaque"))
    # A workload's foreign secret is skipped with a warning, not an error.
    warnings: List[str] = []
    found = discover([deployment("default", "w", pull_secrets=["opaque"])], [],
                     Reads(cluster.get_secret, cluster.get_service_account), warnings.append)
    assert found.names == [] and len(warnings) == 1 and warnings[0].endswith("; skipped")
