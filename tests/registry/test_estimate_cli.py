"""`kubectl imagecache estimate` end to end: the real command, a real registry, real files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from tests.fakes.faultproxy import FaultProxy
from tests.fakes.registry import LiveRegistry
from tests.support.cli import Result, run

GIB = 1 << 30


def est(tmp_path: Path, *args: str, stdin: str | None = None) -> Result:
    return run(["estimate", "--cache-dir", str(tmp_path / "cache"), *args], home=tmp_path, stdin=stdin)


def test_json_shape_and_values(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    s = plain_registry.samples
    assert s is not None
    images = [s.ref("sample/oci-single:1.0"), s.ref("sample/oci-index:1.0"), s.ref("sample/docker-list:1.0")]
    r = est(tmp_path, "-o", "json", *images)
    assert r.code == 0, r
    doc = r.json()
    assert set(doc) >= {"images", "totalBytes", "uniqueBytes", "imageCacheSizeGiB", "errors"}
    assert doc["errors"] == []
    by_image = {i["image"]: i for i in doc["images"]}
    single, index, dlist = s["sample/oci-single:1.0"], s["sample/oci-index:1.0"], s["sample/docker-list:1.0"]
    assert by_image[images[0]] == {
        "image": images[0], "reference": images[0], "digest": single.digest, "platformDigest": single.digest,
        "platform": "linux/amd64", "layers": 2, "sizeBytes": single.size,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
    }
    assert by_image[images[1]]["digest"] == index.digest
    assert by_image[images[1]]["platformDigest"] == index.platform_digest("linux/amd64")
    assert by_image[images[1]]["sizeBytes"] == index.for_platform("linux/amd64").size
    assert by_image[images[2]]["digest"] == dlist.digest
    total = single.size + index.for_platform("linux/amd64").size + dlist.for_platform("linux/amd64").size
    assert doc["totalBytes"] == total
    assert doc["uniqueBytes"] < total  # the base layer is shared by all three
    assert doc["imageCacheSizeGiB"] == 20
    # YAML carries the same document.
    assert yaml.safe_load(est(tmp_path, "-o", "yaml", *images).stdout) == doc


def test_table(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    image = plain_registry.ref("sample/docker-single:1.0")
    r = est(tmp_path, image)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "PLATFORM", "DIGEST", "LAYERS", "SIZE"]
    assert lines[1].split()[:4] == [image, "linux/amd64",
                                    plain_registry.samples["sample/docker-single:1.0"].digest[:19], "3"]
    assert any(line.startswith("Total:") for line in lines)
    assert any(line.startswith("Unique:") for line in lines)
    assert "Recommended imageCacheSize: 20 GiB" in r.stdout
    assert r.stderr == ""


def test_platform_flag(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    s = plain_registry.samples
    assert s is not None
    r = est(tmp_path, "-o", "json", "--platform", "linux/arm/v7", s.ref("sample/oci-index:1.0"),
            s.ref("sample/arm-only:1.0"))
    assert r.code == 0, r
    imgs = r.json()["images"]
    assert [i["platform"] for i in imgs] == ["linux/arm/v7", "linux/arm/v7"]
    assert imgs[0]["platformDigest"] == s["sample/oci-index:1.0"].platform_digest("linux/arm/v7")


def test_files_stdin_and_duplicates(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    s = plain_registry.samples
    assert s is not None
    a, b, c = s.ref("sample/oci-single:1.0"), s.ref("sample/docker-single:1.0"), s.ref("a/b/c/nested:1.0")
    listing = tmp_path / "images.txt"
    listing.write_text(f"# the shop's images\n{a}\n\n{b}   \n{a}\n")
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web, namespace: shop}}
        spec:
          template:
            spec:
              initContainers: [{{name: init, image: "{c}"}}]
              containers: [{{name: app, image: "{a}"}}]
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {{name: nightly}}
        spec:
          jobTemplate:
            spec:
              template:
                spec:
                  containers: [{{name: job, image: "{b}"}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: ignored}}
        """))
    r = est(tmp_path, "-o", "json", "-f", str(listing), "-f", str(manifest), a)
    assert r.code == 0, r
    assert sorted(i["image"] for i in r.json()["images"]) == sorted([a, b, c])
    piped = est(tmp_path, "-o", "json", "-f", "-", stdin=manifest.read_text())
    assert piped.code == 0, piped
    assert sorted(i["image"] for i in piped.json()["images"]) == sorted([a, b, c])


