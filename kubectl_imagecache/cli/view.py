"""How ImageCaches are shown: list rows and describe text. Pure: objects and a clock in, text out.

Every value in a cache was written by someone else (a user, the cloud's controller, its events): describe
escapes each line it composes, so a status reason or an event message stays on its line and cannot
restyle the terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

from ..durations import format_duration
from ..escape import clean
from ..model import imagecache as imc
from ..model.imagecache import ANN_DIGESTS, ANN_WORKLOADS, ANNOTATION_PREFIX

__all__ = ["LIST_HEADERS", "WIDE_HEADERS", "list_row", "labels_text", "describe", "freshness_text", "expires_text",
           "as_list", "for_output"]

LIST_HEADERS = ["NAME", "PHASE", "PROGRESS", "ID", "SIZE", "IMAGES", "EXPIRES", "AGE"]
WIDE_HEADERS = LIST_HEADERS + ["IMAGE-LIST", "PULL-SECRETS"]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def expires_text(obj: Mapping[str, Any], now: dt.datetime) -> str:
    expires = imc.expires_at(obj)
    if expires is None:
        return "never"
    delta = (expires - now).total_seconds()
    return f"in {format_duration(delta)}" if delta > 0 else f"{format_duration(-delta)} ago"


def _age(obj: Mapping[str, Any], now: dt.datetime) -> str:
    created = imc.created_at(obj)
    return format_duration((now - created).total_seconds()) if created else "<unknown>"


def list_row(obj: Mapping[str, Any], now: dt.datetime, wide: bool = False) -> list[str]:
    images = imc.images(obj)
    size = imc.size_gib(obj)
    row = [
        imc.name(obj),
        imc.phase(obj),
        imc.progress(obj),
        imc.cache_id(obj) or "<none>",
        f"{size}Gi" if size is not None else "<default>",
        str(len(images)),
        expires_text(obj, now),
        _age(obj, now),
    ]
    if wide:
        row += [",".join(images), ",".join(imc.pull_secrets(obj)) or "<none>"]
    return row


def labels_text(obj: Mapping[str, Any]) -> str:
    """kubectl's LABELS column (--show-labels): k=v,k2=v2 sorted, or <none>."""
    labels = _meta(obj).get("labels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def for_output(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as kubectl prints it: without managedFields (kubectl's --show-managed-fields=false)."""
    out = dict(obj)
    if isinstance(out.get("metadata"), Mapping):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "managedFields"}
    return out


def as_list(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """kubectl's shape for several objects in -o json|yaml."""
    return {"apiVersion": "v1", "kind": "List", "items": [for_output(i) for i in items],
            "metadata": {"resourceVersion": ""}}


def describe(obj: Mapping[str, Any], now: dt.datetime) -> str:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    ann = meta.get("annotations") or {}
    lines = [f"Name:           {meta.get('name')}"]
    labels = meta.get("labels") or {}
    lines.append("Labels:         " + (", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"))
    others = {k: v for k, v in ann.items() if not k.startswith(ANNOTATION_PREFIX)}
    lines.append("Annotations:    " + (", ".join(f"{k}={v}" for k, v in sorted(others.items())) or "<none>"))
    lines.append(f"Created:        {meta.get('creationTimestamp', '<unknown>')} ({_age(obj, now)} ago)")
    lines.append("Spec:")
    size = imc.size_gib(obj)
    lines.append(f"  Size:         {size} GiB" if size is not None
                 else f"  Size:         {imc.DEFAULT_SIZE_GIB} GiB (the cloud's default: imageCacheSize is not set)")
    days = spec.get("retentionDays")
    lines.append(f"  Retention:    {f'{days} days' if days else 'none (kept until deleted)'}")
    lines.append("  Pull secrets: " + (", ".join(imc.pull_secrets(obj)) or "<none>"))
    digests = imc.digests(obj)
    lines.append("  Images:")
    for image in imc.images(obj):
        pinned = next((d for i, d in digests.items() if i == image or i.endswith("/" + str(image))), None)
        lines.append(f"    {image}" + (f"  ({pinned})" if pinned else ""))
    lines.append("Status:")
    lines.append(f"  Phase:        {imc.phase(obj)}")
    lines.append(f"  Progress:     {imc.progress(obj)}")
    lines.append(f"  Id:           {imc.cache_id(obj) or '<none>'}")
    if status.get("reason"):
        lines.append(f"  Reason:       {status['reason']}")
    lines.append(f"  Started:      {status.get('startTime') or '<not yet>'}")
    lines.append(f"  Last updated: {status.get('lastUpdatedTime') or '<never>'}")
    lines.append(f"  Expires:      {expires_text(obj, now)}" + (f" ({status['expireDateTime']})"
                                                               if status.get("expireDateTime") else ""))
    if ANN_DIGESTS in ann or ANN_WORKLOADS in ann:
        lines.append("Provenance (kubectl-imagecache):")
        workloads = imc.workloads(obj)
        lines.append("  Workloads:    " + (", ".join(workloads) if workloads else
                                           "<none: images given directly>" if workloads is not None else "<unknown>"))
        lines.append(f"  Platform:     {imc.platform(obj) or '<unknown>'}")
        nbytes = imc.images_bytes(obj)
        if nbytes is not None:
            lines.append(f"  Images size:  {nbytes} bytes (estimated when created)")
        for image, digest in sorted(digests.items()):
            lines.append(f"  {image} -> {digest}")
    events = status.get("events") or []
    lines.append("Events:" + ("" if events else "         <none>"))
    if events:
        from tabulate import tabulate

        rows = [[clean(e.get(k, ""), None) for k in ("type", "name", "timestamp", "message")] for e in events]
        table = tabulate(rows, headers=["TYPE", "REASON", "TIME", "MESSAGE"], tablefmt="plain", disable_numparse=True)
        lines.extend("  " + line for line in table.splitlines())
    return "\n".join(clean(line, None) for line in lines) + "\n"


def freshness_text(f: Any) -> str:
    """Per image: the digest recorded when the cache was made and the one its tag names now."""
    lines = ["", "Freshness:"]
    for i in f.images:
        state = "STALE" if i.stale else ("current" if i.known else "unknown")
        lines.append(f"  {i.image}  recorded {i.recorded or '<none>'}  current {i.current or '<unknown>'}  {state}")
    return "\n".join(clean(line, None) for line in lines)
