"""The persistent metadata cache, end to end through the real command and a real registry.

Requests are counted at the fault proxy in front of the registry, so "zero requests" means the
registry really saw nothing.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_imagecache.registry.cache import MetadataCache
from tests.fakes.faultproxy import FaultProxy
from tests.fakes.registry import LiveRegistry
from tests.support.cli import Result, run

SINGLE = "sample/oci-single:1.0"
INDEX = "sample/oci-index:1.0"


def refs(reg: LiveRegistry, proxy: FaultProxy, *keys: str) -> list[str]:
    assert reg.samples is not None
    return [reg.samples.ref(k, host=proxy.host) for k in keys]


def estimate(home: Path, cache: Path, images: list[str], *extra: str) -> Result:
    return run(["estimate", "-o", "json", "--cache-dir", str(cache), *extra, *images], home=home)


def test_location_precedence_and_private_mode(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    image = plain_registry.ref(SINGLE)
    home = tmp_path / "home"
    home.mkdir()
    assert run(["estimate", image], home=home).code == 0
    # Its own folder: the zipapp's bytecode and the build caches live beside it, not in it.
    default = home / ".cache" / "kubectl-imagecache" / "metadata"
    assert (default / "cache.db").is_file()
    assert stat.S_IMODE(default.stat().st_mode) == 0o700
    assert [p.name for p in default.parent.iterdir()] == ["metadata"]

    xdg = tmp_path / "xdg"
    assert run(["estimate", image], home=home, env={"XDG_CACHE_HOME": str(xdg)}).code == 0
    assert (xdg / "kubectl-imagecache" / "metadata" / "cache.db").is_file()

    env_dir = tmp_path / "envdir"
    assert run(["estimate", image], home=home, env={"XDG_CACHE_HOME": str(xdg),
                                                    "KUBECTL_IMAGECACHE_CACHE_DIR": str(env_dir)}).code == 0
    assert env_dir.is_dir()

    flag_dir = tmp_path / "flagdir"
    assert run(["estimate", "--cache-dir", str(flag_dir), image], home=home,
               env={"KUBECTL_IMAGECACHE_CACHE_DIR": str(env_dir)}).code == 0
    assert flag_dir.is_dir()
    assert stat.S_IMODE(flag_dir.stat().st_mode) == 0o700


def test_warm_run_within_ttl_sends_nothing(tmp_path: Path, plain_registry: LiveRegistry,
                                           fault_proxy: FaultProxy) -> None:
    images = refs(plain_registry, fault_proxy, SINGLE, INDEX, "sample/docker-list:1.0")
    cold = estimate(tmp_path, tmp_path / "c", images)
    assert cold.code == 0, cold
    assert fault_proxy.count() > 0
    fault_proxy.reset()
    warm = estimate(tmp_path, tmp_path / "c", images)
    assert warm.code == 0, warm
    assert fault_proxy.count() == 0
    assert warm.json() == cold.json()


def test_expired_ttl_costs_one_head_per_tag(tmp_path: Path, plain_registry: LiveRegistry,
                                            fault_proxy: FaultProxy) -> None:
    images = refs(plain_registry, fault_proxy, SINGLE, INDEX)
    assert estimate(tmp_path, tmp_path / "c", images).code == 0
    fault_proxy.reset()
    expired = estimate(tmp_path, tmp_path / "c", images, "--cache-ttl", "0s")
    assert expired.code == 0, expired
    assert fault_proxy.counts_by_method() == {"HEAD": 2}
    fault_proxy.reset()
    refreshed = estimate(tmp_path, tmp_path / "c", images, "--refresh")
    assert refreshed.code == 0
    assert fault_proxy.counts_by_method() == {"HEAD": 2}


def test_moved_tag_is_seen_after_expiry(tmp_path: Path, plain_registry: LiveRegistry, unique_repo: str) -> None:
    client = plain_registry.client
    first = client.push_image(unique_repo, "v1", [b"one" * 100], kind="oci")
    image = f"{plain_registry.host}/{unique_repo}:v1"
    assert estimate(tmp_path, tmp_path / "c", [image]).json()["images"][0]["digest"] == first.digest
    second = client.push_image(unique_repo, "v1", [b"two" * 5000], kind="oci")
    # Within the TTL the cached digest is trusted (that is the point of a TTL) ...
    assert estimate(tmp_path, tmp_path / "c", [image]).json()["images"][0]["digest"] == first.digest
    # ... and once it has expired the move is noticed.
    moved = estimate(tmp_path, tmp_path / "c", [image], "--cache-ttl", "0").json()["images"][0]
    assert moved["digest"] == second.digest
    assert moved["sizeBytes"] == second.size


def test_offline(tmp_path: Path, plain_registry: LiveRegistry, fault_proxy: FaultProxy) -> None:
    images = refs(plain_registry, fault_proxy, SINGLE, INDEX)
    cold = estimate(tmp_path, tmp_path / "c", images, "--offline")
    assert cold.code == 5, cold
    assert "--offline" in cold.stderr and "not in the local cache" in cold.stderr
    assert cold.json()["imageCacheSizeGiB"] is None
    assert fault_proxy.count() == 0

    online = estimate(tmp_path, tmp_path / "c", images)
    fault_proxy.reset()
    offline = estimate(tmp_path, tmp_path / "c", images, "--offline", "--cache-ttl", "0")
    assert offline.code == 0, offline
    assert offline.json() == online.json()
    assert fault_proxy.count() == 0


def test_no_cache_writes_nothing(tmp_path: Path, plain_registry: LiveRegistry, fault_proxy: FaultProxy) -> None:
    images = refs(plain_registry, fault_proxy, SINGLE)
    r = estimate(tmp_path, tmp_path / "c", images, "--no-cache")
    assert r.code == 0
    assert not (tmp_path / "c").exists()
    fault_proxy.reset()
    assert estimate(tmp_path, tmp_path / "c", images, "--no-cache").code == 0
    assert fault_proxy.count("GET") == 2  # manifest and config, nothing remembered


def test_contradicting_flags_are_refused_before_anything(tmp_path: Path, fault_proxy: FaultProxy,
                                                         plain_registry: LiveRegistry) -> None:
    images = refs(plain_registry, fault_proxy, SINGLE)
    for flags in (["--offline", "--no-cache"], ["--offline", "--refresh"], ["--cache-ttl", "soon"]):
        r = estimate(tmp_path, tmp_path / "c", images, *flags)
        assert r.code == 2, r
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
        assert r.stdout == ""
    assert fault_proxy.count() == 0
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("damage", ["garbage-db", "dir-is-file", "unreadable-db"])
def test_damaged_cache_warns_once_and_answers_right(tmp_path: Path, plain_registry: LiveRegistry,
                                                    damage: str) -> None:
    images = [plain_registry.ref(SINGLE), plain_registry.ref(INDEX)]
    cache = tmp_path / "c"
    good = estimate(tmp_path, cache, images)
    assert good.code == 0
    if damage == "garbage-db":
        (cache / "cache.db").write_bytes(b"this is not sqlite" * 1000)
    elif damage == "dir-is-file":
        import shutil

        shutil.rmtree(cache)
        cache.write_text("not a folder")
    else:
        # A folder where the database should be: unreadable even for root.
        (cache / "cache.db").unlink()
        (cache / "cache.db").mkdir()
    r = estimate(tmp_path, cache, images)
    assert r.code == 0, r
    assert r.json() == good.json()
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, r.stderr
    assert "local cache" in warnings[0] and "cache clear" in warnings[0]
    assert "Traceback" not in r.stderr


def test_tampered_entry_is_a_miss_not_a_wrong_answer(tmp_path: Path, plain_registry: LiveRegistry,
                                                     fault_proxy: FaultProxy) -> None:
    images = refs(plain_registry, fault_proxy, SINGLE)
    cache = tmp_path / "c"
    good = estimate(tmp_path, cache, images).json()
    digest = good["images"][0]["digest"]
    import diskcache

    with diskcache.Cache(str(cache)) as dc:
        key = f"v1:manifest:{digest}"
        media_type, body = dc[key]
        doc = json.loads(body)
        doc["layers"][0]["size"] = 10**13  # a tampered size must never be believed
        dc[key] = (media_type, json.dumps(doc).encode())
    fault_proxy.reset()
    again = estimate(tmp_path, cache, images)
    assert again.code == 0
    assert again.json() == good
    assert fault_proxy.count("GET") == 1  # re-fetched, since the cached body no longer hashes right


def test_locked_cache_does_not_stall(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    images = [plain_registry.ref(SINGLE)]
    cache = tmp_path / "c"
    good = estimate(tmp_path, cache, images)
    # Another process holds an exclusive lock on the database for longer than we may wait.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)", str(cache / "cache.db")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        r = estimate(tmp_path, cache, images, "--refresh")
        elapsed = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()
    assert r.code == 0, r
    assert r.json() == good.json()
    assert elapsed < 15
    assert r.stderr.count("warning:") == 1


def test_concurrent_processes_share_one_cache(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    assert plain_registry.samples is not None
    images = [plain_registry.ref(k) for k in ("sample/oci-single:1.0", "sample/docker-single:1.0",
                                               INDEX, "sample/docker-list:1.0", "a/b/c/nested:1.0")]
    cache = tmp_path / "c"
    from tests.support.cli import plugin_executable

    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([plugin_executable(), "estimate", "-o", "json", "--cache-dir", str(cache),
                               "--cache-ttl", "0" if i % 2 else "1h", *images],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all("warning" not in err for _, err in outs), outs
    first = json.loads(outs[0][0])
    assert all(json.loads(out) == first for out, _ in outs)
    assert MetadataCache(cache).info()["entries"] > 0


def test_no_secret_ever_reaches_the_cache(tmp_path: Path, basic_registry: LiveRegistry,
                                          token_registry: LiveRegistry) -> None:
    assert basic_registry.password and token_registry.password
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()

    def auth(user: str, password: str) -> str:
        return base64.b64encode(f"{user}:{password}".encode()).decode()

    config.write_text(json.dumps({"auths": {
        basic_registry.host: {"auth": auth(basic_registry.username or "", basic_registry.password)},
        token_registry.host: {"auth": auth(token_registry.username or "", token_registry.password)},
    }}))
    cache = tmp_path / "c"
    images = [basic_registry.ref(SINGLE), token_registry.ref("private/secret:1.0"), token_registry.ref(INDEX)]
    r = estimate(tmp_path, cache, images, "--registry-config", str(config))
    assert r.code == 0, r
    secrets = [basic_registry.password.encode(), token_registry.password.encode(),
               auth(basic_registry.username or "", basic_registry.password).encode(),
               b"eyJ"]  # every JWT (the token service's tokens) starts with this
    for f in cache.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for s in secrets:
                assert s not in data, f"{s!r} found in {f}"
    # And none on stdout/stderr either.
    for s in secrets[:3]:
        assert s.decode() not in r.stdout + r.stderr


def test_cache_info_and_clear(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    cache = tmp_path / "c"
    assert estimate(tmp_path, cache, [plain_registry.ref(INDEX)]).code == 0
    info = run(["cache", "info", "-o", "json", "--cache-dir", str(cache)], home=tmp_path)
    assert info.code == 0
    data = info.json()
    assert data["path"] == str(cache)
    assert data["entries"] >= 3  # tag, index, platform manifest (and the scheme)
    assert data["bytes"] > 0
    table = run(["cache", "info", "--cache-dir", str(cache)], home=tmp_path)
    assert "Entries:" in table.stdout and str(cache) in table.stdout
    cleared = run(["cache", "clear", "--cache-dir", str(cache)], home=tmp_path)
    assert cleared.code == 0 and cleared.stdout == ""
    assert run(["cache", "info", "-o", "json", "--cache-dir", str(cache)], home=tmp_path).json()["entries"] == 0


def test_info_and_clear_of_no_cache_create_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    info = run(["cache", "info", "-o", "json", "--cache-dir", str(cache)], home=tmp_path)
    assert info.code == 0 and info.json()["entries"] == 0 and info.json()["bytes"] == 0
    cleared = run(["cache", "clear", "--cache-dir", str(cache)], home=tmp_path)
    assert cleared.code == 0 and "cleared 0 entries" in cleared.stderr
    assert not (cache / "cache.db").exists()


def test_clear_counts_in_words(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "cache.db").write_bytes(b"junk" * 100)  # broken: its one file is removed
    assert "cleared 1 entry from" in run(["cache", "clear", "--cache-dir", str(cache)], home=tmp_path).stderr


def test_clear_removes_a_broken_cache(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "cache.db").write_bytes(b"junk" * 100)
    r = run(["cache", "clear", "--cache-dir", str(cache)], home=tmp_path)
    assert r.code == 0
    assert not (cache / "cache.db").exists()
    assert sqlite3  # imported for the lock test


def _fill_foreign(folder: Path) -> dict[Path, bytes]:
    """Files the cache did not create: a user's notes, a build cache, a hex-named folder."""
    files = {folder / "notes.txt": b"mine",
             folder / "controlplane" / "v1.33" / "kube-apiserver": b"\x7fELF" * (1 << 20),
             folder / "ab" / "notes.val": b"not diskcache's", folder / "cache.db.bak": b"a user's backup"}
    for f, data in files.items():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    return files


