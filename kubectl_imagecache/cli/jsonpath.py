"""A tested subset of kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath), pure.

No library on PyPI implements kubectl's template syntax (text around `{...}` actions, `range`/`end`),
so this reads the parts people use: `{.a.b}`, `{.items[*].metadata.name}`, `[N]`, `[-1]`, `[*]`, `.*`,
`['dotted.key']`, `$`/`@`, string literals `{"\\n"}`, and `{range .items[*]}...{end}`. Filters
(`[?(...)]`), recursive descent (`..`) and slices are refused in one line rather than guessed.
Like kubectl (allowMissingTemplateKeys), a missing key prints nothing; several results of one
action are joined by a space.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence, Union

from ..errors import UsageError

__all__ = ["Template", "parse_template", "render", "parse_path", "select", "format_value"]

# A path step: ("key", name), ("index", n), ("all", None).
Step = tuple[str, Any]


@dataclass(frozen=True)
class Path:
    root: bool  # $ rather than the current object
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Range:
    path: Path
    body: tuple[Node, ...]


Node = Union[Text, Path, Range]


@dataclass(frozen=True)
class Template:
    nodes: tuple[Node, ...]


def _error(template: str, why: str) -> UsageError:
    return UsageError(f'jsonpath "{template}": {why} (kubectl\'s syntax, e.g. {{.items[*].metadata.name}})')


_STEP = re.compile(r"""\.(?P<key>[A-Za-z0-9_\-$]+|\*)|\[(?P<index>-?\d+)\]|\[(?P<all>\*)\]"""
                   r"""|\[(?P<q>['"])(?P<qkey>(?:\\.|(?!(?P=q)).)*)(?P=q)\]""")


def parse_path(expr: str, template: str = "") -> Path:
    """`.a.b[0]['c.d']`, `$.x`, `@`, or kubectl's relaxed `a.b` (custom-columns)."""
    text = expr.strip()
    root = text.startswith("$")
    if text[:1] in ("$", "@"):
        text = text[1:]
    if text and text[0] not in ".[":
        text = "." + text
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        if text.startswith("..", pos):
            raise _error(template or expr, "recursive descent (..) is not supported")
        if text.startswith("[?", pos):
            raise _error(template or expr, "filters ([?(...)]) are not supported")
        m = _STEP.match(text, pos)
        if not m:
            raise _error(template or expr, f"cannot read {text[pos:]!r}")
        if m.group("key") is not None:
            steps.append(("all", None) if m.group("key") == "*" else ("key", m.group("key")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("all"):
            steps.append(("all", None))
        else:
            steps.append(("key", re.sub(r"\\(.)", r"\1", m.group("qkey"))))
        pos = m.end()
    return Path(root, tuple(steps))


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_template(template: str) -> Template:
    stack: list[list[Node]] = [[]]
    ranges: list[Path] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            stack[-1].append(Text(template[pos:]))
            break
        if start > pos:
            stack[-1].append(Text(template[pos:start]))
        end = _closing(template, start)
        action = template[start + 1:end].strip()
        pos = end + 1
        if action.startswith('"') or action.startswith("'"):
            q = action[0]
            if len(action) < 2 or not action.endswith(q):
                raise _error(template, f"unterminated string {action}")
            stack[-1].append(Text(re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), action[1:-1])))
        elif action == "end":
            if not ranges:
                raise _error(template, "{end} without {range}")
            body = stack.pop()
            stack[-1].append(Range(ranges.pop(), tuple(body)))
        elif action.startswith("range ") or action == "range":
            ranges.append(parse_path(action[5:], template))
            stack.append([])
        elif not action:
            raise _error(template, "empty {}")
        else:
            stack[-1].append(parse_path(action, template))
    if ranges:
        raise _error(template, "{range} without {end}")
    return Template(tuple(stack[0]))


def _closing(template: str, start: int) -> int:
    quote = ""
    i = start + 1
    while i < len(template):
        c = template[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "}":
            return i
        i += 1
    raise _error(template, "unclosed {")


def select(path: Path, current: Any, root: Any) -> list[Any]:
    values = [root if path.root else current]
    for kind, arg in path.steps:
        out: list[Any] = []
        for v in values:
            if kind == "key":
                if isinstance(v, dict) and arg in v:
                    out.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    out.append(v[arg])
            elif isinstance(v, list):
                out.extend(v)
            elif isinstance(v, dict):
                out.extend(v.values())
        values = out
    return values


def format_value(value: Any) -> str:
    """As kubectl prints one result: strings raw, true/false, maps and lists as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _render(nodes: Sequence[Node], current: Any, root: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Range):
            for item in select(node.path, current, root):
                _render(node.body, item, root, out)
        else:
            out.append(" ".join(format_value(v) for v in select(node, current, root)))


def render(template: Union[str, Template], obj: Any) -> str:
    t = parse_template(template) if isinstance(template, str) else template
    out: list[str] = []
    _render(t.nodes, obj, obj, out)
    return "".join(out)
