"""Registry authentication against real registries: htpasswd Basic, and the Bearer token flow.

Credentials reach the client only the way users give them: a Docker config file (auths with
``auth`` or username/password, credHelpers running a real helper program found on PATH).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from kubectl_imagecache.errors import NotFound, Unauthorized
from kubectl_imagecache.registry.client import ClientOptions, ImageInfo, RegistryClient
from kubectl_imagecache.registry.credentials import CredentialStore, load_docker_config
from kubectl_imagecache.registry.reference import parse_reference
from kubectl_imagecache.registry.transport import TransportOptions
from tests.fakes.faultproxy import FaultProxy
from tests.fakes.oci import PushedIndex
from tests.fakes.registry import LiveRegistry

FAST = TransportOptions(timeout=5.0, retries=1, backoff=0.01, retry_after_cap=1)


def write_config(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def auth_field(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def make_client(config: Path, *, concurrency: int = 8) -> RegistryClient:
    opts = ClientOptions(transport=TransportOptions(**{**FAST.__dict__, "concurrency": concurrency}))
    return RegistryClient(opts, CredentialStore(load_docker_config(str(config))))


def inspect(client: RegistryClient, ref: str) -> ImageInfo:
    return client.inspect(parse_reference(ref))


def token_scopes(reg: LiveRegistry) -> list[str]:
    assert reg.token_server is not None
    return [s for r in reg.token_server.requests for s in r.scopes]


# -- Basic (htpasswd) ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["auth", "fields"])
def test_basic_with_docker_config(basic_registry: LiveRegistry,
                                  make_fault_proxy: Callable[[LiveRegistry], FaultProxy],
                                  tmp_path: Path, entry: str) -> None:
    assert basic_registry.username and basic_registry.password
    proxy = make_fault_proxy(basic_registry)
    user, pw = basic_registry.username, basic_registry.password
    creds = auth_field(user, pw) if entry == "auth" else {"username": user, "password": pw}
    client = make_client(write_config(tmp_path, {"auths": {proxy.host: creds}}))
    s = basic_registry.samples
    assert s is not None
    info = inspect(client, f"{proxy.host}/sample/oci-single:1.0")
    assert info.digest == s["sample/oci-single:1.0"].digest
    # The first request learns the challenge (401); from then on Basic goes up front (the config too).
    assert [(r.status, r.auth_scheme) for r in proxy.requests] == [(401, None), (200, "Basic"), (200, "Basic")]
    proxy.reset()
    info = inspect(client, f"{proxy.host}/a/b/c/nested:1.0")
    assert info.size_bytes == s["a/b/c/nested:1.0"].size  # type: ignore[union-attr]
    assert [(r.status, r.auth_scheme) for r in proxy.requests] == [(200, "Basic"), (200, "Basic")]


def test_basic_wrong_password_is_unauthorized_and_says_what_was_tried(basic_registry: LiveRegistry,
                                                                      tmp_path: Path) -> None:
    assert basic_registry.username
    wrong = "not-the-password-" + os.urandom(4).hex()
    config = write_config(tmp_path, {"auths": {basic_registry.host: auth_field(basic_registry.username, wrong)}})
    with pytest.raises(Unauthorized) as exc:
        inspect(make_client(config), f"{basic_registry.host}/sample/oci-single:1.0")
    msg = str(exc.value)
    assert str(config) in msg  # the source tried, by file...
    assert basic_registry.host in msg  # ...and auths key
    assert f"docker login {basic_registry.host}" in msg
    assert "--registry-config" in msg and "--pull-secret" in msg
    for secret in (wrong, basic_registry.password):
        assert secret not in msg and secret not in repr(exc.value)
    assert base64.b64encode(f"{basic_registry.username}:{wrong}".encode()).decode() not in msg


def test_basic_without_credentials_says_anonymous(basic_registry: LiveRegistry, tmp_path: Path) -> None:
    with pytest.raises(Unauthorized) as exc:
        inspect(make_client(write_config(tmp_path, {})), f"{basic_registry.host}/sample/oci-single:1.0")
    assert "anonymous" in str(exc.value)
    assert "docker login" in str(exc.value)


def test_credential_helper_from_cred_helpers(basic_registry: LiveRegistry, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert basic_registry.username and basic_registry.password
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "helper-calls.log"
    helper = bindir / "docker-credential-xyz"
    # A real program on PATH, run the way docker runs helpers: "get" argument, server on stdin.
    helper.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "server = sys.stdin.read().strip()\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + ' ' + server + '\\n')\n"
        f"if sys.argv[1:] == ['get'] and server == {basic_registry.host!r}:\n"
        f"    print(json.dumps({{'Username': {basic_registry.username!r}, 'Secret': {basic_registry.password!r}}}))\n"
        "else:\n"
        "    print('credentials not found in native keychain'); sys.exit(1)\n"
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    client = make_client(write_config(tmp_path, {"credHelpers": {basic_registry.host: "xyz"}}))
    s = basic_registry.samples
    assert s is not None
    for key in ("sample/oci-single:1.0", "sample/docker-single:1.0", "a/b/c/nested:1.0"):
        assert inspect(client, basic_registry.ref(key)).digest == s[key].digest
    # Asked once for the whole run, however many images.
    assert calls.read_text().splitlines() == [f"get {basic_registry.host}"]


# -- Bearer tokens -----------------------------------------------------------------------------------

def test_token_anonymous_pull_of_public_repository(token_registry: LiveRegistry, tmp_path: Path) -> None:
    s = token_registry.samples
    assert s is not None and token_registry.token_server is not None
    token_registry.token_server.reset_requests()
    info = inspect(make_client(write_config(tmp_path, {})), token_registry.ref("sample/docker-list:1.0"))
    pushed = s["sample/docker-list:1.0"]
    assert isinstance(pushed, PushedIndex)
    assert info.digest == pushed.digest and info.platform_digest == pushed.platform_digest()
    reqs = token_registry.token_server.requests
    assert [(r.user, r.scopes) for r in reqs] == [(None, ["repository:sample/docker-list:pull"])]


def test_token_private_repository_refuses_anonymous(token_registry: LiveRegistry, tmp_path: Path) -> None:
    assert token_registry.token_server is not None
    token_registry.token_server.reset_requests()
    with pytest.raises(Unauthorized) as exc:
        inspect(make_client(write_config(tmp_path, {})), token_registry.ref("private/secret:1.0"))
    assert "anonymous" in str(exc.value) and "docker login" in str(exc.value)
    # An anonymous token that was refused is not asked for again and again.
    assert len(token_registry.token_server.requests) == 1


def test_token_private_repository_with_credentials(token_registry: LiveRegistry, tmp_path: Path) -> None:
    s = token_registry.samples
    assert s is not None and token_registry.username and token_registry.password
    assert token_registry.token_server is not None
    token_registry.token_server.reset_requests()
    config = write_config(tmp_path, {"auths": {token_registry.host: auth_field(token_registry.username,
                                                                               token_registry.password)}})
    info = inspect(make_client(config), token_registry.ref("private/secret:1.0"))
    assert info.digest == s["private/secret:1.0"].digest
    assert info.size_bytes == s["private/secret:1.0"].size  # type: ignore[union-attr]
    reqs = token_registry.token_server.requests
    assert [(r.user, r.password_given, r.status) for r in reqs] == [(token_registry.username, True, 200)]


def test_token_reader_may_not_pull_private(token_registry: LiveRegistry, tmp_path: Path) -> None:
    assert token_registry.reader and token_registry.reader_password
    config = write_config(tmp_path, {"auths": {token_registry.host: {
        "username": token_registry.reader, "password": token_registry.reader_password}}})
    client = make_client(config)
    # The same credentials pull public images...
    inspect(client, token_registry.ref("sample/oci-single:1.0"))
    with pytest.raises(Unauthorized) as exc:
        inspect(client, token_registry.ref("private/secret:1.0"))
    assert str(config) in str(exc.value)
    assert token_registry.reader_password not in str(exc.value)


def test_token_wrong_password(token_registry: LiveRegistry, tmp_path: Path) -> None:
    assert token_registry.username and token_registry.token_server is not None
    wrong = "wrong-" + os.urandom(4).hex()
    config = write_config(tmp_path, {"auths": {token_registry.host: auth_field(token_registry.username, wrong)}})
    with pytest.raises(Unauthorized) as exc:
        inspect(make_client(config), token_registry.ref("private/secret:1.0"))
    msg = str(exc.value)
    assert str(config) in msg and "anonymous" in msg
    assert wrong not in msg


def test_tokens_fetched_once_per_scope(token_registry: LiveRegistry, tmp_path: Path) -> None:
    assert token_registry.token_server is not None
    token_registry.token_server.reset_requests()
    client = make_client(write_config(tmp_path, {}))
    for key in ("sample/oci-single:1.0", "sample/oci-single:latest", "sample/oci-index:1.0",
                "sample/oci-single:1.0", "sample/oci-index:1.0"):
        inspect(client, token_registry.ref(key))
    assert token_scopes(token_registry) == ["repository:sample/oci-single:pull", "repository:sample/oci-index:pull"]


def test_tokens_once_per_scope_under_concurrency(token_registry: LiveRegistry, tmp_path: Path) -> None:
    s = token_registry.samples
    assert s is not None and token_registry.token_server is not None
    token_registry.token_server.reset_requests()
    # Many images of few repositories, all started at once: threads must share the token.
    keys = ["sample/oci-single:1.0", "sample/oci-single:latest", "sample/oci-index:1.0", "sample/docker-list:1.0",
            "a/b/c/nested:1.0"] * 3
    client = make_client(write_config(tmp_path, {}), concurrency=8)
    results = client.inspect_many([(k, parse_reference(token_registry.ref(k))) for k in keys])
    for key, r in zip(keys, results):
        assert r.error is None, f"{key}: {r.error}"
        assert r.info is not None and r.info.digest == s[key].digest
    scopes = token_scopes(token_registry)
    assert sorted(scopes) == sorted({f"repository:{k.rpartition(':')[0]}:pull" for k in keys})


def test_inspect_many_token_registry_isolates_failures(token_registry: LiveRegistry, tmp_path: Path) -> None:
    s = token_registry.samples
    assert s is not None
    refs = s.refs()
    items = [(r, parse_reference(r)) for r in refs]
    sequential = make_client(write_config(tmp_path, {}), concurrency=1).inspect_many(items)
    concurrent = make_client(write_config(tmp_path, {}), concurrency=8).inspect_many(items)

    def summary(results: list) -> list[tuple[str, Optional[str], str]]:
        return [(r.image, r.info.platform_digest if r.info else None, type(r.error).__name__) for r in results]

    assert summary(concurrent) == summary(sequential)
    for key, r in zip(s.images, concurrent):
        if key == "private/secret:1.0":
            assert isinstance(r.error, Unauthorized)
        elif key == "sample/arm-only:1.0":
            assert r.error is not None and r.info is None
        else:
            assert r.info is not None and r.info.digest == s[key].digest


# -- identity tokens (OAuth2 refresh-token grant) ---------------------------------------------------
#
# The harness token service answers GET only (its handler has no do_POST), so a refresh-token
# grant against it gets 501, as from any token service without the grant. A second proxy in
# front of the token service lets us also answer 400 invalid_grant, what an OAuth2 service says
# for an expired identity token. In both cases the identity token is a refused credential: the
# client goes on anonymously (public pull works) and a 401 names the identity token's source.

@pytest.mark.parametrize("token_answer", ["no-grant-501", "invalid-grant-400"])
def test_refused_identity_token_falls_back_and_is_named(token_registry: LiveRegistry, tmp_path: Path,
                                                        token_answer: str) -> None:
    ts = token_registry.token_server
    assert ts is not None
    with FaultProxy(token_registry.url) as registry_proxy, FaultProxy(ts.url) as realm_proxy:
        if token_answer == "invalid-grant-400":
            realm_proxy.respond("/token", methods="POST", status=400,
                                headers={"Content-Type": "application/json"},
                                body=b'{"error":"invalid_grant","error_description":"refresh token expired"}')
        # The registry's challenge names the token service directly: answer the first request with
        # a challenge naming the realm proxy instead, so the client's token requests are seen there.
        registry_proxy.respond("/v2/.*/manifests/", methods="GET", status=401, times=1, headers={
            "Content-Type": "application/json",
            "WWW-Authenticate": f'Bearer realm="{realm_proxy.url}/token",service="{ts.service}"'})
        identity = {"identitytoken": "idt-" + os.urandom(6).hex()}
        config = write_config(tmp_path, {"auths": {registry_proxy.host: identity}})
        client = make_client(config)
        s = token_registry.samples
        assert s is not None
        info = inspect(client, f"{registry_proxy.host}/sample/oci-single:1.0")
        assert info.digest == s["sample/oci-single:1.0"].digest
        assert [r.method for r in realm_proxy.requests] == ["POST", "GET"]  # grant refused, then anonymous
        assert not realm_proxy.requests[1].has_authorization
        with pytest.raises(Unauthorized) as exc:
            inspect(client, f"{registry_proxy.host}/private/secret:1.0")
        assert str(config) in str(exc.value)
        # A refused identity token is not offered again for other repositories.
        assert [r.method for r in realm_proxy.requests] == ["POST", "GET", "GET"]


def test_token_registry_missing_repository_and_tag(token_registry: LiveRegistry, tmp_path: Path) -> None:
    # The tag-list probe that tells them apart must carry the same token as the manifest request.
    assert token_registry.username and token_registry.password
    config = write_config(tmp_path, {"auths": {token_registry.host: auth_field(token_registry.username,
                                                                               token_registry.password)}})
    client = make_client(config)
    with pytest.raises(NotFound) as exc:
        inspect(client, f"{token_registry.host}/sample/never-pushed:1.0")
    assert str(exc.value).startswith(f"repository {token_registry.host}/sample/never-pushed not found")
    with pytest.raises(NotFound) as exc:
        inspect(client, f"{token_registry.host}/private/secret:9.9")
    assert "tag 9.9 not found" in str(exc.value)
