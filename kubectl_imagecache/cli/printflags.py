"""-o chosen once, as cli-runtime's PrintFlags: one object built from the -o value returns the printer.

Commands ask the printer, never the -o string: `printer.document` (stdout holds one JSON/YAML
document, so progress and name lines go to stderr and nothing asks a question), `printer.wide`, and
`printer.print_obj(obj)`. The -o value itself is read in one place (printers.parse_output).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence, Union

import click

from .printers import OUTPUT_FORMATS, NamePrinter, format_table, parse_output, print_json, print_yaml

if TYPE_CHECKING:
    from .jsonpath import Path, Template

__all__ = ["PrintFlags", "Printer", "TablePrinter", "DocumentPrinter", "ObjectNamePrinter", "JSONPathPrinter",
           "CustomColumnsPrinter", "AnyPrinter", "PrintOptions"]


class Printer:
    """What every printer answers; print_obj prints one object (a document, or each item's line)."""

    format = ""  # the -o name, for messages
    document = False  # stdout holds one JSON/YAML document
    wide = False  # the table's extra columns

    def print_obj(self, obj: Any) -> None:
        raise NotImplementedError


class TablePrinter(Printer):
    """table and wide: commands pass their rows (each command has its own columns)."""

    def __init__(self, wide: bool = False) -> None:
        self.wide = wide
        self.format = "wide" if wide else "table"

    @staticmethod
    def print_rows(rows: Sequence[Sequence[Any]], headers: Sequence[str], no_headers: bool = False) -> None:
        click.echo(format_table(rows, headers, no_headers), nl=False)


@dataclass(frozen=True)
class DocumentPrinter(Printer):
    """json and yaml: the object as one document on stdout."""

    format: str  # json or yaml
    document = True

    def print_obj(self, obj: Any) -> None:
        (print_json if self.format == "json" else print_yaml)(obj)


class ObjectNamePrinter(Printer):
    """-o name: `imagecache.eci.alibabacloud.com/NAME` per object (kubectl's NamePrinter)."""

    format = "name"

    def print_obj(self, obj: Any) -> None:
        items = obj.get("items") if obj.get("kind") == "List" else [obj]
        printer = NamePrinter()
        for o in items:
            printer.name(o["metadata"]["name"])


@dataclass(frozen=True)
class JSONPathPrinter(Printer):
    template: Template
    format = "jsonpath"

    def print_obj(self, obj: Any) -> None:
        from .jsonpath import render

        click.echo(render(self.template, obj), nl=False)
        click.echo("")


@dataclass(frozen=True)
class CustomColumnsPrinter(Printer):
    columns: tuple[tuple[str, Path], ...]
    format = "custom-columns"

    @property
    def headers(self) -> list[str]:
        return [h for h, _ in self.columns]

    def row(self, obj: Mapping[str, Any]) -> list[str]:
        from .jsonpath import format_value, select

        return [",".join(format_value(v) for v in select(p, obj, obj)) or "<none>" for _, p in self.columns]


AnyPrinter = Union[TablePrinter, DocumentPrinter, ObjectNamePrinter, JSONPathPrinter, CustomColumnsPrinter]


@dataclass(frozen=True)
class PrintFlags:
    """The -o value and what a command accepts; to_printer() checks it and returns the printer."""

    output: str = OUTPUT_FORMATS[0]
    formats: Sequence[str] = OUTPUT_FORMATS
    templates: Sequence[str] = ()

    def to_printer(self) -> AnyPrinter:
        fmt = parse_output(self.output, self.formats, self.templates)
        if fmt.name in ("json", "yaml"):
            return DocumentPrinter(fmt.name)
        if fmt.name == "name":
            return ObjectNamePrinter()
        if fmt.name == "jsonpath":
            from .jsonpath import parse_template

            return JSONPathPrinter(parse_template(fmt.argument))
        if fmt.name == "custom-columns":
            return CustomColumnsPrinter(tuple(_column(spec) for spec in fmt.argument.split(",")))
        return TablePrinter(wide=fmt.name == "wide")


def _column(spec: str) -> tuple[str, Path]:
    from ..errors import UsageError
    from .jsonpath import parse_path

    header, sep, path = spec.partition(":")
    if not sep or not header.strip() or not path.strip():
        raise UsageError(f'custom-columns "{spec}": each column is HEADER:JSONPATH, e.g. NAME:.metadata.name')
    return header.strip(), parse_path(path.strip().removeprefix("{").removesuffix("}"), spec)


class PrintOptions:
    """For a command's options dataclass: `self.printer`, built once from its `output` field."""

    output: str
    output_formats: ClassVar[Sequence[str]] = OUTPUT_FORMATS

    @cached_property
    def printer(self) -> AnyPrinter:
        return PrintFlags(self.output, self.output_formats).to_printer()
