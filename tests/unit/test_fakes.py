"""The fakes' own pure logic, and the rule that they share no code with what they check.

A fake that imported the plugin (its registry client, its secret parser, its time parser) would agree
with the plugin's bugs; these tests fail the moment one does.
"""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.emulator import cloud, gotime
from tests.fakes.oci import ImageName, docker_config_logins, parse_image_name, select_platform

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "tests" / "fakes"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_fakes_import_nothing_from_the_plugin_nor_from_other_tests() -> None:
    files = sorted(FAKES.rglob("*.py"))
    assert len(files) >= 10
    bad = {f"{p.relative_to(ROOT)}: {name}" for p in files for name in _imports(p)
           if name.split(".")[0] == "kubectl_imagecache"
           or (name.split(".")[0] == "tests" and not (name == "tests.fakes" or name.startswith("tests.fakes.")))}
    assert not bad


def test_importing_every_fake_loads_no_plugin_module() -> None:
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in FAKES.rglob("*.py")
                     if p.name != "__main__.py")
    modules = [m.removesuffix(".__init__") for m in modules]
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(n for n in sys.modules if n.startswith(('kubectl_imagecache', 'tests.')))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert loaded and all(n.startswith("tests.fakes") for n in loaded), loaded


# -- Go's RFC 3339 --------------------------------------------------------------------------------------------

# Expected strings are what Go prints: time.Unix(1767323045, ns).In(loc).Format(time.RFC3339[Nano]).
@pytest.mark.parametrize(("ns", "style", "text"), [
    (123456789, "utc-seconds", "2026-01-02T03:04:05Z"),
    (123456789, "utc-nano", "2026-01-02T03:04:05.123456789Z"),
    (100000000, "utc-nano", "2026-01-02T03:04:05.1Z"),  # RFC3339Nano trims trailing zeros
    (0, "utc-nano", "2026-01-02T03:04:05Z"),  # ... and the dot with them
    (123456789, "offset-seconds", "2026-01-02T11:04:05+08:00"),
    (123456789, "offset-millis", "2026-01-02T11:04:05.123+08:00"),
    (120000000, "offset-millis", "2026-01-02T11:04:05.12+08:00"),
])
def test_go_time_formats(ns: int, style: str, text: str) -> None:
    stamp = 1767323045 * gotime.NS + ns
    assert gotime.format_time(stamp, style) == text
    assert gotime.parse_time(text) == gotime.truncate(stamp, style)


def test_go_time_parse_refuses_what_is_not_rfc3339() -> None:
    for text in ("2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05.1234567890Z", "yesterday", None, 7,
                 "2026-02-30T00:00:00Z"):
        assert gotime.parse_time(text) is None, text
    assert gotime.parse_time("2026-01-02T03:04:05-01:30") == gotime.parse_time("2026-01-02T04:34:05Z")


# -- image names, index selection, docker config ------------------------------------------------------------

@pytest.mark.parametrize(("text", "want"), [
    ("nginx", ImageName("docker.io", "library/nginx", "latest", None)),
    ("nginx:1.27", ImageName("docker.io", "library/nginx", "1.27", None)),
    ("team/app", ImageName("docker.io", "team/app", "latest", None)),
    ("127.0.0.1:5000/a/b/c:1.0", ImageName("127.0.0.1:5000", "a/b/c", "1.0", None)),
    ("localhost/app", ImageName("localhost", "app", "latest", None)),
    ("r.example/app@sha256:" + "a" * 64, ImageName("r.example", "app", None, "sha256:" + "a" * 64)),
    ("r.example/app:1@sha256:" + "a" * 64, ImageName("r.example", "app", "1", "sha256:" + "a" * 64)),
])
def test_parse_image_name(text: str, want: ImageName) -> None:
    assert parse_image_name(text) == want


@pytest.mark.parametrize("text", ["", "UPPER/app", "r.example/app:", "r.example/app@sha256:short", "a b"])
def test_parse_image_name_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_image_name(text)


def _entry(platform: str, digest: str) -> dict:
    os_, arch, *variant = platform.split("/")
    p = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {})}
    return {"digest": digest, "platform": p}


