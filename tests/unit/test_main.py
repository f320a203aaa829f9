"""cli/main run in-process: every way a command can end is one line on stderr and a documented exit code."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from kubectl_imagecache.cli.main import main
from kubectl_imagecache.errors import EXIT_FAILURE, EXIT_USAGE, ClusterNotFound


def failing(exc: BaseException) -> click.Command:
    @click.command()
    def boom() -> None:
        raise exc

    return boom


def test_an_unexpected_exception_is_one_escaped_line_never_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([], root=failing(KeyError("forged\nerror: all good\x1b[2J")))
    out, err = capsys.readouterr()
    assert code == EXIT_FAILURE and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: internal error: KeyError: ")
    assert "\x1b" not in err and "\\x1b[2J" in err and "\\nerror: all good" in err  # escaped, not obeyed


def test_the_last_resort_survives_a_broken_message(capsys: pytest.CaptureFixture[str]) -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert main([], root=failing(Weird())) == EXIT_FAILURE
    assert capsys.readouterr().err == ("error: internal error: Weird: no message "
                                       "(please report it with `kubectl imagecache version`)\n")


def test_long_messages_are_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    main([], root=failing(ValueError("x" * 100_000)))
    assert len(capsys.readouterr().err) < 700


def test_our_errors_keep_their_message_and_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], root=failing(ClusterNotFound('imagecaches "x" not found'))) == 4
    assert capsys.readouterr().err == 'error: imagecaches "x" not found\n'
    assert main([], root=failing(KeyboardInterrupt())) == 130


@pytest.mark.parametrize("command", [["list"], ["describe", "x"], ["wait", "x"], ["delete", "x"], ["prune"],
                                     ["warm", "nginx:1.27"], ["estimate", "nginx:1.27", "--pull-secret", "a:b"]])
def test_namespace_flags_are_accepted_by_every_cluster_command(command: list[str], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # The missing kubeconfig is the first thing that fails: -n and -A were taken (kubectl ignores
    # them for cluster-scoped kinds); before, click refused them ("No such option").
    missing = tmp_path / "missing"
    extra = ["-n", "shop"] if command[0] == "warm" else ["-n", "shop", "-A"]
    code = main([*command, *extra, "--kubeconfig", str(missing), "--cache-dir", str(tmp_path)]
                if command[0] in ("warm", "estimate") else [*command, *extra, "--kubeconfig", str(missing)])
    assert capsys.readouterr().err == f"error: --kubeconfig {missing}: no such file\n"
    assert code == EXIT_USAGE


def test_warm_type_name_habit_is_caught_before_any_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["warm", "deployment/web", "--kubeconfig", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1
    assert "did you mean --from deployment/web?" in err and "deployment/web:latest" in err
