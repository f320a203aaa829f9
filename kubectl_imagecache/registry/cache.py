"""The persistent cache of registry metadata (diskcache).

What is kept: manifest bodies by digest (immutable, so kept until evicted) and tag -> digest
mappings with the time they were seen (trusted for a TTL). Nothing secret: no tokens, no
credentials, no headers. A cache that is corrupt, unreadable or locked costs one warning and is
then ignored, so it can slow a command down but never crash it or change its answer; manifest
bodies are re-hashed on every read for the same reason.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .manifest import compute_digest

__all__ = ["MetadataCache", "TagEntry", "default_cache_dir", "DEFAULT_TTL", "DEFAULT_SIZE_LIMIT"]

DEFAULT_TTL = 3600.0
DEFAULT_SIZE_LIMIT = 256 << 20  # manifests are small: this holds hundreds of thousands
_LOCK_WAIT = 1.0  # seconds to wait for another process's lock before going on without the cache
_SCHEMA = "v1"  # bump when the stored shapes change; old entries are then simply not found


def default_cache_dir(explicit: Optional[str] = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("KUBECTL_IMAGECACHE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kubectl-imagecache"


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

    # -- plumbing ---------------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._cache is None and not self._broken:
            try:
                import diskcache  # deferred: only commands that touch the cache pay for it

                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.directory, 0o700)
                _probe_unlocked(self.directory / "cache.db")
                # timeout=1: a cache locked by another process must not stall us for a minute
                self._cache = diskcache.Cache(
                    str(self.directory),
                    size_limit=self._size_limit,
                    eviction_policy="least-recently-used",
                    timeout=_LOCK_WAIT,
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
        cache = self._open()
        if cache is None:
            return None
        try:
            return cache.get(f"{_SCHEMA}:{key}", default=None)
        except Exception as exc:  # noqa: BLE001
            self._disable(exc)
            return None

    def _set(self, key: str, value: Any) -> None:
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
        # Re-hash: a damaged or tampered entry is a miss, never a wrong size.
        algorithm = digest.split(":", 1)[0]
        try:
            if compute_digest(body, algorithm) != digest:
                return None
        except ValueError:
            return None
        return str(media_type), body

    def put_manifest(self, digest: str, media_type: str, body: bytes) -> None:
        """Only call with a body already verified against its digest."""
        self._set(f"manifest:{digest}", (media_type, body))

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
    def info(self) -> dict[str, Any]:
        cache = self._open()
        entries = 0
        if cache is not None:
            try:
                entries = len(cache)
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)
        size = sum(f.stat().st_size for f in self.directory.rglob("*") if f.is_file()) if self.directory.exists() else 0
        return {"path": str(self.directory), "entries": entries, "bytes": size, "sizeLimitBytes": self._size_limit}

    def clear(self) -> int:
        """Empty the cache; a broken one is removed from disk so the next run starts clean."""
        cache = self._open()
        if cache is not None:
            try:
                return int(cache.clear(retry=True))
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)
        return self._remove_tree()

    def _remove_tree(self) -> int:
        import shutil

        if not self.directory.exists():
            return 0
        count = sum(1 for _ in self.directory.rglob("*"))
        shutil.rmtree(self.directory, ignore_errors=True)
        return count

    def close(self) -> None:
        if self._cache is not None:
            try:
                self._cache.close()
            except Exception:  # noqa: BLE001
                pass
            self._cache = None
