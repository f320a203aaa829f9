"""The harness itself works: real registries in each auth mode, the sample set, the proxy's faults.

Only raw requests here (no kubectl_imagecache code), so a failure points at the harness.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import time
from pathlib import Path

import pytest
import requests

from tests.fakes.faultproxy import FaultProxy
from tests.fakes.oci import (
    ACCEPT_ALL,
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    SAMPLE_KEYS,
    PullError,
    PushedImage,
    PushedIndex,
    RegistryClient,
    fill_many,
    schema1_manifest,
    sha256_digest,
)
from tests.fakes.registry import REGISTRY_BINARY_ENV, LiveRegistry, RegistryError, RegistryServer
from tests.fakes.tokenserver import TokenServer


@pytest.fixture
def web() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback only: an environment proxy must not get in between
    return s


def _manifest_url(base: str, key: str) -> str:
    repo, _, tag = key.rpartition(":")
    return f"{base}/v2/{repo}/manifests/{tag}"


def _bearer(reg: LiveRegistry, scope: str, auth: tuple[str, str] | None = None) -> requests.Response:
    assert reg.token_server is not None
    return requests.get(reg.token_server.realm, params={"service": reg.token_server.service, "scope": scope},
                        auth=auth, timeout=5)


# -- registry modes ------------------------------------------------------------------------

def test_plain_registry_answers_v2(plain_registry: LiveRegistry, web: requests.Session) -> None:
    r = web.get(plain_registry.url + "/v2/", timeout=5)
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_every_sample_resolves_by_tag_and_digest(plain_registry: LiveRegistry, web: requests.Session,
                                                  key: str) -> None:
    pushed = plain_registry.samples[key]  # type: ignore[index]
    head = web.head(_manifest_url(plain_registry.url, key), headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == pushed.digest
    assert head.headers["Content-Type"] == pushed.media_type
    repo = key.rpartition(":")[0]
    got = web.get(f"{plain_registry.url}/v2/{repo}/manifests/{pushed.digest}",
                   headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert sha256_digest(got.content) == pushed.digest
    assert got.content == pushed.body
    assert plain_registry.ref(key, by_digest=True) == f"{plain_registry.host}/{repo}@{pushed.digest}"


def test_sample_media_types_and_sizes(plain_registry: LiveRegistry, web: requests.Session) -> None:
    s = plain_registry.samples
    assert s is not None
    assert s["sample/oci-single:1.0"].media_type == MT_OCI_MANIFEST
    assert s["sample/docker-single:1.0"].media_type == MT_DOCKER_MANIFEST
    assert s["sample/oci-index:1.0"].media_type == MT_OCI_INDEX
    assert s["sample/docker-list:1.0"].media_type == MT_DOCKER_LIST
    assert s["sample/oci-single:latest"].digest == s["sample/oci-single:1.0"].digest
    # The size a client must report is computed from the manifest the registry serves.
    img = s["sample/docker-single:1.0"]
    assert isinstance(img, PushedImage)
    m = web.get(_manifest_url(plain_registry.url, "sample/docker-single:1.0"),
                 headers={"Accept": ACCEPT_ALL}, timeout=5).json()
    assert m["config"]["size"] + sum(la["size"] for la in m["layers"]) == img.size
    assert [la["digest"] for la in m["layers"]] == img.layer_digests
    # Shared base layer really is one blob across images.
    base = s.shared_layer.digest
    for key in ("sample/oci-single:1.0", "sample/docker-single:1.0", "a/b/c/nested:1.0"):
        assert base in s[key].layer_digests  # type: ignore[union-attr]
    idx = s["sample/oci-index:1.0"]
    assert isinstance(idx, PushedIndex)
    assert base in idx.for_platform("linux/amd64").layer_digests
    blob = web.head(f"{plain_registry.url}/v2/a/b/c/nested/blobs/{base}", timeout=5)
    assert blob.status_code == 200 and int(blob.headers["Content-Length"]) == s.shared_layer.size


@pytest.mark.parametrize("key", ["sample/oci-index:1.0", "sample/docker-list:1.0"])
def test_index_platforms_and_attestations(plain_registry: LiveRegistry, web: requests.Session, key: str) -> None:
    idx = plain_registry.samples[key]  # type: ignore[index]
    assert isinstance(idx, PushedIndex)
    body = web.get(_manifest_url(plain_registry.url, key), headers={"Accept": ACCEPT_ALL}, timeout=5).json()
    plats = []
    attestations = []
    for entry in body["manifests"]:
        p = entry["platform"]
        name = "/".join([p["os"], p["architecture"]] + ([p["variant"]] if "variant" in p else []))
        if name == "unknown/unknown":
            assert entry["annotations"]["vnd.docker.reference.type"] == "attestation-manifest"
            attestations.append(entry)
        else:
            plats.append(name)
            assert entry["digest"] == idx.platform_digest(name)
    assert plats == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert len(attestations) == len(idx.attestations) >= 1
    repo = key.rpartition(":")[0]
    arm = idx.for_platform("linux/arm64/v8")
    m = web.get(f"{plain_registry.url}/v2/{repo}/manifests/{arm.digest}", headers={"Accept": ACCEPT_ALL},
                 timeout=5)
    assert m.status_code == 200 and m.headers["Docker-Content-Digest"] == arm.digest
    cfg = web.get(f"{plain_registry.url}/v2/{repo}/blobs/{arm.config.digest}", timeout=5).json()
    assert (cfg["architecture"], cfg["variant"]) == ("arm64", "v8")


def test_arm_only_index_has_no_amd64(plain_registry: LiveRegistry) -> None:
    idx = plain_registry.samples["sample/arm-only:1.0"]  # type: ignore[index]
    assert isinstance(idx, PushedIndex)
    assert idx.platforms == ["linux/arm64/v8", "linux/arm/v7"] and not idx.attestations


def test_nested_repository_tags(plain_registry: LiveRegistry, web: requests.Session) -> None:
    r = web.get(plain_registry.url + "/v2/a/b/c/nested/tags/list", timeout=5)
    assert r.json() == {"name": "a/b/c/nested", "tags": ["1.0"]}


def test_basic_registry_demands_credentials(basic_registry: LiveRegistry, web: requests.Session) -> None:
    r = web.get(basic_registry.url + "/v2/", timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert web.get(basic_registry.url + "/v2/", auth=("alice", "wrong"), timeout=5).status_code == 401
    creds = (basic_registry.username, basic_registry.password)
    url = _manifest_url(basic_registry.url, "sample/oci-single:1.0")
    ok = web.head(url, auth=creds, headers={"Accept": ACCEPT_ALL}, timeout=5)  # type: ignore[arg-type]
    assert ok.status_code == 200
    assert ok.headers["Docker-Content-Digest"] == basic_registry.samples["sample/oci-single:1.0"].digest  # type: ignore


def test_token_registry_challenge_and_flow(token_registry: LiveRegistry, web: requests.Session) -> None:
    ts = token_registry.token_server
    assert ts is not None
    url = _manifest_url(token_registry.url, "sample/oci-index:1.0")
    r = web.get(url, headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{ts.realm}"')
    assert f'service="{ts.service}"' in challenge and 'scope="repository:sample/oci-index:pull"' in challenge

    ts.reset_requests()
    anon = _bearer(token_registry, "repository:sample/oci-index:pull").json()
    assert anon["token"] == anon["access_token"] and anon["expires_in"] > 0
    ok = web.get(url, headers={"Accept": ACCEPT_ALL, "Authorization": "Bearer " + anon["token"]}, timeout=5)
    assert ok.status_code == 200
    assert ok.headers["Docker-Content-Digest"] == token_registry.samples["sample/oci-index:1.0"].digest  # type: ignore
    assert ts.requests[-1].user is None and not ts.requests[-1].password_given

    # private/*: anonymous gets a token without access, the registry refuses it.
    priv = _manifest_url(token_registry.url, "private/secret:1.0")
    t = _bearer(token_registry, "repository:private/secret:pull").json()["token"]
    assert web.get(priv, headers={"Authorization": "Bearer " + t}, timeout=5).status_code == 401
    t = _bearer(token_registry, "repository:private/secret:pull",
                (token_registry.reader, token_registry.reader_password)).json()["token"]  # type: ignore[arg-type]
    assert web.get(priv, headers={"Authorization": "Bearer " + t}, timeout=5).status_code == 401
    t = _bearer(token_registry, "repository:private/secret:pull",
                (token_registry.username, token_registry.password)).json()["token"]  # type: ignore[arg-type]
    assert web.get(priv, headers={"Authorization": "Bearer " + t, "Accept": ACCEPT_ALL}, timeout=5).status_code == 200
    assert ts.requests[-1].user == "bob" and ts.requests[-1].password_given
    # The password is never recorded.
    assert token_registry.password not in repr(ts.requests)

    bad = _bearer(token_registry, "repository:sample/oci-index:pull", ("bob", "wrong"))
    assert bad.status_code == 401


def test_token_header_kid_is_also_accepted(web: requests.Session) -> None:
    # Documents what distribution 2.8 accepts: a libtrust kid of a bundle cert works like x5c.
    with TokenServer(key_header="kid") as ts, RegistryServer(token=ts) as reg:
        token = ts.issue(None, ["repository:nothing/here:pull"])[0]
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert "kid" in header and "x5c" not in header
        r = web.get(reg.url + "/v2/nothing/here/tags/list", headers={"Authorization": "Bearer " + token}, timeout=5)
        assert r.status_code == 404  # authorized, then "repository unknown": the signature was accepted


def test_expired_token_is_refused(token_registry: LiveRegistry, web: requests.Session) -> None:
    ts = token_registry.token_server
    assert ts is not None
    token = ts.issue(None, ["repository:sample/oci-single:pull"], expires_in=-120)[0]
    r = web.get(_manifest_url(token_registry.url, "sample/oci-single:1.0"),
                 headers={"Authorization": "Bearer " + token}, timeout=5)
    assert r.status_code == 401


def test_distribution_refuses_schema1_and_unknown_media_types(plain_registry: LiveRegistry) -> None:
    c = plain_registry.client
    for signed in (False, True):
        body, mt = schema1_manifest("scratch/schema1", "v1", signed=signed)
        assert c.put_manifest_raw("scratch/schema1", "v1", body, mt).status_code == 400
    r = c.put_manifest_raw("scratch/unknown", "v1", b'{"schemaVersion":2,"mediaType":"application/x-nope"}',
                           "application/x-nope")
    assert r.status_code == 400


def test_missing_binary_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REGISTRY_BINARY_ENV, "no-such-docker-registry-binary")
    with pytest.raises(RegistryError, match="apt-get install docker-registry"):
        RegistryServer()


def test_context_manager_cleans_up(web: requests.Session) -> None:
    with RegistryServer() as reg:
        root = reg.root
        assert root is not None and (root / "config.yml").exists()
        assert web.get(reg.url + "/v2/", timeout=5).status_code == 200
    assert not reg.running
    assert not Path(root).exists()


def test_push_with_bearer_client(token_registry: LiveRegistry, unique_repo: str) -> None:
    c = RegistryClient(token_registry.url, token_registry.username, token_registry.password)
    img = c.push_image(unique_repo, "t", [b"layer-one", b"layer-two"], kind="docker")
    assert c.get_manifest(unique_repo, "t").headers["Docker-Content-Digest"] == img.digest
    reader = RegistryClient(token_registry.url, token_registry.reader, token_registry.reader_password)
    with pytest.raises(Exception, match="refused|failed"):
        reader.push_image("sample/not-allowed", "t", [b"x"])


# -- fault proxy ----------------------------------------------------------------------------

def test_proxy_passes_through_and_counts(fault_proxy: FaultProxy, plain_registry: LiveRegistry,
                                         web: requests.Session) -> None:
    key = "sample/oci-index:1.0"
    pushed = plain_registry.samples[key]  # type: ignore[index]
    url = _manifest_url(fault_proxy.url, key)
    head = web.head(url, headers={"Accept": ACCEPT_ALL}, timeout=5)
    direct = web.head(_manifest_url(plain_registry.url, key), headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert head.status_code == 200 and head.content == b""
    for h in ("Docker-Content-Digest", "Content-Type", "Content-Length", "Etag"):
        assert head.headers[h] == direct.headers[h]
    get = web.get(url, headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert get.content == pushed.body
    web.get(url, headers={"Accept": ACCEPT_ALL, "Authorization": "Bearer not-a-real-token"}, timeout=5)
    assert fault_proxy.counts_by_method() == {"HEAD": 1, "GET": 2}
    assert fault_proxy.count("GET", r"/manifests/") == 2
    seen = fault_proxy.seen()
    assert [s.has_authorization for s in seen] == [False, False, True]
    assert seen[2].auth_scheme == "Bearer" and "not-a-real-token" not in repr(seen)
    fault_proxy.reset()
    assert fault_proxy.count() == 0


def test_proxy_passes_www_authenticate(make_fault_proxy, token_registry: LiveRegistry,  # type: ignore[no-untyped-def]
                                       web: requests.Session) -> None:
    proxy = make_fault_proxy(token_registry)
    r = web.get(proxy.url + "/v2/", timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith(f'Bearer realm="{token_registry.token_server.realm}"')  # type: ignore


def test_push_through_proxy(fault_proxy: FaultProxy, unique_repo: str) -> None:
    c = RegistryClient(fault_proxy.url)
    img = c.push_image(unique_repo, "v1", [b"via-proxy"])
    assert c.get_manifest(unique_repo, "v1").headers["Docker-Content-Digest"] == img.digest
    counts = fault_proxy.counts_by_method()
    assert counts["POST"] == 2 and counts["PUT"] == 3  # 2 blob uploads + 1 manifest


def test_rate_limit_then_ok(fault_proxy: FaultProxy, web: requests.Session) -> None:
    fault_proxy.rate_limit(r"/manifests/", retry_after=2, times=2)
    url = _manifest_url(fault_proxy.url, "sample/oci-single:1.0")
    for _ in range(2):
        r = web.get(url, headers={"Accept": ACCEPT_ALL}, timeout=5)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        assert r.headers["ratelimit-remaining"].startswith("0")
    head = web.head(url, headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert head.status_code == 200
    assert [s.fault for s in fault_proxy.seen()] == ["rate_limit", "rate_limit", None]


def test_503_burst_only_on_matching_path(fault_proxy: FaultProxy, web: requests.Session) -> None:
    fault_proxy.fail(r"/blobs/", status=503, times=3, methods="GET")
    base = fault_proxy.url
    # Distribution 2.8 answers 404 for an OCI manifest when Accept does not list the OCI type.
    assert web.get(_manifest_url(base, "a/b/c/nested:1.0"), timeout=5).status_code == 404
    cfg = web.get(_manifest_url(base, "a/b/c/nested:1.0"), headers={"Accept": ACCEPT_ALL},
                   timeout=5).json()["config"]["digest"]
    statuses = [web.get(f"{base}/v2/a/b/c/nested/blobs/{cfg}", timeout=5).status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 200]


def test_stall_times_out_then_recovers(fault_proxy: FaultProxy, web: requests.Session) -> None:
    fault_proxy.stall(r"/manifests/", times=1)
    url = _manifest_url(fault_proxy.url, "sample/oci-single:1.0")
    t0 = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        web.get(url, timeout=(2, 0.4))
    assert time.monotonic() - t0 < 2
    assert web.get(url, headers={"Accept": ACCEPT_ALL}, timeout=5).status_code == 200


def test_delay_answers_late_but_correctly(fault_proxy: FaultProxy, plain_registry: LiveRegistry,
                                          web: requests.Session) -> None:
    fault_proxy.delay(r"/manifests/", seconds=0.3)
    t0 = time.monotonic()
    r = web.get(_manifest_url(fault_proxy.url, "sample/oci-single:1.0"), headers={"Accept": ACCEPT_ALL}, timeout=5)
    assert time.monotonic() - t0 >= 0.3
    assert r.headers["Docker-Content-Digest"] == plain_registry.samples["sample/oci-single:1.0"].digest  # type: ignore


def test_connection_reset(fault_proxy: FaultProxy, web: requests.Session) -> None:
    fault_proxy.reset_connection(r"/manifests/")
    url = _manifest_url(fault_proxy.url, "sample/oci-single:1.0")
    with pytest.raises(requests.ConnectionError):
        web.get(url, timeout=5)
    assert web.get(url, headers={"Accept": ACCEPT_ALL}, timeout=5).status_code == 200


def test_redirect_to_other_host_drops_authorization(make_fault_proxy, basic_registry: LiveRegistry,  # type: ignore
                                                    web: requests.Session) -> None:
    proxy = make_fault_proxy(basic_registry)
    proxy.redirect(r"/blobs/", status=307)
    assert basic_registry.samples is not None
    img = basic_registry.samples["sample/oci-single:1.0"]
    assert isinstance(img, PushedImage)
    creds = (basic_registry.username, basic_registry.password)
    url = f"{proxy.url}/v2/sample/oci-single/blobs/{img.config.digest}"
    first = web.get(url, auth=creds, allow_redirects=False, timeout=5)  # type: ignore[arg-type]
    assert first.status_code == 307
    target = proxy.redirect_target
    assert first.headers["Location"].startswith(target.url) and "127.0.0.1" not in target.url
    # requests (like a correct client) strips Authorization when the host changes.
    r = web.get(url, auth=creds, timeout=5)  # type: ignore[arg-type]
    assert r.status_code == 200 and sha256_digest(r.content) == img.config.digest
    assert proxy.seen()[-1].has_authorization
    assert target.requests and not target.authorization_seen
    # The recorder does notice an Authorization header that a careless client would forward.
    host, port = target.url.split("://")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", f"/v2/sample/oci-single/blobs/{img.config.digest}", headers={"Authorization": "Basic eDp5"})
    assert conn.getresponse().status == 200
    conn.close()
    assert target.authorization_seen


def test_canned_schema1_response_get_and_head(fault_proxy: FaultProxy, web: requests.Session) -> None:
    body, mt = schema1_manifest("sample/old", "v1", signed=True)
    fault_proxy.respond(r"^/v2/sample/old/manifests/v1$", status=200,
                        headers={"Content-Type": mt, "Docker-Content-Digest": sha256_digest(body)}, body=body)
    url = f"{fault_proxy.url}/v2/sample/old/manifests/v1"
    g = web.get(url, timeout=5)
    assert g.status_code == 200 and g.content == body and g.headers["Content-Type"] == mt
    h = web.head(url, timeout=5)
    assert h.status_code == 200 and h.content == b"" and int(h.headers["Content-Length"]) == len(body)
    assert h.headers["Docker-Content-Digest"] == sha256_digest(body)


def test_canned_wrong_digest_body(fault_proxy: FaultProxy, plain_registry: LiveRegistry,
                                  web: requests.Session) -> None:
    img = plain_registry.samples["sample/oci-single:1.0"]  # type: ignore[index]
    tampered = img.body.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
    fault_proxy.respond(f"/manifests/{img.digest}$", headers={"Content-Type": img.media_type,
                                                              "Docker-Content-Digest": img.digest}, body=tampered)
    r = web.get(f"{fault_proxy.url}/v2/sample/oci-single/manifests/{img.digest}", timeout=5)
    assert r.headers["Docker-Content-Digest"] == img.digest and sha256_digest(r.content) != img.digest


def test_registries_start_fast(plain_registry: LiveRegistry, basic_registry: LiveRegistry,
                               token_registry: LiveRegistry) -> None:
    # Not a benchmark: a guard that the session fixtures stay cheap enough to use everywhere.
    for reg in (plain_registry, basic_registry, token_registry):
        assert reg.start_seconds < 10 and reg.fill_seconds < 30, (reg.mode, reg.start_seconds, reg.fill_seconds)
    if os.environ.get("HARNESS_TIMINGS"):
        for reg in (plain_registry, basic_registry, token_registry):
            print(f"{reg.mode}: start {reg.start_seconds:.2f}s fill {reg.fill_seconds:.2f}s")


def test_fill_many_for_the_benchmark(plain_registry: LiveRegistry, web: requests.Session) -> None:
    t0 = time.monotonic()
    s = fill_many(plain_registry.client, 10, prefix="scratch/bench")
    assert time.monotonic() - t0 < 10
    kinds = [type(p).__name__ for p in s.images.values()]
    assert kinds.count("PushedIndex") == 5 and kinds.count("PushedImage") == 5
    assert s.refs()[0] == f"{plain_registry.host}/scratch/bench/app-000:v1"
    for key, pushed in s.images.items():
        r = web.head(_manifest_url(plain_registry.url, key), headers={"Accept": ACCEPT_ALL}, timeout=5)
        assert r.headers["Docker-Content-Digest"] == pushed.digest


def test_redirect_on_token_registry_serves_content(make_fault_proxy, token_registry: LiveRegistry,  # type: ignore
                                                   web: requests.Session) -> None:
    # The redirect target fetches with the harness's own token, like a pre-signed storage URL.
    proxy = make_fault_proxy(token_registry)
    proxy.redirect(r"/manifests/", status=302)
    key = "sample/docker-list:1.0"
    token = _bearer(token_registry, "repository:sample/docker-list:pull").json()["token"]
    r = web.get(_manifest_url(proxy.url, key), headers={"Accept": ACCEPT_ALL, "Authorization": "Bearer " + token},
                timeout=5)
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == token_registry.samples[key].digest  # type: ignore
    assert r.history[0].status_code == 302
    assert proxy.seen()[0].has_authorization and not proxy.redirect_target.authorization_seen


# -- the puller (what the emulated cloud pulls with) ---------------------------------------------------

@pytest.mark.parametrize(("key", "platform", "wanted"), [
    ("sample/oci-single:1.0", "linux/amd64", None),
    ("sample/docker-single:1.0", "linux/amd64", None),
    ("sample/oci-index:1.0", "linux/amd64", "linux/amd64"),
    ("sample/oci-index:1.0", "linux/arm64", "linux/arm64/v8"),  # arm64 means v8
    ("sample/docker-list:1.0", "linux/arm/v7", "linux/arm/v7"),
])
def test_puller_resolves_the_platforms_manifest(plain_registry: LiveRegistry, key: str, platform: str,
                                                wanted: str | None) -> None:
    samples = plain_registry.samples
    assert samples is not None
    pushed = samples[key]
    image = pushed.for_platform(wanted) if isinstance(pushed, PushedIndex) and wanted else pushed
    assert isinstance(image, PushedImage)
    repo, _, tag = key.rpartition(":")
    puller = RegistryClient(plain_registry.url, actions="pull")
    got = puller.pull_image(repo, tag, platform)
    assert (got.digest, got.config, got.layers, got.size) == (image.digest, image.config, image.layers, image.size)
    assert puller.pull_image(repo, pushed.digest, platform).digest == image.digest  # by digest as well
    blob = b"".join(puller.pull_blob(repo, image.layers[0].digest))
    assert sha256_digest(blob) == image.layers[0].digest


def test_puller_errors_are_typed(plain_registry: LiveRegistry, basic_registry: LiveRegistry,
                                 token_registry: LiveRegistry) -> None:
    def kind(client: RegistryClient, repo: str, ref: str = "1.0", platform: str = "linux/amd64") -> str:
        with pytest.raises(PullError) as exc:
            client.pull_image(repo, ref, platform)
        return exc.value.kind

    plain = RegistryClient(plain_registry.url, actions="pull")
    assert kind(plain, "sample/nope") == "not found"
    assert kind(plain, "sample/arm-only") == "not found"  # no linux/amd64 entry
    assert kind(plain, "sample/oci-index", platform="windows/amd64") == "not found"
    assert kind(RegistryClient(basic_registry.url, actions="pull"), "sample/oci-single") == "unauthorized"
    assert kind(RegistryClient(basic_registry.url, "alice", "wrong", actions="pull"), "sample/oci-single") \
        == "unauthorized"
    anonymous = RegistryClient(token_registry.url, actions="pull")
    assert anonymous.pull_image("sample/oci-single", "1.0").size > 0  # public
    assert kind(anonymous, "private/secret") == "unauthorized"
    reader = RegistryClient(token_registry.url, token_registry.reader, token_registry.reader_password, actions="pull")
    assert reader.pull_image("a/b/c/nested", "1.0").size > 0
    assert kind(RegistryClient(token_registry.url, "bob", "wrong", actions="pull"), "sample/oci-single") \
        == "unauthorized"
    with pytest.raises(PullError) as exc:
        list(plain.pull_blob("sample/oci-single", "sha256:" + "0" * 64))
    assert exc.value.kind == "not found"
