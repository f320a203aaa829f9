"""An emulated ECI cloud controller: turns ImageCache objects into (pretend) cloud caches.

The real controller runs in Alibaba Cloud and cannot run here, so tests and the demo use this one.
It watches ImageCaches and drives ``status`` through the status subresource with the phases the
cloud writes:

* no status      -> ``Pending`` ("0%"), the phase a cache starts in;
* ``Pending``    -> ``Failed`` at once when the cloud's API would refuse the spec (more than 20
  images, a size outside 20..32768 GiB, a pull secret not written ``namespace:name``...: the
  permissive CRD real clusters carry lets all of these through);
* ``Pending``    -> ``Preparing``: ``imageCacheId`` (``imc-<random>``), ``startTime``; the build
  instance reads the pull secrets, resolves every image's manifest (linux/amd64, or the
  ``k8s.aliyun.com/imc-cpu-arch`` annotation's architecture) and sizes the disk: less than twice
  the images' size (distinct blobs; ``imageCacheSize`` absent = the cloud's 20 GiB) fails here;
* ``Preparing``  -> ``Creating``: every blob downloaded and checked, ``progress`` rising with the bytes;
* ``Creating``   -> ``Ready`` at ``"100%"``, ``expireDateTime`` = start + ``retentionDays``;
* a spec change of a ``Ready`` (or ``UpdateFailed``) cache -> ``Updating`` -> ``Ready``, or
  ``UpdateFailed`` (the cache keeps its previous content, id and expiry);
* ``Failed`` with ``reason`` and a Warning event when an image is missing or unauthorized, or a
  pull secret is unusable; ``expireDateTime`` = failure + 24 h (the cloud keeps failed caches a day).

Every step also appends to ``status.events`` and creates a Kubernetes Event (core/v1, in the
``default`` namespace as for any cluster-scoped object) with the same reason, message and type.
Timestamps are written as the cloud's Go code writes RFC 3339: ``time_style`` picks one of
gotime.STYLES or, by default, gives each cache the next style in turn (seconds or nanoseconds,
``Z`` or ``+08:00``), so every reader of status meets all of them. Expired caches are deleted, as
the cloud deletes them. ``step_delay`` is the speed knob: the pause between build steps.

The API server is reached with the official ``kubernetes`` client and registries with the test
OCI client: nothing here imports ``kubectl_imagecache``. It is a development tool, not a command.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Optional

from tests.fakes.emulator import cloud, gotime
from tests.fakes.emulator.cloud import BuildFailed, Cancelled

GROUP, VERSION, PLURAL, KIND = "eci.alibabacloud.com", "v1", "imagecaches", "ImageCache"
PENDING, PREPARING, CREATING, READY = "Pending", "Preparing", "Creating", "Ready"
FAILED, UPDATING, UPDATE_FAILED = "Failed", "Updating", "UpdateFailed"
DONE_PHASES = (READY, FAILED, UPDATE_FAILED)
EVENT_NAMESPACE = "default"  # Events about cluster-scoped objects live here (as for Nodes)
COMPONENT = "eci-imagecache-controller"
FAILED_RETENTION = gotime.hours(24)

log = logging.getLogger("imagecache-emulator")


@dataclass(frozen=True)
class EmulatorOptions:
    step_delay: float = 0.5  # seconds slept after each build step: the speed knob
    resync: float = 30.0  # full relist period: expiry checks and a safety net for missed events
    watch_timeout: int = 30  # server-side watch timeout; bounds how long stop() waits
    workers: int = 4  # caches built in parallel
    delete_expired: bool = True
    time_style: str = gotime.MIXED  # a gotime.STYLES name, or each cache the next one in turn
    kube_events: bool = True  # also create core/v1 Events beside status.events


def new_cache_id() -> str:
    """imc- plus 20 lowercase letters and digits, the shape of the cloud's ids."""
    alphabet = string.ascii_lowercase + string.digits
    return "imc-" + "".join(secrets.choice(alphabet) for _ in range(20))


