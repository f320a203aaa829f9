"""kubectl's habits in-process: a misspelled command's suggestion, one-line usage errors, the table's
spacing (kubectl's tabwriter), and -o as kubectl reads it."""

from __future__ import annotations

import re

import pytest

from kubectl_imagecache.cli.main import main
from kubectl_imagecache.cli.printers import OutputFormat, format_table, parse_output
from kubectl_imagecache.errors import EXIT_USAGE, UsageError


@pytest.mark.parametrize("typed, suggested", [("lsit", "list"), ("delet", "delete"), ("prnue", "prune"),
                                               ("waet", "wait"), ("estimte", "estimate"), ("gt", "list")])
def test_misspelled_command_suggests_the_right_one(typed: str, suggested: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([typed]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f'error: unknown command "{typed}" for "kubectl imagecache": did you mean "{suggested}"? '
                   "(see 'kubectl imagecache --help')\n")


def test_unrelated_command_has_no_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xyzzy"]) == EXIT_USAGE
    assert capsys.readouterr().err == ('error: unknown command "xyzzy" for "kubectl imagecache" '
                                       "(see 'kubectl imagecache --help')\n")


@pytest.mark.parametrize("argv", [["list", "--bogus"], ["list", "-o"], ["warm", "--size", "x", "nginx"],
                                  ["wait", "--timeout"], ["list", "-o", "bogus"], ["delete", "--wait=maybe", "x"]])
def test_usage_errors_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err


def test_table_is_spaced_as_kubectl() -> None:
    # kubectl's tabwriter: cell + 3 spaces, at least 6 wide, the last column unpadded.
    text = format_table([["lst-new", "Pending", "1"], ["b", "Ready", "20"]], ["NAME", "PHASE", "IMAGES"])
    assert text == ("NAME      PHASE     IMAGES\n"
                    "lst-new   Pending   1\n"
                    "b         Ready     20\n")
    assert format_table([["a", "x"]], ["NAME", "ID"], no_headers=True) == "a     x\n"


@pytest.mark.parametrize("typed, parsed", [
    ("json", OutputFormat("json")), ("=json", OutputFormat("json")), ("name", OutputFormat("name")),
    ("jsonpath={.items[*].metadata.name}", OutputFormat("jsonpath", "{.items[*].metadata.name}")),
    ("=custom-columns=A:.a,B:.b", OutputFormat("custom-columns", "A:.a,B:.b")),
])
def test_output_formats(typed: str, parsed: OutputFormat) -> None:
    assert parse_output(typed, ("table", "json", "name"), ("jsonpath", "custom-columns")) == parsed


@pytest.mark.parametrize("typed", ["xml", "jsonpath", "jsonpath=", "wide"])
def test_output_format_refused_with_kubectl_words(typed: str) -> None:
    with pytest.raises(UsageError, match="output format|needs a template"):
        parse_output(typed, ("table", "json", "name"), ("jsonpath", "custom-columns"))


def test_help_shows_no_empty_choice_and_lists_the_phases(capsys: pytest.CaptureFixture[str]) -> None:
    from kubectl_imagecache.model.imagecache import PHASES

    assert main(["warm", "--help"]) == 0
    warm = capsys.readouterr().out
    assert "[yaml|json|name]" in warm and "[|" not in warm and "||" not in warm
    assert main(["wait", "--help"]) == 0
    wait = " ".join(capsys.readouterr().out.split())
    assert all(p in wait for p in PHASES) and "phase=PHASE" in wait


def test_no_error_points_to_a_readme_the_krew_archive_lacks() -> None:
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "kubectl_imagecache"
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if re.search(r"see (the )?README", p.read_text(), re.IGNORECASE)]
    assert offenders == []
