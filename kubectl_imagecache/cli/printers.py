"""Printers, apart from commands (as in cli-runtime): stdout carries only the requested output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import click

from ..errors import UsageError
from ..escape import clean
from ..model.imagecache import RESOURCE

__all__ = [
    "OUTPUT_FORMATS", "print_json", "print_yaml", "print_table", "warn", "info",
    "interactive", "confirm", "NamePrinter", "format_table", "OutputFormat", "parse_output",
]

OUTPUT_FORMATS = ("table", "json", "yaml")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def print_yaml(obj: Any) -> None:
    import yaml

    sys.stdout.write(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], no_headers: bool = False) -> str:
    """kubectl's table: its tabwriter (minwidth 6, padding 3, the last column unpadded), no rules.

    Cells come from the API server, the registry and the cloud: each is escaped to stay in its row."""
    lines = ([] if no_headers else [list(headers)]) + [[clean(c, None) for c in r] for r in rows]
    if not lines:
        return ""
    widths = [max(6, max(len(line[i]) for line in lines if i < len(line)) + 3) for i in range(len(headers))]
    return "".join("".join(c.ljust(widths[i]) if i < len(line) - 1 else c for i, c in enumerate(line)) + "\n"
                   for line in lines)


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], no_headers: bool = False) -> None:
    sys.stdout.write(format_table(rows, headers, no_headers))


@dataclass(frozen=True)
class OutputFormat:
    """-o as kubectl reads it: a name, or a name=argument (jsonpath=TEMPLATE, custom-columns=SPEC)."""

    name: str
    argument: str = ""


def parse_output(text: str, names: Sequence[str], templates: Sequence[str] = ()) -> OutputFormat:
    """`-o json`, `-o=json` (click hands "=json"), `-ojsonpath={...}`; kubectl's error for others."""
    value = text[1:] if text.startswith("=") else text
    name, sep, argument = value.partition("=")
    if name in templates and sep:
        if not argument:
            raise UsageError(f"-o {name}= needs a template, e.g. -o {name}={_EXAMPLES.get(name, '')}")
        return OutputFormat(name, argument)
    if value in names:
        return OutputFormat(value)
    allowed = ",".join(sorted({*names, *templates}))
    raise UsageError(f'unable to match a printer suitable for the output format "{value}", '
                     f"allowed formats are: {allowed}")


_EXAMPLES = {"jsonpath": "'{.items[*].metadata.name}'", "custom-columns": "NAME:.metadata.name"}


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

    def deleted(self, name: str, suffix: str = "") -> None:
        click.echo(f'{RESOURCE} "{name}" deleted{suffix}', err=self.err)
