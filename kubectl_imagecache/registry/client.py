"""The registry client: resolve a reference to the manifest of one platform, using the local cache.

Request budget (the benchmark checks it): a cold single-platform image costs one GET, a
multi-platform one two; a tag seen within the TTL costs nothing; an expired tag costs one HEAD
when its digest has not moved. Every body fetched is verified against its digest before use or caching.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

from ..errors import ImageCacheError, OfflineMiss, RegistryError
from .auth import RegistryAuth
from .cache import DEFAULT_TTL, MetadataCache
from .credentials import CredentialStore
from .manifest import (
    ACCEPT,
    ImageIndex,
    ImageInfo,
    ImageManifest,
    InspectResult,
    compute_digest,
    parse_manifest,
    verify_digest,
)
from .platform import DEFAULT_PLATFORM, Platform
from .reference import Reference
from .transport import RegistryTransport, TransportOptions

__all__ = ["ClientOptions", "RegistryClient", "NeedsNetwork"]


class NeedsNetwork(Exception):
    """Raised by a cache-only inspection that would have to ask a registry."""


@dataclass(frozen=True)
class ClientOptions:
    platform: Platform = DEFAULT_PLATFORM
    ttl: float = DEFAULT_TTL
    refresh: bool = False  # revalidate every tag now, whatever its age
    offline: bool = False  # no request at all; only what the cache holds
    transport: TransportOptions = TransportOptions()


class RegistryClient:
    def __init__(
        self,
        options: ClientOptions = ClientOptions(),
        credentials: Optional[CredentialStore] = None,
        cache: Optional[MetadataCache] = None,
    ) -> None:
        self.options = options
        self.credentials = credentials or CredentialStore()
        self.cache = cache
        transport = options.transport
        if options.offline:
            transport = TransportOptions(**{**transport.__dict__, "guard": _refuse_offline})
        self._topts = transport
        self._transports: dict[str, RegistryTransport] = {}
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------------
    def inspect(self, ref: Reference, platform: Optional[Platform] = None, *, cache_only: bool = False) -> ImageInfo:
        """The image for one platform; with cache_only, raises NeedsNetwork rather than asking a registry."""
        platform = platform or self.options.platform
        digest, media_type, body = self._resolve(ref, cache_only)
        manifest = parse_manifest(body, media_type)
        if isinstance(manifest, ImageIndex):
            entry = manifest.select(platform)
            child_type, child_body = self._by_digest(ref, entry.digest, cache_only)
            child = parse_manifest(child_body, child_type)
            if not isinstance(child, ImageManifest):
                raise RegistryError(f"{ref}: platform entry {entry.digest} is not an image manifest (nested index)")
            return ImageInfo(ref, digest, manifest.media_type, entry.digest, entry.platform or platform, child)
        return ImageInfo(ref, digest, manifest.media_type, digest, platform, manifest)

    def inspect_many(
        self,
        images: Sequence[tuple[str, Reference]],
        progress: Callable[[], None] = lambda: None,
    ) -> list[InspectResult]:
        """Inspect concurrently (--concurrency threads); one failure never stops the others.

        What the cache can answer is answered first, in this thread: threads only pay off for
        network round trips, and on cache hits they cost more (GIL, a database connection each).
        """
        results: list[Optional[InspectResult]] = [None] * len(images)

        def one(i: int, cache_only: bool = False) -> None:
            text, ref = images[i]
            try:
                results[i] = InspectResult(text, info=self.inspect(ref, cache_only=cache_only))
            except NeedsNetwork:
                return
            except ImageCacheError as exc:
                results[i] = InspectResult(text, error=exc)
            progress()

        if self.cache is not None:
            for i in range(len(images)):
                one(i, cache_only=True)
        pending = [i for i, r in enumerate(results) if r is None]
        workers = max(1, min(self._topts.concurrency, len(pending)))
        if workers == 1:
            for i in pending:
                one(i)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry") as pool:
                list(pool.map(one, pending))
        return [r for r in results if r is not None]

    def blob(self, ref: Reference, digest: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a blob (the emulated cloud controller pulls layers with it)."""
        resp = self._transport(ref).request("GET", ref.repository, f"blobs/{digest}", {}, f"blob {digest}")
        try:
            yield from resp.iter_content(chunk_size)
        finally:
            resp.close()

    def close(self) -> None:
        """Close every connection and the local cache the client was given."""
        for t in self._transports.values():
            t.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------------
    def _transport(self, ref: Reference) -> RegistryTransport:
        with self._lock:
            t = self._transports.get(ref.registry)
            if t is None:
                creds = self.credentials
                registry = ref.registry
                timeout = self._topts.timeout

                def auth_factory(session: Callable[[], object]) -> RegistryAuth:
                    return RegistryAuth(
                        registry,
                        lambda: creds.lookup(registry),
                        lambda: creds.describe_sources(registry),
                        session,  # type: ignore[arg-type]
                        timeout,
                    )

                cache = self.cache
                t = RegistryTransport(
                    registry,
                    ref.endpoint,
                    self._topts,
                    auth_factory,
                    scheme_hint=cache.get_scheme(ref.endpoint) if cache else None,
                    remember_scheme=(lambda s: cache.put_scheme(ref.endpoint, s)) if cache else (lambda s: None),
                )
                self._transports[ref.registry] = t
            return t

    def _resolve(self, ref: Reference, cache_only: bool = False) -> tuple[str, str, bytes]:
        """(digest, media type, body) of what the reference names."""
        if ref.digest is not None:
            media_type, body = self._by_digest(ref, ref.digest, cache_only)
            return ref.digest, media_type, body
        assert ref.tag is not None
        cache, opts = self.cache, self.options
        entry = cache.get_tag(ref.registry, ref.repository, ref.tag) if cache else None
        if opts.offline:
            if entry is None:
                raise OfflineMiss(f"{ref} is not in the local cache and --offline forbids asking the registry; "
                                  "run once without --offline")
            return entry.digest, *self._by_digest(ref, entry.digest)
        if entry is not None and cache is not None:
            cached = cache.get_manifest(entry.digest)
            if cached is not None and not opts.refresh and entry.fresh(opts.ttl):
                return entry.digest, *cached
            if cache_only:
                raise NeedsNetwork
            if cached is not None:
                # Revalidate with HEAD: free on Docker Hub's pull limit, and no body when unchanged.
                digest = self._head_digest(ref)
                if digest == entry.digest:
                    cache.put_tag(ref.registry, ref.repository, ref.tag, digest, cached[0])
                    return digest, *cached
        if cache_only:
            raise NeedsNetwork
        return self._get_by_tag(ref)

    def _head_digest(self, ref: Reference) -> Optional[str]:
        try:
            resp = self._transport(ref).request("HEAD", ref.repository, f"manifests/{ref.tag}",
                                                {"Accept": ACCEPT}, f"tag {ref.tag}")
        except RegistryError:
            return None  # let the GET that follows produce the precise error (HEAD has no body)
        return resp.headers.get("Docker-Content-Digest")

    def _get_by_tag(self, ref: Reference) -> tuple[str, str, bytes]:
        assert ref.tag is not None
        resp = self._transport(ref).request("GET", ref.repository, f"manifests/{ref.tag}",
                                            {"Accept": ACCEPT}, f"tag {ref.tag}")
        body, media_type = resp.content, _content_type(resp)
        header = resp.headers.get("Docker-Content-Digest")
        if header:
            verify_digest(body, header)
            digest = header
        else:
            digest = compute_digest(body)
        parse_manifest(body, media_type)  # refuse schema 1 and unknown types before caching anything
        if self.cache is not None:
            self.cache.put_manifest(digest, media_type, body)
            self.cache.put_tag(ref.registry, ref.repository, ref.tag, digest, media_type)
        return digest, media_type, body

    def _by_digest(self, ref: Reference, digest: str, cache_only: bool = False) -> tuple[str, bytes]:
        if self.cache is not None:
            cached = self.cache.get_manifest(digest)
            if cached is not None:
                return cached
        if cache_only and not self.options.offline:
            raise NeedsNetwork
        if self.options.offline:
            raise OfflineMiss(f"manifest {digest} of {ref.name} is not in the local cache and --offline "
                              "forbids asking the registry; run once without --offline")
        resp = self._transport(ref).request("GET", ref.repository, f"manifests/{digest}",
                                            {"Accept": ACCEPT}, f"manifest {digest}")
        body, media_type = resp.content, _content_type(resp)
        verify_digest(body, digest)
        parse_manifest(body, media_type)
        if self.cache is not None:
            self.cache.put_manifest(digest, media_type, body)
        return media_type, body


def _content_type(resp: object) -> str:
    headers = getattr(resp, "headers", {})
    return str(headers.get("Content-Type", "")).split(";", 1)[0].strip()


def _refuse_offline(method: str, url: str) -> None:
    raise OfflineMiss(f"--offline: refusing to contact the registry ({method} {url.split('/v2/', 1)[0]})")


