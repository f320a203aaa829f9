"""Posting the Events of model/events.py: never the reason a command fails.

An Event is history for `kubectl describe` and `kubectl get events`, not part of the change it
records: a failed post (forbidden by RBAC, the API server busy) is said once per run, as a warning.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import ImageCacheError
from ..model import events

if TYPE_CHECKING:
    from .api import Cluster

__all__ = ["Recorder"]


class Recorder:
    def __init__(self, cluster: Cluster, warn: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.warn = warn
        self.failed = False  # said once; later Events of the run are still tried (a 429 passes)

    def post(self, obj: Mapping[str, Any], reason: str, message: str, kind: str = events.NORMAL) -> None:
        body = events.event(obj, reason, message, dt.datetime.now(dt.timezone.utc), kind)
        try:
            self.cluster.create_event(body)
        except ImageCacheError as exc:
            if not self.failed:
                self.failed = True
                self.warn(f"cannot record Events in namespace {events.NAMESPACE} ({exc.message}); "
                          "the caches' changes are made, their history is not")