class Gone(Exception):
    """The object was deleted (or replaced by a new one of the same name) while being built."""


@dataclass
class _Build:
    uid: str
    generation: int
    cancel: threading.Event = field(default_factory=threading.Event)


class Emulator:
    """Watch ImageCaches and build them; ``start()`` runs it in a thread, ``run()`` in the caller's."""

    def __init__(self, api_client: Any, options: EmulatorOptions = EmulatorOptions()) -> None:
        from kubernetes import client  # lazy: the client is slow to import

        if options.time_style != gotime.MIXED and options.time_style not in gotime.STYLES:
            raise ValueError(f"time_style {options.time_style!r}: one of {', '.join(gotime.STYLES)} or mixed")
        self.api = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.options = options
        self._stopping = threading.Event()
        self._builds: dict[str, _Build] = {}  # by name: one build per name at a time
        # The cloud's memory: the spec generation each cache was last built from (by uid). A cache the
        # emulator meets already built is adopted at its current generation.
        self._built: dict[str, int] = {}
        self._styles: dict[str, str] = {}
        self._style_turn = count()
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

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._builds)

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
        seen_names, seen_uids = set(), set()
        for obj in listing["items"]:
            seen_names.add(obj["metadata"]["name"])
            seen_uids.add(obj["metadata"]["uid"])
            self._reconcile(obj)
        with self._lock:  # deleted while we were not watching
            for name in [n for n in self._builds if n not in seen_names]:
                self._builds.pop(name).cancel.set()
            for uid in [u for u in self._built if u not in seen_uids]:
                del self._built[uid]
        return str(listing["metadata"]["resourceVersion"])

    def _list(self) -> dict[str, Any]:
        return self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)  # type: ignore[no-any-return]

    def _forget(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        with self._lock:
            self._built.pop(meta["uid"], None)
            self._styles.pop(meta["uid"], None)
            build = self._builds.get(meta["name"])
            if build is not None and build.uid == meta["uid"]:
                build.cancel.set()
                del self._builds[meta["name"]]

    def _reconcile(self, obj: dict[str, Any]) -> None:
        meta, status = obj["metadata"], obj.get("status") or {}
        name, uid, generation = meta["name"], meta["uid"], int(meta.get("generation") or 1)
        if meta.get("deletionTimestamp"):
            return
        phase = status.get("phase")
        expired, kind = False, "create"
        with self._lock:
            current = self._builds.get(name)
            if current is not None and current.uid == uid:
                return  # already building this object; a spec change meanwhile is seen when it ends
            built = self._built.get(uid)
            if phase in DONE_PHASES:
                if built is None:
                    self._built[uid] = built = generation  # adopt what the cloud already holds
                expire = gotime.parse_time(status.get("expireDateTime"))
                if self.options.delete_expired and expire is not None and expire <= gotime.now_ns():
                    expired = True
                elif phase != FAILED and generation > built:
                    kind = "update"  # a failed cache is not updated: it is recreated
                else:
                    return
            elif built is not None and built >= generation:
                return  # a late event from our own writes to a build that has finished
            elif phase == UPDATING:
                kind = "update"
            if not expired:
                if current is not None:  # same name, new object: the old build must stop writing
                    current.cancel.set()
                build = self._builds[name] = _Build(uid, generation)
        if expired:
            self._delete_expired(name, uid)
        else:
            self._pool.submit(self._build_guarded, obj, build, kind)

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

    def _build_guarded(self, obj: dict[str, Any], build: _Build, kind: str) -> None:
        name = obj["metadata"]["name"]
        finished = False
        try:
            _CacheBuild(self, obj, build).run(kind)
            finished = True
        except (Gone, Cancelled):
            log.info("%s deleted or replaced during its build; dropped", name)
        except Exception:  # a bug must not kill the worker pool silently
            log.exception("building %s crashed", name)
        finally:
            with self._lock:
                if finished:
                    self._built[build.uid] = build.generation
                if self._builds.get(name) is build:
                    del self._builds[name]
        if finished:
            self._recheck(name)

    def _recheck(self, name: str) -> None:
        """Look again once a build ends: a spec change made during it was ignored while it ran."""
        from kubernetes.client.rest import ApiException

        try:
            obj = self.custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
        except ApiException:
            return  # gone, or the API is away: the watch and the next relist take it from here
        self._reconcile(obj)

    def style_for(self, uid: str) -> str:
        if self.options.time_style != gotime.MIXED:
            return self.options.time_style
        with self._lock:
            if uid not in self._styles:
                styles = list(gotime.STYLES)
                self._styles[uid] = styles[next(self._style_turn) % len(styles)]
            return self._styles[uid]

    def patch_status(self, obj: dict[str, Any], build: _Build, status: dict[str, Any], style: str) -> None:
        """Merge-patch the status, only onto the object this build belongs to (uid precondition)."""
        from kubernetes.client.rest import ApiException

        if build.cancel.is_set() or self._stopping.is_set():
            raise Gone()
        body = {"metadata": {"uid": build.uid},
                "status": {**status, "lastUpdatedTime": gotime.format_time(gotime.now_ns(), style)}}
        try:
            self.custom.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, obj["metadata"]["name"], body)
        except ApiException as e:
            if e.status in (404, 409):  # 409: the uid no longer matches, a new object took the name
                raise Gone() from None
            raise

    def kube_event(self, obj: dict[str, Any], reason: str, message: str, type_: str) -> None:
        """A core/v1 Event about the ImageCache, as `kubectl describe` and `kubectl get events` show them."""
        from kubernetes.client.rest import ApiException

        if not self.options.kube_events:
            return
        meta = obj["metadata"]
        stamp = gotime.format_time(gotime.now_ns(), "utc-seconds")  # metav1.Time: what the API server stores
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": EVENT_NAMESPACE},
            "involvedObject": {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": meta["name"],
                               "uid": meta["uid"]},
            "reason": reason, "message": message[:1024], "type": type_,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT, "reportingInstance": "emulator",
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }
        try:
            self.core.create_namespaced_event(EVENT_NAMESPACE, body)
        except ApiException as e:  # an event lost is not a build lost
            log.warning("cannot record event %s for %s: %s %s", reason, meta["name"], e.status, e.reason)

    def read_secret(self, namespace: str, name: str) -> tuple[str, dict[str, str]]:
        from kubernetes.client.rest import ApiException

        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as e:
            if e.status == 404:
                raise cloud.SecretMissing() from None
            raise RuntimeError(f"HTTP {e.status} {e.reason}".strip()) from None
        return str(secret.type or ""), dict(secret.data or {})

    def sleep_step(self, build: _Build) -> None:
        if self.options.step_delay > 0 and build.cancel.wait(self.options.step_delay):
            raise Gone()


