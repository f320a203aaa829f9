"""The persistent cache of registry metadata (diskcache).

What is kept: manifest and image-config bodies by digest (immutable, so kept until evicted) and
tag -> digest mappings with the time they were seen (trusted for a TTL). Nothing secret: no
tokens, no credentials, no headers. A cache that is corrupt, unreadable or locked costs one
warning and is then ignored, so it can slow a command down but never crash it or change its
answer; bodies are re-hashed on every read for the same reason.

The cache owns its folder's database files and nothing else: by default the folder is
``~/.cache/kubectl-imagecache/metadata`` (XDG respected), beside but apart from the zipapp's
bytecode and the build caches of the project; ``info`` counts and ``clear`` removes only the
files diskcache creates, even in a folder the user chose and filled with other things.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from .cachedir import default_cache_dir, project_cache_root
from .defaults import DEFAULT_TTL
from .manifest import MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, compute_digest
from .reference import is_valid_digest

__all__ = ["MetadataCache", "TagEntry", "default_cache_dir", "DEFAULT_TTL", "DEFAULT_SIZE_LIMIT"]

DEFAULT_SIZE_LIMIT = 256 << 20  # manifests are small: this holds hundreds of thousands
_LOCK_WAIT = 1.0  # seconds to wait for another process's lock before going on without the cache
_SCHEMA = "v1"  # bump when the stored shapes change; old entries are then simply not found
# Every value in SQLite, none in side files: bodies are bounded (4 MiB), and then the database
# files below are all the cache ever creates.
_DISK_MIN_FILE_SIZE = max(MAX_MANIFEST_BYTES, MAX_CONFIG_BYTES) + (1 << 20)
_DB = "cache.db"
_DB_FILES = (_DB, _DB + "-wal", _DB + "-shm", _DB + "-journal")
# diskcache's side files for large values (none written since _DISK_MIN_FILE_SIZE; an older
# version could have): <2 hex>/<2 hex>/<28 hex>.val
_VALUE_FILE = re.compile(r"^[0-9a-f]{28}\.val$")
_HEX2 = re.compile(r"^[0-9a-f]{2}$")


def _own_files(directory: Path) -> Iterator[Path]:
    """The files diskcache created in ``directory``: its database and large-value files only."""
    if not directory.is_dir():
        return
    for name in _DB_FILES:
        f = directory / name
        if f.is_file() and not f.is_symlink():
            yield f
    try:
        firsts = [d for d in directory.iterdir() if _HEX2.match(d.name) and d.is_dir() and not d.is_symlink()]
    except OSError:
        return
    for first in firsts:
        for second in (d for d in first.iterdir() if _HEX2.match(d.name) and d.is_dir() and not d.is_symlink()):
            yield from (f for f in second.iterdir() if _VALUE_FILE.match(f.name) and f.is_file())


def _probe_unlocked(db: Path) -> None:
    """Fail fast on a locked or corrupt database.

    diskcache's constructor retries its own set-up for up to a minute when another process holds
    the lock; a metadata cache is not worth that wait, so take and drop the write lock first.
    """
    if not db.exists():
        return
    import sqlite3

    con = sqlite3.connect(str(db), timeout=_LOCK_WAIT, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
    finally:
        con.close()


@dataclass(frozen=True)
class TagEntry:
    digest: str
    media_type: str
    seen_at: float

    def fresh(self, ttl: float, now: Optional[float] = None) -> bool:
        return ((now if now is not None else time.time()) - self.seen_at) < ttl


class MetadataCache:
    """A fail-soft facade over diskcache.Cache; every method may silently become a no-op."""

    def __init__(
        self,
        directory: Path,
        *,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        warn: Callable[[str], None] = lambda msg: None,
    ) -> None:
        self.directory = directory
        self._size_limit = size_limit
        self._warn = warn
        self._cache: Any = None
        self._broken = False
        # One operation at a time, queued here: diskcache gives each thread its own SQLite
        # connection, and 50 inspecting threads then waited in SQLite's busy handler, which sleeps
        # in growing steps (a cold estimate of 50 images took 0.8-1.3 s with the cache, 0.6 s without).
        self._lock = threading.RLock()

    # -- plumbing ---------------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._cache is None and not self._broken:
            try:
                import diskcache  # deferred: only commands that touch the cache pay for it

                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.directory, 0o700)
                _probe_unlocked(self.directory / _DB)
                # timeout=1: a cache locked by another process must not stall us for a minute
                self._cache = diskcache.Cache(
                    str(self.directory),
                    size_limit=self._size_limit,
                    eviction_policy="least-recently-used",
                    timeout=_LOCK_WAIT,
                    disk_min_file_size=_DISK_MIN_FILE_SIZE,
                )
            except Exception as exc:  # noqa: BLE001 - any failure means "no cache", never a crash
                self._disable(exc)
        return self._cache

    def _disable(self, exc: BaseException) -> None:
        if not self._broken:
            self._broken = True
            self._warn(
                f"local cache at {self.directory} is unusable ({exc.__class__.__name__}: {exc}); "
                "continuing without it (fix with `kubectl imagecache cache clear`)"
            )
        self._cache = None

    def _get(self, key: str) -> Any:
        with self._lock:
            cache = self._open()
            if cache is None:
                return None
            try:
                return cache.get(f"{_SCHEMA}:{key}", default=None)
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)
                return None

    def _set(self, key: str, value: Any) -> None:
        with self._lock:
            cache = self._open()
            if cache is None:
                return
            try:
                cache.set(f"{_SCHEMA}:{key}", value)
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)

    @property
    def usable(self) -> bool:
        return self._open() is not None

    # -- what the registry client stores ------------------------------------------------------------
    def get_manifest(self, digest: str) -> Optional[tuple[str, bytes]]:
        value = self._get(f"manifest:{digest}")
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes)):
            return None
        media_type, body = value
        if not _intact(body, digest, MAX_MANIFEST_BYTES):
            return None
        return str(media_type), body

    def put_manifest(self, digest: str, media_type: str, body: bytes) -> None:
        """Only call with a body already verified against its digest (and within its bound)."""
        if len(body) <= MAX_MANIFEST_BYTES and is_valid_digest(digest):
            self._set(f"manifest:{digest}", (media_type, body))

    def get_blob(self, digest: str) -> Optional[bytes]:
        """An image config kept by digest (immutable: no TTL)."""
        body = self._get(f"blob:{digest}")
        return body if isinstance(body, bytes) and _intact(body, digest, MAX_CONFIG_BYTES) else None

    def put_blob(self, digest: str, body: bytes) -> None:
        """Only call with a body already verified against its digest (and within its bound)."""
        if len(body) <= MAX_CONFIG_BYTES and is_valid_digest(digest):
            self._set(f"blob:{digest}", body)

    def get_tag(self, registry: str, repository: str, tag: str) -> Optional[TagEntry]:
        value = self._get(f"tag:{registry}/{repository}:{tag}")
        if not (isinstance(value, tuple) and len(value) == 3):
            return None
        digest, media_type, seen_at = value
        if not (isinstance(digest, str) and isinstance(seen_at, float)):
            return None
        return TagEntry(digest, str(media_type), seen_at)

    def put_tag(self, registry: str, repository: str, tag: str, digest: str, media_type: str) -> None:
        self._set(f"tag:{registry}/{repository}:{tag}", (digest, media_type, time.time()))

    def get_scheme(self, host: str) -> Optional[str]:
        value = self._get(f"scheme:{host}")
        return value if value in ("https", "http") else None

    def put_scheme(self, host: str, scheme: str) -> None:
        self._set(f"scheme:{host}", scheme)

    # -- `cache info` / `cache clear` -------------------------------------------------------------------
    def _open_existing(self) -> Any:
        """The cache if there is one: looking at it or clearing it must not make an empty database."""
        return self._open() if (self.directory / _DB).exists() else None

    def info(self) -> dict[str, Any]:
        cache = self._open_existing()
        entries = 0
        if cache is not None:
            try:
                entries = len(cache)
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)
        size = 0
        for f in _own_files(self.directory):
            try:
                size += f.stat().st_size
            except OSError:
                pass
        return {"path": str(self.directory), "entries": entries, "bytes": size, "sizeLimitBytes": self._size_limit}

    def clear(self) -> int:
        """Empty the cache; a broken one has its own files removed so the next run starts clean.

        Only what diskcache created is touched, never the folder's other contents (a folder the
        user named with --cache-dir may hold anything).
        """
        legacy = self._remove_legacy()
        cache = self._open_existing()
        if cache is not None:
            try:
                return legacy + int(cache.clear(retry=True))
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)
        self.close()
        return legacy + self._remove_own_files(self.directory)

    def _remove_legacy(self) -> int:
        """Earlier builds kept the database in the project's cache root itself; those files go too."""
        root = project_cache_root()
        if self.directory != root / "metadata":
            return 0
        removed = 0
        for name in _DB_FILES:
            f = root / name
            if f.is_file() and not f.is_symlink():
                try:
                    f.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def _remove_own_files(self, directory: Path) -> int:
        removed = 0
        for f in list(_own_files(directory)):
            try:
                f.unlink()
                removed += 1
            except OSError:
                pass
        for first in (d for d in _subdirs(directory) if _HEX2.match(d.name)):
            for second in (d for d in _subdirs(first) if _HEX2.match(d.name)):
                _rmdir_if_empty(second)
            _rmdir_if_empty(first)
        return removed

    def close(self) -> None:
        if self._cache is not None:
            try:
                self._cache.close()
            except Exception:  # noqa: BLE001
                pass
            self._cache = None


def _intact(body: bytes, digest: str, limit: int) -> bool:
    """Re-hash on read: a damaged or tampered entry is a miss, never a wrong size."""
    if len(body) > limit or not is_valid_digest(digest):
        return False
    return compute_digest(body, digest.split(":", 1)[0]) == digest


def _subdirs(directory: Path) -> list[Path]:
    try:
        return [d for d in directory.iterdir() if d.is_dir() and not d.is_symlink()]
    except OSError:
        return []


def _rmdir_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass
