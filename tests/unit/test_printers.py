"""cli/printers: kubectl's name lines, and text made safe for one terminal line."""

from __future__ import annotations

import pytest

from kubectl_imagecache.cli.printers import NamePrinter, escape
from kubectl_imagecache.model.imagecache import RESOURCE


def test_name_printer_writes_kubectl_lines(capsys: pytest.CaptureFixture[str]) -> None:
    printer = NamePrinter()
    printer.name("a")
    printer.name("b", "created")
    printer.name("c", "condition met")
    printer.deleted("d")
    NamePrinter(err=True).deleted("e")
    out, err = capsys.readouterr()
    assert RESOURCE == "imagecache.eci.alibabacloud.com"
    assert out.splitlines() == [f"{RESOURCE}/a", f"{RESOURCE}/b created", f"{RESOURCE}/c condition met",
                                f'{RESOURCE} "d" deleted']
    assert err == f'{RESOURCE} "e" deleted\n'


@pytest.mark.parametrize("text, expected", [
    ("plain text, ünïcode", "plain text, ünïcode"),
    ("two\nlines\r\tand tab", "two\\nlines\\r\\tand tab"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("c1 \x9b31m csi, del \x7f", "c1 \\x9b31m csi, del \\x7f"),
])
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


def test_escape_bounds_the_length() -> None:
    assert escape("x" * 10_000, limit=50) == "x" * 47 + "..."
    assert escape("\n" * 10_000, limit=50).endswith("...") and len(escape("\n" * 10_000, limit=50)) == 50