class _CacheBuild:
    """The steps of one create or update; every status write goes through the emulator's patch_status."""

    def __init__(self, emulator: Emulator, obj: dict[str, Any], build: _Build) -> None:
        self.em, self.obj, self.build = emulator, obj, build
        self.spec: dict[str, Any] = obj.get("spec") or {}
        self.annotations: dict[str, str] = obj["metadata"].get("annotations") or {}
        self.status = dict(obj.get("status") or {})
        self.events: list[dict[str, str]] = list(self.status.get("events") or [])
        self.style = emulator.style_for(build.uid)

    def time(self, stamp: Optional[int] = None) -> str:
        return gotime.format_time(gotime.now_ns() if stamp is None else stamp, self.style)

    def patch(self, **fields: Any) -> None:
        self.status.update(fields)
        self.em.patch_status(self.obj, self.build, {**fields, "events": self.events}, self.style)

    def event(self, name: str, message: str, type_: str = "Normal") -> None:
        self.events.append({"name": name, "message": message, "type": type_, "timestamp": self.time()})
        self.em.kube_event(self.obj, name, message, type_)

    def run(self, kind: str) -> None:
        if kind == "update":
            self.update()
        else:
            self.create()

    def create(self) -> None:
        if not self.status.get("phase"):
            self.patch(phase=PENDING, progress="0%")
            self.em.sleep_step(self.build)
        try:
            cloud.check_spec(self.spec)  # the CreateImageCache call itself
        except BuildFailed as e:
            self.fail(FAILED, e)
            return
        # A build resumed after an emulator restart keeps its id and start time, as the cloud's would.
        start = gotime.parse_time(self.status.get("startTime"))
        cache_id = self.status.get("imageCacheId")
        if start is None or not cache_id:
            cache_id, start = new_cache_id(), gotime.truncate(gotime.now_ns(), self.style)
            self.event("ImageCacheCreating", f"creating image cache {cache_id} with {len(self.spec['images'])} "
                                             "image(s)")
        self.patch(phase=PREPARING, imageCacheId=cache_id, startTime=self.time(start), progress="0%")
        self.em.sleep_step(self.build)
        try:
            self.build_disk(CREATING)
        except BuildFailed as e:
            self.fail(FAILED, e)
            return
        self.event("ImageCacheCreated", f"image cache {cache_id} is ready")
        self.patch(phase=READY, progress="100%", reason="", expireDateTime=self.expiry(start))

    def update(self) -> None:
        cache_id = self.status.get("imageCacheId") or new_cache_id()
        self.event("ImageCacheUpdating", f"updating image cache {cache_id}")
        self.patch(phase=UPDATING, imageCacheId=cache_id, progress="0%", reason="")
        self.em.sleep_step(self.build)
        try:
            cloud.check_spec(self.spec)  # the UpdateImageCache call
            self.build_disk(UPDATING)
        except BuildFailed as e:
            self.fail(UPDATE_FAILED, e)
            return
        start = gotime.parse_time(self.status.get("startTime")) or gotime.now_ns()
        self.event("ImageCacheUpdated", f"image cache {cache_id} is updated")
        self.patch(phase=READY, progress="100%", reason="", expireDateTime=self.expiry(start))

    def fail(self, phase: str, e: BuildFailed) -> None:
        self.event(e.event, e.reason, "Warning")
        if phase == UPDATE_FAILED:  # the cache keeps what it held, and its expiry
            self.patch(phase=UPDATE_FAILED, reason=e.reason)
        else:
            failed_at = gotime.truncate(gotime.now_ns(), self.style)
            self.patch(phase=FAILED, reason=e.reason, expireDateTime=self.time(failed_at + FAILED_RETENTION))

    def expiry(self, start: int) -> Optional[str]:
        """End of retention, or None (a merge patch removes the field: never expires)."""
        days = self.spec.get("retentionDays")
        return self.time(start + gotime.days(int(days))) if days else None

    def build_disk(self, downloading_phase: str) -> None:
        """Secrets, manifests, sizing (the disk is allocated before any download), then every blob."""
        puller = cloud.Puller(cloud.pull_logins(self.spec, self.em.read_secret), self.annotations)
        try:
            images = []
            for text in self.spec["images"]:  # manifests first: a missing image fails before any download
                images.append(puller.resolve(text))
                self.em.sleep_step(self.build)
            blobs = cloud.distinct_blobs(images)
            need = sum(size for size, _ in blobs.values())
            cloud.check_size(self.spec, need)
            if downloading_phase != self.status.get("phase"):
                self.patch(phase=downloading_phase)
            done = 0
            for digest, (size, image) in blobs.items():
                done += puller.download(image, digest, size, self.build.cancel)
                pct = min(99, done * 100 // max(need, 1))  # 100% only once the cache is Ready
                if f"{pct}%" != self.status.get("progress"):
                    self.patch(progress=f"{pct}%")
                self.em.sleep_step(self.build)
            for image in images:
                self.event("PulledImage", f"pulled image {image.text} ({image.manifest.size} bytes)")
        finally:
            puller.close()
