"""An emulated ECI cloud controller: turns ImageCache objects into (pretend) cloud caches.

The real controller runs in Alibaba Cloud and cannot run here, so tests and the demo use this one.
It watches ImageCaches and drives ``status`` through the status subresource as the cloud does:

* no status      -> ``Pending`` ("0%")
* ``Pending``    -> ``Creating``: ``imageCacheId`` (``imc-<random>``), ``startTime``, an event; then
  it really resolves each image's manifest and downloads every blob from the registry (with the
  pull secrets of ``spec.imagePullSecrets``), raising ``progress`` as bytes arrive;
* ``Creating``   -> ``Ready`` at ``"100%"``, ``expireDateTime`` = start + ``retentionDays``;
* or ``Failed`` with ``reason`` and a Warning event when an image is missing or unauthorized, a pull
  secret is unusable, or ``imageCacheSize`` GiB is less than twice the images' size (distinct blobs,
  as the build disk holds them); ``expireDateTime`` = failure + 24 h (the cloud keeps failed caches
  one day).

Expired caches are deleted, as the cloud deletes them. ``step_delay`` is the speed knob: the pause
between build steps (0 in tests, about half a second in the demo so a person sees progress).

Registry access goes through the plugin's own ``RegistryClient`` and pull-secret parsing, so the
emulator pulls exactly as the plugin inspects. It is a development tool, not a plugin command.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from kubectl_imagecache.errors import ImageCacheError, NotFound, Unauthorized
from kubectl_imagecache.kube.api import Cluster
from kubectl_imagecache.registry.client import ClientOptions, ImageInfo, RegistryClient
from kubectl_imagecache.registry.credentials import CredentialStore, load_pull_secrets
from kubectl_imagecache.registry.platform import DEFAULT_PLATFORM, Platform
from kubectl_imagecache.registry.reference import parse_reference
from kubectl_imagecache.registry.transport import TransportOptions

GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"
GIB = 1 << 30
FAILED_RETENTION = timedelta(hours=24)
ARCH_ANNOTATION = "k8s.aliyun.com/imc-cpu-arch"
# Registries reached over HTTP / with unverified TLS, as the cloud is told by these annotations.
INSECURE_ANNOTATIONS = ("k8s.aliyun.com/plain-http-registry", "k8s.aliyun.com/insecure-registry")

log = logging.getLogger("imagecache-emulator")


@dataclass(frozen=True)
class EmulatorOptions:
    step_delay: float = 0.5  # seconds slept after each build step: the speed knob
    resync: float = 30.0  # full relist period: expiry checks and a safety net for missed events
    watch_timeout: int = 30  # server-side watch timeout; bounds how long stop() waits
    workers: int = 4  # caches built in parallel
    delete_expired: bool = True


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def new_cache_id() -> str:
    """imc- plus 20 lowercase letters and digits, the shape of the cloud's ids."""
    alphabet = string.ascii_lowercase + string.digits
    return "imc-" + "".join(secrets.choice(alphabet) for _ in range(20))


class Gone(Exception):
    """The object was deleted (or replaced by a new one of the same name) while being built."""


class BuildFailed(Exception):
    def __init__(self, event: str, reason: str) -> None:
        super().__init__(reason)
        self.event, self.reason = event, reason


@dataclass
class _Build:
    uid: str
    cancel: threading.Event = field(default_factory=threading.Event)


