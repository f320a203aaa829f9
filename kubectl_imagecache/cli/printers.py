"""Printers, apart from commands (as in cli-runtime): stdout carries only the requested output."""

from __future__ import annotations

import json
import sys
from typing import Any, Sequence

__all__ = [
    "OUTPUT_FORMATS", "print_json", "print_yaml", "print_table", "print_structured", "warn", "info",
    "interactive", "confirm",
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
    import click

    return click.confirm(question, default=False, err=True)
