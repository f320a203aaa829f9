"""cli/printers: kubectl's name lines, and tables whose cells stay on their row."""

from __future__ import annotations

import pytest

from kubectl_imagecache.cli.printers import NamePrinter, format_table
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


def test_a_table_keeps_each_cell_on_its_row() -> None:
    table = format_table([["c1", "bad\u202e\nerror: forged\x1b[2J"]], ["NAME", "REASON"])
    assert table == "NAME   REASON\nc1     bad\\u202e\\nerror: forged\\u001b[2J\n"