class Emulator:
    """Watch ImageCaches and build them; ``start()`` runs it in a thread, ``run()`` in the caller's."""

    def __init__(self, api_client: Any, options: EmulatorOptions = EmulatorOptions(),
                 registry_factory: Optional[Callable[[CredentialStore, TransportOptions, Platform],
                                                     RegistryClient]] = None) -> None:
        from kubernetes import client  # lazy: the client is slow to import

        self.api = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.options = options
        self._registry_factory = registry_factory or _default_registry
        self._stopping = threading.Event()
        self._builds: dict[str, _Build] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="imc-build")
        self._thread: Optional[threading.Thread] = None
        self._watch: Any = None
        self.relists = 0  # observable by tests: how often the emulator had to list again

    @classmethod
    def from_kubeconfig(cls, path: str, context: Optional[str] = None, **kw: Any) -> Emulator:
        from kubernetes import config

        return cls(config.new_client_from_config(path, context=context, persist_config=False), **kw)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self.run, name="imagecache-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        watcher = self._watch
        if watcher is not None:
            watcher.stop()
            resp = getattr(watcher, "_resp", None)
            if resp is not None:  # unblock the read now instead of waiting for the watch timeout
                try:
                    resp.close()
                except Exception:  # noqa: BLE001 - closing from another thread may race; either way it ends
                    pass
        with self._lock:
            for build in self._builds.values():
                build.cancel.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the informer loop: list, then watch from the list's resourceVersion -----------------------

    def run(self) -> None:
        from kubernetes import watch
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        resource_version: Optional[str] = None
        next_resync = 0.0
        while not self._stopping.is_set():
            try:
                if resource_version is None or time.monotonic() >= next_resync:
                    resource_version = self._relist()
                    next_resync = time.monotonic() + self.options.resync
                self._watch = watch.Watch()
                timeout = max(1, min(self.options.watch_timeout, int(self.options.resync) or 1))
                for event in self._watch.stream(self.custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                                resource_version=resource_version, timeout_seconds=timeout,
                                                allow_watch_bookmarks=True):
                    obj = event["raw_object"]
                    resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                    if event["type"] == "DELETED":
                        self._forget(obj)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        self._reconcile(obj)
                    if self._stopping.is_set() or time.monotonic() >= next_resync:
                        break
            except ApiException as e:
                if e.status == 410:  # our resourceVersion was compacted away: list again
                    log.info("watch expired (410 Gone); relisting")
                    resource_version = None
                    continue
                log.warning("API error %s %s; retrying", e.status, e.reason)
                resource_version = None
                self._stopping.wait(1.0)
            except (HTTPError, OSError) as e:
                if self._stopping.is_set():
                    return  # stop() closed the watch connection under us
                log.warning("API unreachable (%s); retrying", e)
                resource_version = None
                self._stopping.wait(1.0)
            except Exception:  # the controller must outlive anything one event can throw
                if self._stopping.is_set():
                    return
                log.exception("emulator loop error; relisting")
                resource_version = None
                self._stopping.wait(1.0)

    def _relist(self) -> str:
        self.relists += 1
        listing = self._list()
        seen = set()
        for obj in listing["items"]:
            seen.add(obj["metadata"]["name"])
            self._reconcile(obj)
        with self._lock:  # deleted while we were not watching
            for name in [n for n in self._builds if n not in seen]:
                self._builds.pop(name).cancel.set()
        return listing["metadata"]["resourceVersion"]

    def _list(self) -> dict[str, Any]:
        return self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)

    def _forget(self, obj: dict[str, Any]) -> None:
        with self._lock:
            build = self._builds.get(obj["metadata"]["name"])
            if build is not None and build.uid == obj["metadata"]["uid"]:
                build.cancel.set()
                del self._builds[obj["metadata"]["name"]]

    def _reconcile(self, obj: dict[str, Any]) -> None:
        meta, status = obj["metadata"], obj.get("status") or {}
        name, uid = meta["name"], meta["uid"]
        if meta.get("deletionTimestamp"):
            return
        phase = status.get("phase")
        if phase in ("Ready", "Failed"):
            expire = parse_time(status.get("expireDateTime"))
            if self.options.delete_expired and expire is not None and expire <= now():
                self._delete_expired(name, uid)
            return
        with self._lock:
            current = self._builds.get(name)
            if current is not None and current.uid == uid:
                return  # already building this very object
            if current is not None:  # same name, new object: the old build must stop writing
                current.cancel.set()
            build = self._builds[name] = _Build(uid)
        self._pool.submit(self._build_guarded, obj, build)

    def _delete_expired(self, name: str, uid: str) -> None:
        from kubernetes.client.rest import ApiException

        log.info("%s expired; deleting it as the cloud does", name)
        try:
            self.custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name,
                                                     body={"preconditions": {"uid": uid}})
        except ApiException as e:
            if e.status not in (404, 409):
                raise

    # -- one build ---------------------------------------------------------------------------------

    def _build_guarded(self, obj: dict[str, Any], build: _Build) -> None:
        name = obj["metadata"]["name"]
        try:
            _CacheBuild(self, obj, build).run()
        except Gone:
            log.info("%s deleted or replaced during its build; dropped", name)
        except Exception:  # a bug must not kill the worker pool silently
            log.exception("building %s crashed", name)
        finally:
            with self._lock:
                if self._builds.get(name) is build:
                    del self._builds[name]

    def patch_status(self, obj: dict[str, Any], build: _Build, status: dict[str, Any]) -> None:
        """Merge-patch the status, only onto the object this build belongs to (uid precondition)."""
        from kubernetes.client.rest import ApiException

        if build.cancel.is_set() or self._stopping.is_set():
            raise Gone()
        body = {"metadata": {"uid": build.uid}, "status": {**status, "lastUpdatedTime": rfc3339(now())}}
        try:
            self.custom.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, obj["metadata"]["name"], body)
        except ApiException as e:
            if e.status in (404, 409):  # 409: the uid no longer matches, a new object took the name
                raise Gone() from None
            raise

    def sleep_step(self, build: _Build) -> None:
        if self.options.step_delay > 0 and build.cancel.wait(self.options.step_delay):
            raise Gone()


def _default_registry(credentials: CredentialStore, transport: TransportOptions, platform: Platform) -> RegistryClient:
    return RegistryClient(ClientOptions(platform=platform, transport=transport), credentials=credentials)


