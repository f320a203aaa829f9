"""Waiting for ImageCaches to reach a phase (or go away): list, then watch from the list's version.

A watch can end (server timeout) or expire (410 Gone); both mean: list again and go on until the
deadline. The outcome of each cache is decided by pure `judge`, so the rules are testable alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ..errors import UsageError
from ..model import imagecache as imc
from ..model.imagecache import FAILED_PHASES, PHASES

__all__ = ["Outcome", "DELETE", "parse_for", "judge", "wait_for", "FAILED_PHASES"]

DELETE = "delete"  # the target of --for=delete: the cache is gone

@dataclass
class Outcome:
    name: str
    done: bool = False
    ok: bool = False
    phase: str = imc.PENDING
    progress: str = "0%"
    reason: str = ""
    events: Sequence[Mapping[str, Any]] = ()


def parse_for(text: str) -> str:
    """--for=Ready | phase=Ready | condition=Ready | delete -> "Ready" or "delete"."""
    value = text.split("=", 1)[1] if "=" in text and text.split("=", 1)[0] in ("phase", "condition", "jsonpath") \
        else text
    if value.lower() == DELETE:
        return DELETE
    for phase in PHASES:
        if value.lower() == phase.lower():
            return phase
    raise UsageError(f'--for "{text}" is not supported: use --for=Ready, --for=phase=Failed or --for=delete')


def judge(name: str, obj: Optional[Mapping[str, Any]], target: str) -> Outcome:
    if obj is None:
        if target == DELETE:
            return Outcome(name, done=True, ok=True, phase="Deleted")
        return Outcome(name, done=True, ok=False, phase="Deleted", reason="the ImageCache was deleted while waiting")
    phase = imc.phase(obj)
    events = (obj.get("status") or {}).get("events")
    out = Outcome(name, phase=phase, progress=imc.progress(obj), reason=imc.reason(obj),
                  events=events if isinstance(events, list) else [])
    if target != DELETE and phase == target:
        out.done, out.ok = True, True
    elif target not in FAILED_PHASES and target != DELETE and phase in FAILED_PHASES:
        out.done = True  # it will not become Ready by itself
    return out


def wait_for(cluster: Any, names: Sequence[str], target: str, timeout: float,
             on_update: Callable[[Outcome], None] = lambda o: None) -> dict[str, Outcome]:
    deadline = time.monotonic() + timeout
    outcomes: dict[str, Outcome] = {}
    wanted = set(names)

    def update(name: str, obj: Optional[Mapping[str, Any]]) -> None:
        new = judge(name, obj, target)
        old = outcomes.get(name)
        outcomes[name] = new
        if old is None or (old.phase, old.progress, old.done) != (new.phase, new.progress, new.done):
            on_update(new)

    while True:
        items, version = cluster.list_imagecaches_at()
        by_name = {str((o.get("metadata") or {}).get("name")): o for o in items}
        for name in names:
            if not (name in outcomes and outcomes[name].done):
                update(name, by_name.get(name))
        if all(outcomes[n].done for n in names):
            return outcomes
        left = deadline - time.monotonic()
        if left <= 0:
            return outcomes
        gone = False
        name_filter = names[0] if len(names) == 1 else None
        for event in cluster.watch_imagecaches(name_filter, version, timeout=min(left, 300)):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                gone = True  # 410 Gone and friends: list again
                break
            name = str((obj.get("metadata") or {}).get("name"))
            if name not in wanted or outcomes.get(name, Outcome(name)).done:
                continue
            update(name, None if kind == "DELETED" else obj)
            if all(outcomes[n].done for n in names):
                return outcomes
            if time.monotonic() >= deadline:
                return outcomes
        if not gone and time.monotonic() >= deadline:
            return outcomes