def test_alias(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    r = run(["estimate-size", "--cache-dir", str(tmp_path / "c"), plain_registry.ref("sample/oci-single:1.0")],
            home=tmp_path)
    assert r.code == 0 and "Recommended imageCacheSize: 20 GiB" in r.stdout


def test_a_failed_image_means_no_size(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    good = plain_registry.ref("sample/oci-single:1.0")
    no_tag = f"{plain_registry.host}/sample/oci-single:nope"
    no_repo = f"{plain_registry.host}/sample/never-pushed:1.0"
    arm = plain_registry.ref("sample/arm-only:1.0")
    r = est(tmp_path, "-o", "json", good, no_tag, no_repo, arm)
    assert r.code != 0
    doc = json.loads(r.stdout)  # stdout stays clean JSON even with failures
    assert [i["image"] for i in doc["images"]] == [good]
    assert doc["imageCacheSizeGiB"] is None
    errors = {e["image"]: e["error"] for e in doc["errors"]}
    assert set(errors) == {no_tag, no_repo, arm}
    assert "tag nope not found" in errors[no_tag]
    assert "repository" in errors[no_repo] and "not found" in errors[no_repo]
    assert "linux/arm64/v8" in errors[arm] and "--platform" in errors[arm]
    assert all(f"error: {img}:" in r.stderr for img in errors)
    table = est(tmp_path, good, no_tag)
    assert "Recommended imageCacheSize: none" in table.stdout


def test_bad_input_changes_nothing(tmp_path: Path, fault_proxy: FaultProxy, plain_registry: LiveRegistry) -> None:
    assert plain_registry.samples is not None
    good = plain_registry.samples.ref("sample/oci-single:1.0", host=fault_proxy.host)
    cases = [
        ([good, "Nginx:1"], "lowercase"),
        ([good, "nginx@sha256:abc"], "digest"),
        ([good, "--headroom", "1.5"], "--headroom"),
        ([good, "--platform", "linux/"], "OS/ARCH"),
        ([good, "--platform", "linux/arm64/v8/x"], "OS/ARCH"),
        ([good, "--pull-secret", "no-colon"], "NAMESPACE:NAME"),
        ([good, "-f", str(tmp_path / "missing.yaml")], "missing.yaml"),
        ([good, "--insecure-registry", "http://x"], "--insecure-registry"),
        ([], "no images"),
    ]
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text(f"{good}\nUPPER/case:1\n")
    cases.append((["-f", str(bad_list)], "bad.txt"))
    cases.append((["-f", str(bad_list)], "bad.txt:2: invalid image reference"))
    for args, fragment in cases:
        r = est(tmp_path, *args)
        assert r.code == 2, (args, r)
        assert r.stdout == "", (args, r)
        assert fragment in r.stderr, (args, r)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r)
    assert fault_proxy.count() == 0
    assert not (tmp_path / "cache").exists()


def test_too_large_for_one_cache(tmp_path: Path, fault_proxy: FaultProxy, plain_registry: LiveRegistry) -> None:
    from kubectl_imagecache.registry.manifest import compute_digest

    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + "1" * 64,
             "size": 17000 * GIB}
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "2" * 64, "size": 10}, "layers": [layer]}).encode()
    config = b'{"os":"linux","architecture":"amd64"}'
    body = body.replace(b'"sha256:' + b"2" * 64 + b'", "size": 10', b'"' + compute_digest(config).encode()
                        + b'", "size": ' + str(len(config)).encode())
    fault_proxy.respond(r"/v2/huge/app/manifests/", status=200, body=body, headers={
        "Content-Type": "application/vnd.oci.image.manifest.v1+json",
        "Docker-Content-Digest": compute_digest(body)})
    fault_proxy.respond(r"/v2/huge/app/blobs/", status=200, body=config,
                        headers={"Content-Type": "application/octet-stream"})
    r = est(tmp_path, "-o", "json", f"{fault_proxy.host}/huge/app:1")
    assert r.code == 1, r
    assert r.json()["imageCacheSizeGiB"] is None
    assert r.json()["totalBytes"] == 17000 * GIB + len(config)
    assert "at most 32768 GiB" in r.stderr and "split" in r.stderr


def test_progress_and_warnings_never_on_stdout(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    assert plain_registry.samples is not None
    r = est(tmp_path, "-o", "json", *plain_registry.samples.refs())
    json.loads(r.stdout)  # whatever happened, stdout is exactly one JSON document


def test_progress_bar_on_a_terminal_only(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    import os
    import pty
    import subprocess

    from tests.support.cli import plugin_executable

    assert plain_registry.samples is not None
    keys = [k for k in plain_registry.samples.images if "arm-only" not in k]
    # Ten or more distinct references (duplicates collapse): every sample by tag and by digest.
    images = [plain_registry.samples.ref(k, by_digest=d) for k in keys for d in (False, True)]
    master, slave = pty.openpty()
    proc = subprocess.Popen([plugin_executable(), "estimate", "-o", "json", "--cache-dir", str(tmp_path / "c"),
                             *images], stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "HOME": str(tmp_path)})
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.returncode == 0
    assert b"Inspecting images" in b"".join(chunks)
    assert len(json.loads(out)["images"]) >= 10
