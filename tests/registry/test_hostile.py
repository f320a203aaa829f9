"""The hostile-registry tier: every bad answer of issue 9, served on loopback by tests/fakes/hostile.py.

Each test states what a registry may do to us and what the plugin must do instead: a typed error
for that one image (never a traceback), bounded memory and time, nothing poisoned in the cache,
nothing raw on the terminal. In-process through RegistryClient where the error type is the point,
through the real command where the terminal is.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Iterator, Optional

import pytest

from kubectl_imagecache.errors import (
    BadResponse,
    DigestMismatch,
    ImageCacheError,
    RegistryError,
    ResponseTooLarge,
    Unreachable,
    UnsupportedManifest,
)
from kubectl_imagecache.registry.cache import MetadataCache
from kubectl_imagecache.registry.client import ClientOptions, ImageInfo, RegistryClient
from kubectl_imagecache.registry.credentials import CredentialStore, load_docker_config
from kubectl_imagecache.registry.net.body import BrokenBody
from kubectl_imagecache.registry.reference import parse_reference
from kubectl_imagecache.registry.transport import TransportOptions
from tests.fakes.dns import LoopbackDNS
from tests.fakes.hostile import (
    OCI_INDEX,
    OCI_MANIFEST,
    Conn,
    HostileRegistry,
    Request,
    canonical,
    endless,
    gzip_bomb,
    http,
    raw,
    respond,
    sha256,
    stall,
    trickle,
)
from tests.support.cli import run

MIB = 1 << 20


@pytest.fixture
def reg() -> Iterator[HostileRegistry]:
    with HostileRegistry() as r:
        yield r


def client(tmp_path: Path, *, auths: Optional[dict] = None, cache: Optional[MetadataCache] = None,
           **transport: object) -> RegistryClient:
    settings: dict[str, object] = {"timeout": 5.0, "retries": 1, "backoff": 0.01, "retry_after_cap": 2}
    settings.update(transport)
    config = tmp_path / "docker-config.json"
    config.write_text(json.dumps({"auths": auths or {}}))
    return RegistryClient(ClientOptions(transport=TransportOptions(**settings)),  # type: ignore[arg-type]
                          CredentialStore(load_docker_config(str(config))), cache)


def inspect(c: RegistryClient, ref: str) -> ImageInfo:
    return c.inspect(parse_reference(ref))


def manifest_head(length: Optional[int] = None, extra: str = "") -> bytes:
    cl = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\n{cl}{extra}Connection: close\r\n\r\n").encode()


# -- bounded bodies -------------------------------------------------------------------------------------

def test_manifest_declared_over_4_mib_is_refused_unread(reg: HostileRegistry, tmp_path: Path) -> None:
    reg.on(r"/manifests/1$", endless(manifest_head(64 * MIB)))
    cache = MetadataCache(tmp_path / "cache")
    t0 = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="4194304"):
        inspect(client(tmp_path, cache=cache), f"{reg.host}/app:1")
    assert time.monotonic() - t0 < 2
    assert cache.get_tag(reg.host, "app", "1") is None


def test_endless_manifest_without_length_stops_at_the_limit(reg: HostileRegistry, tmp_path: Path) -> None:
    reg.on(r"/manifests/1$", endless(manifest_head()))
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge):
            inspect(client(tmp_path), f"{reg.host}/app:1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MIB


def test_gzip_bomb_is_refused_at_the_limit_not_inflated(reg: HostileRegistry, tmp_path: Path) -> None:
    bomb = gzip_bomb(300)  # about 300 KiB that inflate to 300 MiB
    assert len(bomb) < 400 * 1024
    reg.on(r"/manifests/1$", raw(manifest_head(len(bomb), "Content-Encoding: gzip\r\n") + bomb))
    cache = MetadataCache(tmp_path / "cache")
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge, match="after decompression"):
            inspect(client(tmp_path, cache=cache), f"{reg.host}/app:1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MIB, f"{peak / MIB:.0f} MiB in memory for a 300 MiB bomb"
    assert cache.get_tag(reg.host, "app", "1") is None


def test_error_bodies_are_bounded_and_their_status_reported(reg: HostileRegistry, tmp_path: Path) -> None:
    # An endless error body is read only to 64 KiB, and the status is what the user is told.
    reg.on(r"/manifests/1$", endless(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"))
    big = b'{"errors":[{"code":"UNAVAILABLE","message":"' + b"x" * (100 * 1024) + b'"}]}'
    reg.on(r"/manifests/2$", raw(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n" % len(big) + big))
    t0 = time.monotonic()
    with pytest.raises(RegistryError) as missing:
        inspect(client(tmp_path), f"{reg.host}/app:1")
    assert time.monotonic() - t0 < 2
    assert not isinstance(missing.value, ResponseTooLarge) and "not found" in missing.value.message.lower()
    with pytest.raises(RegistryError) as failed:
        inspect(client(tmp_path, retries=0), f"{reg.host}/app:2")
    assert not isinstance(failed.value, ResponseTooLarge) and "500" in failed.value.message
    assert len(failed.value.message) < 1000


def test_config_declared_over_4_mib_is_never_fetched(reg: HostileRegistry, tmp_path: Path) -> None:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"c"),
                      "size": 5 * MIB}, "layers": []}
    reg.push_manifest("app", canonical(doc), OCI_MANIFEST, tag="1")
    with pytest.raises(ResponseTooLarge, match="config"):
        inspect(client(tmp_path), f"{reg.host}/app:1")
    assert reg.seen("/blobs/") == []


def test_token_response_over_1_mib_is_refused(tmp_path: Path) -> None:
    with HostileRegistry(token_auth=True) as reg:
        reg.push_image("app", "1")
        reg.on(r"^/token", endless(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"))
        with pytest.raises(ResponseTooLarge, match="1048576"):
            inspect(client(tmp_path), f"{reg.host}/app:1")


# -- the HTTP stack's failures, each a typed error for that image ---------------------------------------------

# name -> (the answer, the error it must give, the requests it may cost: a malformed answer is not retried,
# a connection closed or cut short is, once, as client() allows)
BAD_ANSWERS: dict[str, tuple[bytes, type[RegistryError], int]] = {
    "chunked encoding": (manifest_head(extra="Transfer-Encoding: chunked\r\n") + b"zz\r\nxx\r\n0\r\n\r\n",
                         BrokenBody, 2),
    "chunk cut short": (manifest_head(extra="Transfer-Encoding: chunked\r\n") + b"100\r\n{\"a\":", BrokenBody, 2),
    # urllib3 ignores a Content-Length that is no number and reads to the end: "{}" is no manifest.
    "invalid Content-Length": (manifest_head(extra="Content-Length: abc\r\n") + b"{}", UnsupportedManifest, 1),
    "duplicate Content-Length": (manifest_head(extra="Content-Length: 2\r\nContent-Length: 7\r\n") + b"{}",
                                 BadResponse, 1),
    "body shorter than its length": (manifest_head(100) + b"{}", BrokenBody, 2),
    "garbage status line": (b"HTTP/1.1 two hundred OK\r\n\r\n{}", BadResponse, 1),
    "not HTTP at all": (b"SSH-2.0-OpenSSH_9.6\r\n", BadResponse, 1),
    "header line of 100 KiB": (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 100_000 + b"\r\n\r\n", BadResponse, 1),
    "too many headers": (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
                         BadResponse, 1),
    # http.client stops reading headers at the line: the rest is body, without a Content-Type.
    "header without colon": (b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\n{}",
                             UnsupportedManifest, 1),
    "closed without answer": (b"", Unreachable, 2),
    "undecodable gzip": (manifest_head(4, "Content-Encoding: gzip\r\n") + b"nope", BrokenBody, 1),
}


@pytest.mark.parametrize("name", list(BAD_ANSWERS))
def test_broken_http_is_a_typed_error(reg: HostileRegistry, tmp_path: Path, name: str) -> None:
    answer, error_type, requests = BAD_ANSWERS[name]
    reg.on(r"/manifests/1$", raw(answer))
    with pytest.raises(ImageCacheError) as exc:
        inspect(client(tmp_path), f"{reg.host}/app:1")
    assert type(exc.value) is error_type, exc.value.message
    assert "Traceback" not in exc.value.message and "\n" not in exc.value.message
    assert len(reg.seen("/manifests/1")) == requests


@pytest.mark.parametrize("value", ["soon", "1e999", "-1", "Thu, 01 Jan 1970 00:00:00 GMT", "9" * 40])
def test_unusable_retry_after_is_ignored(reg: HostileRegistry, tmp_path: Path, value: str) -> None:
    image = reg.push_image("app", "1")
    reg.on(r"/manifests/1$", respond(503, headers={"Retry-After": value}), times=1)
    info = inspect(client(tmp_path), f"{reg.host}/app:1")
    assert info.digest == image["digest"]


def test_retry_after_is_honoured(reg: HostileRegistry, tmp_path: Path) -> None:
    reg.push_image("app", "1")
    reg.on(r"/manifests/1$", respond(429, headers={"Retry-After": "1"}), times=1)
    t0 = time.monotonic()
    inspect(client(tmp_path), f"{reg.host}/app:1")
    assert 0.9 <= time.monotonic() - t0 < 3


def test_redirect_loop_is_refused(reg: HostileRegistry, tmp_path: Path) -> None:
    reg.on(r"/manifests/1$", respond(302, headers={"Location": "/v2/app/manifests/1"}))
    with pytest.raises(BadResponse, match="redirect loop"):
        inspect(client(tmp_path), f"{reg.host}/app:1")
    assert len(reg.seen("/manifests/1")) == 11


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
def test_redirect_to_another_scheme_is_refused(reg: HostileRegistry, tmp_path: Path, location: str) -> None:
    reg.on(r"/manifests/1$", respond(302, headers={"Location": location}))
    with pytest.raises(BadResponse, match="only http and https"):
        inspect(client(tmp_path), f"{reg.host}/app:1")


@pytest.mark.parametrize("location, flaw", [
    ("http://[evil/x", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/x", "Port out of range"),
    ("http://a b/x", "invalid character"),
    ("http://[\x1b[2J/x", "Invalid IPv6 URL"),
])
def test_redirect_to_an_invalid_url_is_a_broken_answer(reg: HostileRegistry, tmp_path: Path, location: str,
                                                       flaw: str) -> None:
    reg.on(r"/manifests/1$", respond(307, headers={"Location": location}))
    with pytest.raises(BadResponse) as exc:
        inspect(client(tmp_path), f"{reg.host}/app:1")
    msg = exc.value.message
    assert "redirected to an invalid URL" in msg and flaw in msg, msg
    assert "\x1b" not in msg and (location.isprintable() or "\\u001b" in msg), msg
    assert len(reg.seen("/manifests/1")) == 1


@pytest.mark.parametrize("body", [b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_deeply_nested_json_is_refused(reg: HostileRegistry, tmp_path: Path, body: bytes) -> None:
    reg.push_manifest("app", body, OCI_MANIFEST, tag="1")
    with pytest.raises(UnsupportedManifest, match="not JSON"):
        inspect(client(tmp_path), f"{reg.host}/app:1")


@pytest.mark.parametrize("size", ["1" + "0" * 400, "1e400", "9223372036854775808"])
def test_sizes_too_large_for_a_float_or_int64_are_refused(reg: HostileRegistry, tmp_path: Path, size: str) -> None:
    image = reg.push_image("app")
    body = image["body"].replace(b'"size":9', b'"size":' + size.encode(), 1)
    assert body != image["body"]
    reg.push_manifest("app", body, OCI_MANIFEST, tag="1")
    with pytest.raises(UnsupportedManifest, match="valid size"):
        inspect(client(tmp_path), f"{reg.host}/app:1")


def test_huge_sizes_through_the_command_are_one_error_line(reg: HostileRegistry, tmp_path: Path) -> None:
    image = reg.push_image("app")
    reg.push_manifest("app", image["body"].replace(b'"size":9', b'"size":' + b"9" * 400, 1), OCI_MANIFEST, tag="1")
    good = reg.push_image("good", "1")
    r = run(["estimate", "-o", "json", f"{reg.host}/app:1", f"{reg.host}/good:1"], home=tmp_path)
    assert r.code == 1, r
    assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1
    assert [i["digest"] for i in r.json()["images"]] == [good["digest"]]  # the good one still reported


# -- tokens -----------------------------------------------------------------------------------------------

def _token_answer(doc: dict) -> respond:  # type: ignore[valid-type]
    return respond(200, doc, {"Content-Type": "application/json"})


def test_expires_in_1e999_is_just_a_long_lived_token(tmp_path: Path) -> None:
    with HostileRegistry(token_auth=True) as reg:
        image = reg.push_image("app", "1")
        reg.on(r"^/token", raw(http(200, b'{"token":"abc","expires_in":1e999}')))
        reg.tokens["abc"] = ""
        assert inspect(client(tmp_path), f"{reg.host}/app:1").digest == image["digest"]


def test_token_with_crlf_is_refused_and_never_printed(tmp_path: Path) -> None:
    with HostileRegistry(token_auth=True) as reg:
        reg.push_image("app", "1")
        reg.on(r"^/token", _token_answer({"token": "SECRETTOKEN\r\nX-Injected: yes"}))
        with pytest.raises(BadResponse) as exc:
            inspect(client(tmp_path), f"{reg.host}/app:1")
        assert "SECRETTOKEN" not in exc.value.message
        assert not any("x-injected" in r.headers for r in reg.requests)
        r = run(["estimate", f"{reg.host}/app:1"], home=tmp_path)
        assert r.code == 1 and "SECRETTOKEN" not in r.stdout + r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("realm", ["http://[evil/token", "http://127.0.0.1:99999/token"])
def test_token_realm_that_is_no_url_is_a_broken_answer(reg: HostileRegistry, tmp_path: Path, realm: str) -> None:
    reg.on(r"/manifests/1$", respond(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="x"'}))
    with pytest.raises(BadResponse, match="token service at an invalid URL") as exc:
        inspect(client(tmp_path), f"{reg.host}/app:1")
    assert realm in exc.value.message


def test_a_failing_token_service_fails_only_the_images_that_need_a_token(reg: HostileRegistry,
                                                                         tmp_path: Path) -> None:
    # Once a challenge is known, later images fetch a token before their first request; the
    # challenge was a's, b needs no token: its estimate must not hang on a's token service.
    reg.on(r"^/v2/a/", respond(401, headers={"WWW-Authenticate": f'Bearer realm="http://{reg.host}/token"'}))
    reg.on(r"^/token", respond(500))
    b = reg.push_image("b", "1")
    r = run(["estimate", "-o", "json", "--no-cache", "--concurrency", "1", f"{reg.host}/a:1", f"{reg.host}/b:1"],
            home=tmp_path)
    assert r.code == 5, r
    assert [i["digest"] for i in r.json()["images"]] == [b["digest"]]
    errors = r.stderr.splitlines()
    assert len(errors) == 1 and f"{reg.host}/a:1" in errors[0] and "token service" in errors[0], r.stderr
    assert "HTTP 500" in errors[0], r.stderr


def test_non_latin1_password_reaches_the_token_service_as_utf8(tmp_path: Path) -> None:
    import base64

    with HostileRegistry(token_auth=True) as reg:
        image = reg.push_image("app", "1")
        auths = {reg.host: {"auth": base64.b64encode("ユーザー:пароль✓".encode()).decode()}}
        assert inspect(client(tmp_path, auths=auths), f"{reg.host}/app:1").digest == image["digest"]
        sent = [r.authorization for r in reg.seen("^/token")]
        assert sent and base64.b64decode((sent[0] or "")[6:]).decode() == "ユーザー:пароль✓"


# -- digests and escaping --------------------------------------------------------------------------------

def test_traversal_digest_in_an_index_never_becomes_a_request(reg: HostileRegistry, tmp_path: Path) -> None:
    body = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:x/../../admin/secrets?", "size": 10,
         "platform": {"os": "linux", "architecture": "amd64"}}]})
    reg.push_manifest("app", body, OCI_INDEX, tag="1")
    auths = {reg.host: {"username": "u", "password": "p"}}
    with pytest.raises(UnsupportedManifest, match="valid digest"):
        inspect(client(tmp_path, auths=auths), f"{reg.host}/app:1")
    assert not [r for r in reg.requests if "admin" in r.target or "secrets" in r.target]


def test_sha512_descriptors_are_fetched_and_verified(reg: HostileRegistry, tmp_path: Path) -> None:
    def sha512(data: bytes) -> str:
        return "sha512:" + hashlib.sha512(data).hexdigest()

    config = canonical({"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []}})
    layer = b"L" * 10
    reg.blobs[f"app@{sha512(config)}"] = config
    manifest = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": sha512(config), "size": len(config)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                      "digest": sha512(layer), "size": len(layer)}]})
    reg.manifests[f"app@{sha512(manifest)}"] = (OCI_MANIFEST, manifest)
    reg.push_manifest("app", canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha512(manifest), "size": len(manifest),
         "platform": {"os": "linux", "architecture": "amd64"}}]}), OCI_INDEX, tag="1")
    info = inspect(client(tmp_path), f"{reg.host}/app:1")
    assert info.platform_digest == sha512(manifest) and info.size_bytes == len(config) + len(layer)
    # Named by its digest, the manifest's platform comes from its sha512 config.
    assert inspect(client(tmp_path), f"{reg.host}/app@{sha512(manifest)}").platform_digest == sha512(manifest)
    assert any(r.target.endswith(f"/blobs/{sha512(config)}") for r in reg.requests)
    # A body that does not hash to its sha512 digest is refused, as for sha256.
    reg.manifests[f"app@{sha512(manifest)}"] = (OCI_MANIFEST, manifest + b" ")
    with pytest.raises(DigestMismatch):
        inspect(client(tmp_path), f"{reg.host}/app@{sha512(manifest)}")


def test_platforms_are_shown_as_containerd_names_them(reg: HostileRegistry, tmp_path: Path) -> None:
    reg.push_image("x86", "1", platform="linux/x86_64")  # a config spelling the alias
    x86 = reg.push_image("multi", platform="linux/x86_64")
    reg.push_manifest("multi", canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": x86["digest"], "size": len(x86["body"]),
         "platform": {"os": "Linux", "architecture": "x86_64"}}]}), OCI_INDEX, tag="1")
    assert str(inspect(client(tmp_path), f"{reg.host}/multi:1").platform) == "linux/amd64"
    assert str(inspect(client(tmp_path), f"{reg.host}/x86:1").platform) == "linux/amd64"


def test_lying_digest_header_that_is_no_digest_is_ignored(reg: HostileRegistry, tmp_path: Path) -> None:
    image = reg.push_image("app")
    reg.on(r"/manifests/1$", respond(200, image["body"], {
        "Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:../../x"}))
    assert inspect(client(tmp_path), f"{reg.host}/app:1").digest == image["digest"]


def test_registry_strings_are_escaped_on_the_terminal(reg: HostileRegistry, tmp_path: Path) -> None:
    evil = "application/x\x1b[2J\r\nerror: everything is fine\x07"
    reg.push_manifest("odd", canonical({"schemaVersion": 2, "mediaType": evil}), evil, tag="1")
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(b"x"), "size": 1,
         "platform": {"os": "linux\x1b]0;pwned\x07", "architecture": "arm64\nerror: forged line"}}]})
    reg.push_manifest("multi", index, OCI_INDEX, tag="1")
    r = run(["estimate", f"{reg.host}/odd:1", f"{reg.host}/multi:1"], home=tmp_path)
    assert r.code == 1, r
    out = r.stdout + r.stderr
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: 127.0.0.1:") for line in lines)  # no forged lines
    assert "\\u001b[2J" in r.stderr and "\\nerror: forged line" in r.stderr


# -- connection failures say what happened -------------------------------------------------------------------

def test_refused_connection_says_refused_not_timeout(tmp_path: Path) -> None:
    with HostileRegistry() as reg:
        host = reg.host
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as exc:
        inspect(client(tmp_path), f"{host}/app:1")
    assert "connection refused" in exc.value.message and "in time" not in exc.value.message
    assert time.monotonic() - t0 < 2


def test_unresolvable_name_says_so(tmp_path: Path) -> None:
    # Looked up through a loopback DNS server that knows no name, never the machine's resolver.
    with LoopbackDNS("127.77.0.54") as dns:
        r = run(["estimate", "--no-cache", "--registry-timeout", "10", "registry.invalid/app:1"], home=tmp_path,
                resolv_conf=dns.resolv_conf(tmp_path))
    assert r.code == 5, r  # Unreachable
    assert "could not be resolved" in r.stderr and "in time" not in r.stderr, r.stderr
    assert "registry.invalid" in dns.queries


def test_stall_is_a_timeout_bounded_by_the_registry_timeout(reg: HostileRegistry, tmp_path: Path) -> None:
    reg.on(r"/manifests/", stall())
    t0 = time.monotonic()
    with pytest.raises(Unreachable, match="did not answer in time"):
        inspect(client(tmp_path, timeout=1.0, retries=4), f"{reg.host}/app:1")
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("where", ["body", "headers"])
def test_trickling_registry_cannot_stretch_the_timeout(reg: HostileRegistry, tmp_path: Path, where: str) -> None:
    # A byte every 0.3 s: no single read ever times out, the image as a whole must.
    head = manifest_head() if where == "body" else b"HTTP/1.1 200 OK\r\nX-Slow: "
    reg.on(r"/manifests/", trickle(head, 0.3))
    t0 = time.monotonic()
    with pytest.raises(Unreachable):
        inspect(client(tmp_path, timeout=1.5), f"{reg.host}/app:1")
    assert time.monotonic() - t0 < 3


def test_one_stalled_image_does_not_lose_the_others(reg: HostileRegistry, tmp_path: Path) -> None:
    good = reg.push_image("good", "1")
    reg.on(r"/v2/slow/", stall())
    r = run(["estimate", "-o", "json", "--registry-timeout", "1", f"{reg.host}/slow:1", f"{reg.host}/good:1"],
            home=tmp_path, timeout=30)
    assert r.code == 5, r
    assert [i["digest"] for i in r.json()["images"]] == [good["digest"]]
    assert "did not answer in time" in r.stderr


# -- TLS, through the hostile server as an HTTPS proxy for a name that is not loopback --------------------------------

NAME = "registry.test"


@pytest.fixture
def tls_reg(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileRegistry]:
    with HostileRegistry(tls_name=NAME) as r:
        for var in ("NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", r.proxy_url)
        monkeypatch.setenv("https_proxy", r.proxy_url)
        yield r


def test_untrusted_certificate_names_the_tls_cause(tls_reg: HostileRegistry, tmp_path: Path) -> None:
    tls_reg.push_image("app", "1")
    with pytest.raises(Unreachable) as exc:
        inspect(client(tmp_path), f"{NAME}/app:1")
    msg = exc.value.message
    assert "TLS failed" in msg and "certificate" in msg and "SSL_CERT_FILE" in msg and "--insecure-registry" in msg
    assert "in time" not in msg


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"])
def test_ca_from_the_environment_is_trusted(tls_reg: HostileRegistry, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    image = tls_reg.push_image("app", "1")
    monkeypatch.setenv(variable, str(tls_reg.ca_dir() if variable == "SSL_CERT_DIR" else tls_reg.ca_pem))
    assert inspect(client(tmp_path), f"{NAME}/app:1").digest == image["digest"]


def test_every_directory_of_ssl_cert_dir_is_read(tls_reg: HostileRegistry, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Go (docker, crane, kubectl) reads SSL_CERT_DIR as a list: the CA may sit in any of them.
    image = tls_reg.push_image("app", "1")
    empty = tmp_path / "no-cas-here"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_DIR", f"{empty}:{tls_reg.ca_dir()}")
    assert inspect(client(tmp_path), f"{NAME}/app:1").digest == image["digest"]


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_tls_advice_names_the_ca_bundle_that_replaces_ssl_cert_file(
        tls_reg: HostileRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    # The bundle wins over SSL_CERT_FILE (README, TLS): advising SSL_CERT_FILE would send the user in circles.
    import certifi

    tls_reg.push_image("app", "1")
    monkeypatch.setenv(variable, certifi.where())  # a real bundle, without the registry's CA
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_reg.ca_pem))
    with pytest.raises(Unreachable) as exc:
        inspect(client(tmp_path), f"{NAME}/app:1")
    msg = exc.value.message
    assert "TLS failed" in msg and f"{variable}={certifi.where()} is in use" in msg and f"unset {variable}" in msg, msg
    assert "SSL_CERT_FILE=FILE" not in msg, msg


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_a_ca_file_that_cannot_be_read_is_named(tls_reg: HostileRegistry, tmp_path: Path, variable: str) -> None:
    tls_reg.push_image("app", "1")
    missing = tmp_path / "no-such-bundle.pem"
    env = {"HTTPS_PROXY": tls_reg.proxy_url, "https_proxy": tls_reg.proxy_url, variable: str(missing)}
    r = run(["estimate", "--no-cache", f"{NAME}/app:1"], home=tmp_path, env=env)
    assert r.code == 5, r
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "TLS failed" in lines[0] and str(missing) in lines[0] and "No such file" in lines[0], lines[0]


def test_insecure_registry_prints_no_warning(tls_reg: HostileRegistry, tmp_path: Path) -> None:
    image = tls_reg.push_image("app", "1")
    env = {"HTTPS_PROXY": tls_reg.proxy_url, "https_proxy": tls_reg.proxy_url}
    r = run(["estimate", "-o", "json", "--insecure-registry", NAME, f"{NAME}/app:1"], home=tmp_path, env=env)
    assert r.code == 0, r
    assert r.json()["images"][0]["digest"] == image["digest"]
    assert r.stderr == "", r.stderr
    refused = run(["estimate", "--no-cache", f"{NAME}/app:1"], home=tmp_path, env=env)
    assert refused.code == 5 and "TLS failed" in refused.stderr


def test_insecure_registry_stays_unverified_with_a_ca_bundle_in_the_environment(
        tls_reg: HostileRegistry, tmp_path: Path) -> None:
    # requests lets REQUESTS_CA_BUNDLE re-enable verification on a verify=False session.
    image = tls_reg.push_image("app", "1")
    env = {"HTTPS_PROXY": tls_reg.proxy_url, "https_proxy": tls_reg.proxy_url,
           "REQUESTS_CA_BUNDLE": str(tls_reg.ca_pem.parent / "not-this-one.pem")}
    Path(env["REQUESTS_CA_BUNDLE"]).write_text(Path("/etc/ssl/certs/ca-certificates.crt").read_text())
    r = run(["estimate", "-o", "json", "--no-cache", "--insecure-registry", NAME, f"{NAME}/app:1"],
            home=tmp_path, env=env)
    assert r.code == 0, r
    assert r.json()["images"][0]["digest"] == image["digest"]


# -- rate limits: halve and wait, do not hammer ------------------------------------------------------------------

def test_a_wave_of_429s_halves_concurrency_and_honours_retry_after(reg: HostileRegistry, tmp_path: Path) -> None:
    images = [reg.push_image(f"app{i}", "1") for i in range(48)]
    lock = threading.Lock()
    state = {"refused": 0, "sent_429": 0.0, "in_flight": 0, "max_after": 0, "early": 0}

    def manifests(req: Request, conn: Conn) -> None:
        now = time.monotonic()
        with lock:
            refuse = state["refused"] < 16
            if refuse:
                state["refused"] += 1
            else:
                # Sent well after a 429 went out and before its Retry-After ran out: not honoured.
                if state["sent_429"] and state["sent_429"] + 0.1 < now < state["sent_429"] + 0.9:
                    state["early"] += 1
                state["in_flight"] += 1
                state["max_after"] = max(state["max_after"], state["in_flight"])
        if refuse:
            conn.wait(0.2)  # let the wave build up: many requests in flight get 429 together
            with lock:
                state["sent_429"] = state["sent_429"] or time.monotonic()
            conn.send(http(429, b"", [("Retry-After", "1")]))
            return
        conn.wait(0.05)
        reg._default(req, conn)  # noqa: SLF001 - serve the real manifest
        with lock:
            state["in_flight"] -= 1

    reg.on(r"/manifests/1$", manifests)
    c = client(tmp_path, concurrency=32, retries=3)
    results = c.inspect_many([(f"{reg.host}/app{i}:1", parse_reference(f"{reg.host}/app{i}:1")) for i in range(48)])
    assert [r.info.digest if r.info else r.error for r in results] == [i["digest"] for i in images]
    assert state["early"] == 0, "requests were sent during the Retry-After pause"
    assert state["max_after"] <= 16, f"{state['max_after']} in flight after a wave of 429s (limit 32)"
