"""Printers, apart from commands (as in cli-runtime): stdout carries only the requested output."""

from __future__ import annotations

import json
import sys
from typing import Any, Sequence

import click

from ..imagecache.resource import RESOURCE

__all__ = [
    "OUTPUT_FORMATS", "print_json", "print_yaml", "print_table", "print_structured", "warn", "info",
    "interactive", "confirm", "NamePrinter", "escape",
]

OUTPUT_FORMATS = ("table", "json", "yaml")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def print_yaml(obj: Any) -> None:
    import yaml

    sys.stdout.write(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))


def print_structured(obj: Any, fmt: str) -> None:
    (print_json if fmt == "json" else print_yaml)(obj)


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    from tabulate import tabulate

    # kubectl's look: upper-case headers, no rules, two spaces between columns.
    sys.stdout.write(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True) + "\n")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def info(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def interactive() -> bool:
    """A person at a terminal can answer: destructive commands ask only then."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(question: str) -> bool:
    return click.confirm(question, default=False, err=True)


class NamePrinter:
    """kubectl's name printer: `imagecache.eci.alibabacloud.com/NAME [OPERATION]` (-o name, created,
    condition met), and delete's `imagecache.eci.alibabacloud.com "NAME" deleted`."""

    def __init__(self, err: bool = False) -> None:
        self.err = err  # prune -o json keeps stdout for its document

    def name(self, name: str, operation: str = "") -> None:
        click.echo(f"{RESOURCE}/{name}" + (f" {operation}" if operation else ""), err=self.err)

    def deleted(self, name: str) -> None:
        click.echo(f'{RESOURCE} "{name}" deleted', err=self.err)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}  # C0, DEL, C1 (0x9b is CSI)
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def escape(text: str, limit: int = 500) -> str:
    """`text` safe for one terminal line: control characters escaped, at most `limit` characters."""
    out = text.translate(_CONTROL)
    return out if len(out) <= limit else out[: limit - 3] + "..."
