"""Where images come from: plain lists, Kubernetes manifests, and live workload objects.

Pure extraction (no network, no cluster); the only I/O is :func:`read_image_file`. Objects are
dicts in API (camelCase) form, as ``kubectl get -o json`` prints them or as
``ApiClient().sanitize_for_serialization(model)`` returns them for the kubernetes client.

Pull secrets and service accounts: every :class:`Workload` carries the names of its pod
template's ``imagePullSecrets`` and its effective service account (``"default"`` when the spec
names none, as Kubernetes does), so ``warm`` can discover credentials without re-reading the
object. They do not take part in equality: a workload is identified by kind, namespace and
name. :func:`workload_pull_secrets` and :func:`workload_service_account` give the same
answers for a single object.

Image texts are kept as given; nothing here validates references (callers do, with
reference.parse_reference, so the error names the rule), but :func:`unique_images` uses the
normalized form to decide which images are the same.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional, Union

import yaml

from ..errors import InvalidReference, UsageError
from ..model.kinds import Workload, pod_spec, workload_pull_secrets, workload_service_account
from ..registry.reference import parse_reference

__all__ = [
    "STDIN",
    "ImageUse",
    "Workload",
    "images_from_objects",
    "parse_image_input",
    "read_image_file",
    "unique_images",
]

STDIN = "-"
STDIN_SOURCE = "stdin"

# Ephemeral containers exist only on live pods (added by kubectl debug); templates cannot have them.
_CONTAINER_FIELDS = ("initContainers", "containers")
_POD_CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class ImageUse:
    """One image as found: the text as given, and where it came from.

    ``origin`` says where in the input it was ("images.txt:3", "deploy.yaml document 2") so a
    later error about the image can point at it; it does not take part in equality.
    """

    image: str
    workload: Optional[Workload] = None
    container: Optional[str] = None
    origin: Optional[str] = field(default=None, compare=False)


# --- Kubernetes objects ---------------------------------------------------------------------------


def _is_list_kind(kind: str) -> bool:
    return kind == "List" or kind.endswith("List")


def _where(path: str) -> str:
    return path or "object"


def _walk(obj: Any, path: str, item_kind: Optional[str]) -> Iterator[ImageUse]:
    if not isinstance(obj, Mapping):
        raise UsageError(f"{_where(path)} is not a Kubernetes object: expected a mapping with a kind")
    kind = obj.get("kind") or item_kind
    if not isinstance(kind, str) or not kind:
        raise UsageError(f'{_where(path)} has no "kind": expected a Kubernetes object such as a Deployment')
    if _is_list_kind(kind):
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise UsageError(f'{_where(path)}: "items" of {kind} must be a list')
        # Items of typed lists straight from the API server (PodList...) carry no kind of their own.
        inner = kind[: -len("List")] or None
        for i, item in enumerate(items):
            yield from _walk(item, f"{path}.items[{i}]" if path else f"items[{i}]", inner)
        return
    spec = pod_spec({**obj, "kind": kind})
    if spec is None:
        return  # Service, ConfigMap...: no pods, nothing to cache
    yield from _images_of_pod_spec(obj, kind, spec, path)


def _images_of_pod_spec(obj: Mapping[str, Any], kind: str, spec: Mapping[str, Any], path: str) -> Iterator[ImageUse]:
    raw_meta = obj.get("metadata")
    metadata: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    namespace = metadata.get("namespace") or None
    whole = {**obj, "kind": kind}
    workload = Workload(
        kind=kind,
        namespace=str(namespace) if namespace else None,
        name=str(name),
        pull_secrets=tuple(workload_pull_secrets(whole)),
        service_account=workload_service_account(whole),
    )
    label = str(workload) or _where(path)
    fields = _POD_CONTAINER_FIELDS if kind == "Pod" else _CONTAINER_FIELDS
    for field_name in fields:
        containers = spec.get(field_name) or []
        if not isinstance(containers, list):
            raise UsageError(f"{label}: {field_name} must be a list of containers")
        for i, container in enumerate(containers):
            cname = container.get("name") if isinstance(container, Mapping) else None
            image = container.get("image") if isinstance(container, Mapping) else None
            if not isinstance(image, str) or not image.strip():
                # A container without an image cannot run; guessing would size the wrong cache.
                what = f'container "{cname}"' if cname else f"{field_name}[{i}]"
                raise UsageError(f"{label}: {what} has no image")
            yield ImageUse(image.strip(), workload, str(cname) if cname else None, origin=path or None)


def images_from_objects(objs: Iterable[Mapping[str, Any]]) -> list[ImageUse]:
    """Every container image of the pod-running objects in ``objs``, in document order.

    Lists (``List`` and ``*List`` kinds) are walked recursively; init containers come before
    containers, as the kubelet pulls them. Kinds without pods are skipped silently. Malformed
    objects raise UsageError naming the object and field.
    """
    uses: list[ImageUse] = []
    for obj in objs:
        uses.extend(_walk(obj, "", None))
    return uses


# --- text input -----------------------------------------------------------------------------------

# A line no image reference can be: a YAML key ("kind: Pod", "- name: x"), a document marker, or
# JSON. Any of them means the text is manifests, not a list. Images never contain ": " or "{".
_YAML_HINT = re.compile(
    r"""^\s*(?:---|\.\.\.)(?:\s|$)"""
    r"""|^\s*(?:-\s+)?(?:"[^"]*"|'[^']*'|[^\s#"'][^\s:#]*)\s*:(?:\s|$)"""
    r"""|^\s*\{""",
    re.MULTILINE,
)
_COMMENT = re.compile(r"(?:^|\s+)#.*$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_image_input(text: str, source: str) -> list[ImageUse]:
    """Images in ``text``: a plain list (one per line) or Kubernetes YAML/JSON (multi-document).

    ``source`` names the input in messages (a path, or "stdin"). Raises UsageError naming the
    source and the line or document when the text is neither.
    """
    text = text.lstrip("\ufeff")
    if _YAML_HINT.search(text):
        return _parse_manifests(text, source)
    return _parse_list(text, source)


def _parse_list(text: str, source: str) -> list[ImageUse]:
    uses: list[ImageUse] = []
    for number, line in enumerate(text.splitlines(), start=1):
        image = _COMMENT.sub("", line).strip()
        if not image:
            continue
        if any(c.isspace() for c in image):
            raise UsageError(
                f'{_quote_source(source)} line {number}: "{image}" has spaces inside; '
                "give one image per line (# starts a comment)"
            )
        uses.append(ImageUse(image, origin=f"{source}:{number}"))
    return uses


def _parse_manifests(text: str, source: str) -> list[ImageUse]:
    uses: list[ImageUse] = []
    for number, line, doc in _load_documents(text, source):
        where = f"{_quote_source(source)} document {number} (line {line})"
        if doc is None:
            continue  # empty document, e.g. a trailing "---"
        if not isinstance(doc, Mapping):
            kind = "a list" if isinstance(doc, list) else "a scalar"
            raise UsageError(
                f"{where} is {kind}, not a Kubernetes object: give objects with a kind "
                "(several as a kind: List with items), or a plain list with one image per line"
            )
        if not doc.get("kind"):
            raise UsageError(
                f'{where} is a mapping without "kind": give Kubernetes objects, or a plain list with one image per line'
            )
        try:
            found = images_from_objects([doc])
        except UsageError as error:
            raise UsageError(f"{where}: {error.message}") from None
        origin = f"{source} document {number}"
        uses.extend(ImageUse(u.image, u.workload, u.container, origin) for u in found)
    return uses


def _load_documents(text: str, source: str) -> Iterator[tuple[int, int, Any]]:
    """(document number, first line, data) for each YAML document; YAML errors -> UsageError."""
    loader = _YAML_LOADER(text)
    number = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said one follows
                break
            number += 1
            yield number, node.start_mark.line + 1, loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "malformed"
        raise UsageError(f"{_quote_source(source)}: invalid YAML{at}: {problem}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{_quote_source(source)}: invalid YAML: {error}") from None
    finally:
        loader.dispose()


def _quote_source(source: str) -> str:
    return source if source == STDIN_SOURCE else f'"{source}"'


def read_image_file(path: str) -> list[ImageUse]:
    """Images from the file at ``path``, or from stdin for "-". Unreadable -> UsageError."""
    if path == STDIN:
        try:
            text = sys.stdin.read()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read stdin: {error}") from None
        return parse_image_input(text, STDIN_SOURCE)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as error:
        raise UsageError(f'cannot read "{path}": {error.strerror or error}') from None
    except UnicodeDecodeError as error:
        raise UsageError(f'cannot read "{path}": not UTF-8 text (byte {error.start})') from None
    return parse_image_input(text, path)


# --- deduplication --------------------------------------------------------------------------------


def _identity(text: str) -> str:
    try:
        return str(parse_reference(text))
    except InvalidReference:
        # Kept, so the caller's validation reports it; identical texts still count once.
        return "\0" + text.strip()


def unique_images(uses: Iterable[Union[ImageUse, str]]) -> list[str]:
    """Image texts without duplicates, first seen first; "nginx" and "docker.io/library/nginx:latest"
    are the same image. Unparsable texts are kept (deduplicated by text) for the caller to reject.
    """
    seen: dict[str, str] = {}
    for use in uses:
        text = use.image if isinstance(use, ImageUse) else use
        seen.setdefault(_identity(text), text.strip())
    return list(seen.values())