@pytest.mark.parametrize("corrupt", [False, True])
def test_clear_removes_only_the_caches_own_files(tmp_path: Path, plain_registry: LiveRegistry, corrupt: bool) -> None:
    cache = tmp_path / "c"
    assert estimate(tmp_path, cache, [plain_registry.ref(INDEX)]).code == 0
    foreign = _fill_foreign(cache)
    if corrupt:
        (cache / "cache.db").write_bytes(b"junk" * 100)
    info = run(["cache", "info", "-o", "json", "--cache-dir", str(cache)], home=tmp_path).json()
    assert 0 < info["bytes"] < 1 << 20  # the 4 MiB "kube-apiserver" is not the cache's
    r = run(["cache", "clear", "--cache-dir", str(cache)], home=tmp_path)
    assert r.code == 0, r
    for f, data in foreign.items():
        assert f.read_bytes() == data
    if corrupt:
        assert not (cache / "cache.db").exists()
    assert estimate(tmp_path, cache, [plain_registry.ref(INDEX)]).code == 0  # and it works again


def test_clear_of_the_default_cache_spares_the_build_caches(tmp_path: Path, plain_registry: LiveRegistry) -> None:
    home = tmp_path / "home"
    root = home / ".cache" / "kubectl-imagecache"
    built = root / "controlplane" / "v1.33-etcd3.6" / "kube-apiserver"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"14 minutes of building")
    (root / "pyc").mkdir()
    (root / "pyc" / "x.pyc").write_bytes(b"bytecode")
    legacy = root / "cache.db"  # where earlier builds kept the metadata
    legacy.write_bytes(b"old database")
    assert run(["estimate", plain_registry.ref(SINGLE)], home=home).code == 0
    assert (root / "metadata" / "cache.db").is_file()
    info = run(["cache", "info", "-o", "json"], home=home).json()
    assert info["path"] == str(root / "metadata")
    assert info["bytes"] < 10 << 20
    assert run(["cache", "clear"], home=home).code == 0
    assert built.read_bytes() == b"14 minutes of building"
    assert (root / "pyc" / "x.pyc").exists()
    assert not legacy.exists()
    assert run(["cache", "info", "-o", "json"], home=home).json()["entries"] == 0


