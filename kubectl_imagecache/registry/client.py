"""The registry client: resolve a reference to the manifest of one platform, using the local cache.

The platform is chosen as containerd chooses it (platform.py, ImageIndex.select), and checked
against the image config where no index says it: a single-platform image, or an index entry
without a platform.

Request budget (the benchmark checks it): a cold single-platform image costs two GETs (manifest,
config blob), a multi-platform one two (index, manifest); a tag seen within the TTL costs nothing;
an expired tag costs one HEAD when its digest has not moved. Manifests and configs are addressed
by digest, so they are cached forever. Every body fetched is verified against its digest before
use or caching, and read within its bound (4 MiB, as containers/image).

--registry-timeout bounds each image as a whole: every request, retry and wait it needs.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from ..errors import (
    ImageCacheError,
    OfflineMiss,
    PlatformMismatch,
    PlatformNotFound,
    RegistryError,
    ResponseTooLarge,
    UnsupportedManifest,
)
from ..escape import clean
from .auth import RegistryAuth
from .credentials import CredentialStore
from .defaults import DEFAULT_TTL
from .exchange import Send
from .manifest import (
    ACCEPT,
    MAX_CONFIG_BYTES,
    ImageIndex,
    ImageInfo,
    ImageManifest,
    InspectResult,
    Manifest,
    compute_digest,
    parse_config_platform,
    parse_manifest,
    verify_digest,
)
from .platform import DEFAULT_PLATFORM, Platform, canonical, format_platform, only
from .reference import Reference, is_valid_digest
from .transport import RegistryTransport, TransportOptions

if TYPE_CHECKING:  # the client only calls the cache it is given: `estimate --no-cache` never imports it
    from .cache import MetadataCache

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


def _parsed(cached: tuple[str, bytes]) -> Manifest:
    """A manifest the local cache holds, as (media type, body)."""
    media_type, body = cached
    return parse_manifest(body, media_type)


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
        want = platform or self.options.platform
        deadline = time.monotonic() + self._topts.timeout
        digest, manifest = self._resolve(ref, cache_only, deadline)
        if isinstance(manifest, ImageIndex):
            entry = manifest.select(want)
            child = self._by_digest(ref, entry.digest, cache_only, deadline)
            if not isinstance(child, ImageManifest):
                raise UnsupportedManifest(f"platform entry {entry.digest} is not an image manifest (nested index)")
            # Shown as containerd compared it (x86_64 -> amd64), not as the registry spelled it.
            chosen = None if entry.platform is None else canonical(entry.platform)
            if chosen is None:
                # As containerd: an entry without a platform is judged by its config.
                declared = self._config_platform(ref, child, cache_only, deadline)
                if declared is None or not only(want).match(declared):
                    says = f"is {declared} by its config" if declared else "names no platform in its config either"
                    raise PlatformNotFound(
                        f"no image for platform {want}: the index's best candidate, entry {entry.digest} without a "
                        f"platform, {says}, so containerd would not pull it for {want}; choose one with --platform")
                chosen = declared
            return ImageInfo(ref, digest, manifest.media_type, entry.digest, chosen, child)
        actual = self._config_platform(ref, manifest, cache_only, deadline)
        if actual is None:
            # A config without os/architecture: containerd pulls an image named directly without
            # looking, so it is sized for the platform asked, as before.
            return ImageInfo(ref, digest, manifest.media_type, digest, want, manifest)
        if not only(want).match(actual):
            raise PlatformMismatch(
                f"a single-platform image for {actual} (its config says so), not for {want}: ECI would not run it "
                f"there; size it with --platform {clean(format_platform(actual))} or use an image built for {want}")
        return ImageInfo(ref, digest, manifest.media_type, digest, actual, manifest)

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
            except Exception as exc:  # noqa: BLE001 - one image's surprise must not lose the others' report
                results[i] = InspectResult(text, error=RegistryError(
                    f"unexpected error ({exc.__class__.__name__}: {clean(str(exc), 200)}); please report it"))
            progress()

        if self.cache is not None:
            for i in range(len(images)):
                one(i, cache_only=True)
        pending = [i for i, r in enumerate(results) if r is None]
        # --concurrency is per registry (each transport's gate enforces it): enough threads for all.
        registries = len({images[i][1].registry for i in pending}) or 1
        workers = max(1, min(self._topts.concurrency * registries, len(pending), 256))
        if workers == 1:
            for i in pending:
                one(i)
        else:
            # Open each registry's session (importing the HTTP stack) here, before the threads start:
            # done by the first thread instead, that import contends for the GIL with every thread
            # starting and delays the first request.
            for ref in {images[i][1].registry: images[i][1] for i in pending}.values():
                try:
                    self._transport(ref).session()
                except Exception:  # noqa: BLE001 - each image's own request meets it again and reports it
                    pass
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry") as pool:
                list(pool.map(one, pending))
        return [r for r in results if r is not None]

    def blob(self, ref: Reference, digest: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a blob (the emulated cloud controller pulls layers with it)."""
        if not is_valid_digest(digest):
            raise UnsupportedManifest(f"not a valid digest: {clean(digest, 80)}")
        reply = self._transport(ref).request("GET", ref.repository, f"blobs/{digest}", {}, f"blob {digest}",
                                             stream=True)
        resp: Any = reply.raw
        try:
            yield from resp.chunks(chunk_size)
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

                def auth_factory(token_send: Send) -> RegistryAuth:
                    return RegistryAuth(
                        registry,
                        lambda: creds.lookup(registry),
                        lambda: creds.describe_sources(registry),
                        token_send,
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

    def _resolve(self, ref: Reference, cache_only: bool, deadline: float) -> tuple[str, Manifest]:
        """The digest of what the reference names, and that manifest or index, parsed."""
        if ref.digest is not None:
            return ref.digest, self._by_digest(ref, ref.digest, cache_only, deadline)
        assert ref.tag is not None
        cache, opts = self.cache, self.options
        entry = cache.get_tag(ref.registry, ref.repository, ref.tag) if cache else None
        if entry is not None and not is_valid_digest(entry.digest):
            entry = None  # a damaged cache entry is a miss, never a URL
        if opts.offline:
            if entry is None:
                raise OfflineMiss(f"{ref} is not in the local cache and --offline forbids asking the registry; "
                                  "run once without --offline")
            return entry.digest, self._by_digest(ref, entry.digest, False, deadline)
        if entry is not None and cache is not None:
            cached = cache.get_manifest(entry.digest)
            if cached is not None and not opts.refresh and entry.fresh(opts.ttl):
                return entry.digest, _parsed(cached)
            if cache_only:
                raise NeedsNetwork
            if cached is not None:
                # Revalidate with HEAD: free on Docker Hub's pull limit, and no body when unchanged.
                digest = self._head_digest(ref, deadline)
                if digest == entry.digest:
                    cache.put_tag(ref.registry, ref.repository, ref.tag, digest, cached[0])
                    return digest, _parsed(cached)
        if cache_only:
            raise NeedsNetwork
        return self._get_by_tag(ref, deadline)

    def _head_digest(self, ref: Reference, deadline: float) -> Optional[str]:
        try:
            reply = self._transport(ref).request("HEAD", ref.repository, f"manifests/{ref.tag}",
                                                 {"Accept": ACCEPT}, f"tag {ref.tag}", deadline=deadline)
        except RegistryError:
            return None  # let the GET that follows produce the precise error (HEAD has no body)
        digest = reply.headers.get("Docker-Content-Digest")
        return digest if is_valid_digest(digest) else None

    def _get_by_tag(self, ref: Reference, deadline: float) -> tuple[str, Manifest]:
        assert ref.tag is not None
        reply = self._transport(ref).request("GET", ref.repository, f"manifests/{ref.tag}",
                                             {"Accept": ACCEPT}, f"tag {ref.tag}", deadline=deadline)
        body, media_type = reply.body, reply.content_type
        header = reply.headers.get("Docker-Content-Digest")
        if header and is_valid_digest(header):
            verify_digest(body, header)
            digest = header
        else:
            digest = compute_digest(body)  # absent or garbage: our own hash is the truth
        manifest = parse_manifest(body, media_type)  # refuses schema 1, artifacts, unknown types: before caching
        if self.cache is not None:
            self.cache.put_manifest(digest, media_type, body)
            self.cache.put_tag(ref.registry, ref.repository, ref.tag, digest, media_type)
        return digest, manifest

    def _by_digest(self, ref: Reference, digest: str, cache_only: bool, deadline: float) -> Manifest:
        if self.cache is not None:
            cached = self.cache.get_manifest(digest)
            if cached is not None:
                return _parsed(cached)
        self._may_fetch(cache_only, f"manifest {digest} of {ref.name}")
        reply = self._transport(ref).request("GET", ref.repository, f"manifests/{digest}",
                                             {"Accept": ACCEPT}, f"manifest {digest}", deadline=deadline)
        body, media_type = reply.body, reply.content_type
        verify_digest(body, digest)
        manifest = parse_manifest(body, media_type)
        if self.cache is not None:
            self.cache.put_manifest(digest, media_type, body)
        return manifest

    def _config_platform(self, ref: Reference, manifest: ImageManifest, cache_only: bool,
                         deadline: float) -> Optional[Platform]:
        """The platform the image's config declares (a small blob, cached forever by its digest)."""
        config = manifest.config
        body = self.cache.get_blob(config.digest) if self.cache is not None else None
        if body is None:
            self._may_fetch(cache_only, f"config {config.digest} of {ref.name}")
            if config.size > MAX_CONFIG_BYTES:
                raise ResponseTooLarge(f"the image config {config.digest} is declared as {config.size} bytes, more "
                                       f"than the {MAX_CONFIG_BYTES}-byte limit; refusing it")
            reply = self._transport(ref).request("GET", ref.repository, f"blobs/{config.digest}", {},
                                                 f"config {config.digest}", limit=MAX_CONFIG_BYTES, deadline=deadline)
            body = reply.body
            verify_digest(body, config.digest)
            platform = parse_config_platform(body)  # refuse a broken config before caching it
            if self.cache is not None:
                self.cache.put_blob(config.digest, body)
        else:
            platform = parse_config_platform(body)
        # As containerd compares it (x86_64 -> amd64), which is also how it is shown.
        return None if platform is None else canonical(platform)

    def _may_fetch(self, cache_only: bool, what: str) -> None:
        if self.options.offline:
            raise OfflineMiss(f"{what} is not in the local cache and --offline forbids asking the registry; "
                              "run once without --offline")
        if cache_only:
            raise NeedsNetwork


def _refuse_offline(method: str, url: str) -> None:
    raise OfflineMiss(f"--offline: refusing to contact the registry ({method} {url.split('/v2/', 1)[0]})")