INDEX = [_entry("unknown/unknown", "att"), _entry("linux/arm/v7", "v7"), _entry("linux/arm64/v8", "v8"),
         _entry("linux/amd64", "amd64"), _entry("linux/amd64/v3", "amd64v3")]


@pytest.mark.parametrize(("platform", "digest"), [
    ("linux/amd64", "amd64"),  # the entry without a variant first
    ("linux/amd64/v3", "amd64v3"),
    ("linux/arm64", "v8"),
    ("linux/arm64/v8", "v8"),
    ("linux/arm/v7", "v7"),
    ("linux/arm/v6", None),
    ("windows/amd64", None),
    ("unknown/unknown", "att"),  # only when asked for, which the cloud never does
])
def test_select_platform(platform: str, digest: str | None) -> None:
    got = select_platform(INDEX, platform)
    assert (got or {}).get("digest") == digest


def test_select_platform_arm64_without_variant_serves_v8() -> None:
    assert select_platform([_entry("linux/arm64", "plain")], "linux/arm64/v8") == _entry("linux/arm64", "plain")


def test_docker_config_logins() -> None:
    auth = base64.b64encode(b"alice:pa:ss").decode()
    doc = {"auths": {"https://index.docker.io/v1/": {"auth": auth}, "r.example:5000": {"username": "u",
                                                                                       "password": "p"},
                     "empty.example": {}}}
    assert docker_config_logins(json.dumps(doc).encode()) == {"docker.io": ("alice", "pa:ss"),
                                                              "r.example:5000": ("u", "p")}
    legacy = {"http://r.example/v1/": {"auth": auth}}
    assert docker_config_logins(json.dumps(legacy).encode(), legacy=True) == {"r.example": ("alice", "pa:ss")}
    for bad in (b"not json", b"[]", b'{"auths": 1}', json.dumps({"auths": {"h": {"auth": "!!"}}}).encode()):
        with pytest.raises(ValueError):
            docker_config_logins(bad)


# -- the cloud's rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "ok"), [
    ("default:regcred", True), ("kube-system:a.b-c", True), ("regcred", False), ("Default:x", False),
    (":x", False), ("ns:", False), ("ns:a:b", False), ("my.ns:x", False), (7, False),
])
def test_parse_pull_secret(text: object, ok: bool) -> None:
    if ok:
        assert cloud.parse_pull_secret(text) == tuple(str(text).split(":"))
    else:
        with pytest.raises(cloud.BuildFailed) as exc:
            cloud.parse_pull_secret(text)
        assert exc.value.event == "PullSecretError"


def test_pull_logins_from_secrets() -> None:
    config = json.dumps({"auths": {"r.example": {"auth": base64.b64encode(b"u:p").decode()}}}).encode()
    secrets = {("ns", "good"): ("kubernetes.io/dockerconfigjson",
                                {".dockerconfigjson": base64.b64encode(config).decode()}),
               ("ns", "opaque"): ("Opaque", {"x": ""}),
               ("ns", "broken"): ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "!!"})}

    def read(namespace: str, name: str) -> tuple[str, dict[str, str]]:
        if (namespace, name) not in secrets:
            raise cloud.SecretMissing()
        return secrets[(namespace, name)]

    assert cloud.pull_logins({"imagePullSecrets": ["ns:good"]}, read) == {"r.example": ("u", "p")}
    for spec, message in ((["ns:gone"], "pull secret ns/gone not found"),
                          (["ns:opaque"], "is of type Opaque, not a docker-config secret"),
                          (["ns:broken"], "pull secret ns/broken: .dockerconfigjson unusable")):
        with pytest.raises(cloud.BuildFailed) as exc:
            cloud.pull_logins({"imagePullSecrets": spec}, read)
        assert message in exc.value.reason


def test_size_rule_and_default() -> None:
    assert cloud.size_gib({}) == 20
    cloud.check_size({}, 10 * 2**30)  # exactly twice fits
    with pytest.raises(cloud.BuildFailed) as exc:
        cloud.check_size({}, 10 * 2**30 + 1)
    assert "imageCacheSize 20 GiB" in exc.value.reason and "at least 21 GiB needed" in exc.value.reason