def test_nothing_past_the_manifest_bound_is_cached(tmp_path: Path) -> None:
    from kubectl_imagecache.registry.manifest import MAX_MANIFEST_BYTES, compute_digest

    cache = MetadataCache(tmp_path / "c")
    big = b" " * (MAX_MANIFEST_BYTES + 1)
    cache.put_manifest(compute_digest(big), "application/vnd.oci.image.manifest.v1+json", big)
    cache.put_blob(compute_digest(big), big)
    assert cache.get_manifest(compute_digest(big)) is None and cache.get_blob(compute_digest(big)) is None
    assert cache.info()["entries"] == 0
    # A value near the bound stays inside the database: no side files for clear to hunt down.
    near = b" " * (MAX_MANIFEST_BYTES - 1)
    cache.put_manifest(compute_digest(near), "x", near)
    assert cache.get_manifest(compute_digest(near)) == ("x", near)
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if p.is_dir()) == []
    cache.close()


def test_many_threads_share_the_cache_without_losing_it(tmp_path: Path) -> None:
    # estimate inspects with up to 64 threads; diskcache gives each its own SQLite connection, and
    # they waited in SQLite's busy handler until its timeout turned the cache off mid-run.
    import threading

    warnings: list[str] = []
    cache = MetadataCache(tmp_path / "metadata", warn=warnings.append)
    missing: list[str] = []

    def worker(t: int) -> None:
        for i in range(40):
            cache.put_tag("r.example", f"repo{t}", f"v{i}", "sha256:" + f"{t:032x}{i:032x}", "application/json")
            if cache.get_tag("r.example", f"repo{t}", f"v{i}") is None:
                missing.append(f"{t}/{i}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(64)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    cache.close()
    assert warnings == [] and missing == []
