"""cli/printflags: -o read once into a printer; commands ask the printer, never the string."""

from __future__ import annotations

import pytest

from kubectl_imagecache.cli.printflags import (
    CustomColumnsPrinter,
    DocumentPrinter,
    JSONPathPrinter,
    ObjectNamePrinter,
    PrintFlags,
    TablePrinter,
)
from kubectl_imagecache.cli.view import as_list
from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.model.imagecache import RESOURCE

LIST = ("table", "wide", "json", "yaml", "name")
TEMPLATES = ("jsonpath", "custom-columns")


@pytest.mark.parametrize("output, kind, document, wide", [
    ("table", TablePrinter, False, False),
    ("wide", TablePrinter, False, True),
    ("json", DocumentPrinter, True, False),
    ("=yaml", DocumentPrinter, True, False),  # click hands -o=yaml as "=yaml"
    ("name", ObjectNamePrinter, False, False),
    ("jsonpath={.items[*].metadata.name}", JSONPathPrinter, False, False),
    ("custom-columns=NAME:.metadata.name", CustomColumnsPrinter, False, False),
])
def test_each_output_gives_its_printer(output: str, kind: type, document: bool, wide: bool) -> None:
    printer = PrintFlags(output, LIST, TEMPLATES).to_printer()
    assert isinstance(printer, kind)
    assert (printer.document, printer.wide) == (document, wide)
    assert printer.format == output.lstrip("=").partition("=")[0]


def test_a_format_the_command_does_not_offer_is_kubectls_error() -> None:
    with pytest.raises(UsageError, match='unable to match a printer suitable for the output format "wide"'):
        PrintFlags("wide").to_printer()
    with pytest.raises(UsageError, match="each column is HEADER:JSONPATH"):
        PrintFlags("custom-columns=NAME", LIST, TEMPLATES).to_printer()


def test_printers_write_what_kubectl_writes(capsys: pytest.CaptureFixture[str]) -> None:
    items = [{"kind": "ImageCache", "metadata": {"name": n}, "spec": {"imageCacheSize": s}}
             for n, s in (("a", 20), ("b", 30))]
    PrintFlags("name", LIST).to_printer().print_obj(as_list(items))
    PrintFlags("name", LIST).to_printer().print_obj(items[0])
    PrintFlags("json").to_printer().print_obj({"k": 1})
    PrintFlags("yaml").to_printer().print_obj({"k": [1]})
    PrintFlags("jsonpath={.items[*].metadata.name}", LIST, TEMPLATES).to_printer().print_obj(as_list(items))
    columns = PrintFlags("custom-columns=NAME:.metadata.name,SIZE:{.spec.imageCacheSize}", LIST, TEMPLATES)
    printer = columns.to_printer()
    assert isinstance(printer, CustomColumnsPrinter)
    assert (printer.headers, printer.row(items[1])) == (["NAME", "SIZE"], ["b", "30"])
    TablePrinter.print_rows([printer.row(i) for i in items], printer.headers)
    out = capsys.readouterr().out
    assert out == (f"{RESOURCE}/a\n{RESOURCE}/b\n{RESOURCE}/a\n"
                   '{\n  "k": 1\n}\n'
                   "k:\n- 1\n"
                   "a b\n"
                   "NAME   SIZE\na      20\nb      30\n")