class _CacheBuild:
    """The steps of one cache build; every status write goes through the emulator's patch_status."""

    def __init__(self, emulator: Emulator, obj: dict[str, Any], build: _Build) -> None:
        self.em, self.obj, self.build = emulator, obj, build
        self.spec = obj.get("spec") or {}
        self.status = dict(obj.get("status") or {})
        self.events: list[dict[str, str]] = list(self.status.get("events") or [])

    def patch(self, **fields: Any) -> None:
        self.status.update(fields)
        self.em.patch_status(self.obj, self.build, {**fields, "events": self.events})

    def event(self, name: str, message: str, type_: str = "Normal") -> None:
        self.events.append({"name": name, "message": message, "type": type_, "timestamp": rfc3339(now())})

    def run(self) -> None:
        if not self.status.get("phase"):
            self.patch(phase="Pending", progress="0%")
            self.em.sleep_step(self.build)
        # A build resumed after an emulator restart keeps its id and start time, as the cloud's would.
        start = parse_time(self.status.get("startTime")) or now()
        cache_id = self.status.get("imageCacheId") or new_cache_id()
        self.event("ImageCacheCreating", f"creating image cache {cache_id} with {len(self.spec['images'])} image(s)")
        self.patch(phase="Creating", imageCacheId=cache_id, startTime=rfc3339(start), progress="0%")
        try:
            self.pull_all()
        except BuildFailed as e:
            failed_at = now()
            self.event(e.event, e.reason, "Warning")
            self.patch(phase="Failed", reason=e.reason, expireDateTime=rfc3339(failed_at + FAILED_RETENTION))
            return
        self.event("ImageCacheCreated", f"image cache {cache_id} is ready")
        ready = {"phase": "Ready", "progress": "100%", "reason": ""}
        days = self.spec.get("retentionDays")
        if days:
            ready["expireDateTime"] = rfc3339(start + timedelta(days=int(days)))
        self.patch(**ready)

    def registry(self) -> RegistryClient:
        annotations = self.obj["metadata"].get("annotations") or {}
        insecure = frozenset(h.strip() for a in INSECURE_ANNOTATIONS for h in annotations.get(a, "").split(",")
                             if h.strip())
        arch = annotations.get(ARCH_ANNOTATION)
        platform = Platform("linux", arch) if arch else DEFAULT_PLATFORM
        try:
            cluster = Cluster(self.em.api)
            pull_secrets = load_pull_secrets(self.spec.get("imagePullSecrets") or [], cluster.get_secret)
        except ImageCacheError as e:
            raise BuildFailed("PullSecretError", f"pull secret unusable: {e}") from None
        return self.em._registry_factory(CredentialStore(pull_secrets=pull_secrets),
                                         TransportOptions(insecure_hosts=insecure, retries=1), platform)

    def pull_all(self) -> None:
        images: list[str] = self.spec["images"]
        client = self.registry()
        try:
            infos: list[ImageInfo] = []
            for image in images:  # manifests first: a missing image fails before any download
                infos.append(self.inspect(client, image))
                self.em.sleep_step(self.build)
            blobs: dict[str, tuple[int, ImageInfo]] = {}
            for info in infos:
                for digest, size in info.blobs:
                    blobs.setdefault(digest, (size, info))
            need = sum(size for size, _ in blobs.values())
            size_gib = int(self.spec.get("imageCacheSize") or 30)
            if size_gib * GIB < 2 * need:
                raise BuildFailed("InsufficientCacheSize",
                                  f"imageCacheSize {size_gib} GiB is less than twice the images' size "
                                  f"({need} bytes; at least {-(-2 * need // GIB)} GiB needed)")
            done = 0
            for digest, (size, info) in blobs.items():
                done += self.fetch_blob(client, info, digest, size)
                pct = min(99, done * 100 // max(need, 1))  # 100% only once the cache is Ready
                if f"{pct}%" != self.status.get("progress"):
                    self.patch(progress=f"{pct}%")
                self.em.sleep_step(self.build)
            for info in infos:
                self.event("PulledImage", f"pulled image {info.reference} ({info.size_bytes} bytes)")
        finally:
            client.close()

    def inspect(self, client: RegistryClient, image: str) -> ImageInfo:
        try:
            return client.inspect(parse_reference(image))
        except NotFound as e:
            raise BuildFailed("ImagePullFailed", f"image {image} not found: {e}") from None
        except Unauthorized as e:
            raise BuildFailed("ImagePullFailed", f"image {image} unauthorized: {e}") from None
        except ImageCacheError as e:
            raise BuildFailed("ImagePullFailed", f"image {image} cannot be pulled: {e}") from None

    def fetch_blob(self, client: RegistryClient, info: ImageInfo, digest: str, size: int) -> int:
        """Download one blob and check it, as the build instance would before snapshotting it."""
        algorithm, _, expected = digest.partition(":")
        h = hashlib.new(algorithm)
        got = 0
        try:
            for chunk in client.blob(info.reference, digest):
                if self.build.cancel.is_set():
                    raise Gone()
                h.update(chunk)
                got += len(chunk)
        except ImageCacheError as e:
            raise BuildFailed("ImagePullFailed", f"image {info.reference}: blob {digest}: {e}") from None
        if h.hexdigest() != expected or got != size:
            raise BuildFailed("ImagePullFailed", f"image {info.reference}: blob {digest} is corrupt "
                                                 f"({got} bytes, expected {size})")
        return got
