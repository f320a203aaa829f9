"""Every command's --help shows an example, found by walking the click tree (commands added later included)."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from kubectl_imagecache.cli.main import cli


def walk(group: click.Group, path: list[str]) -> Iterator[list[str]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        yield [*path, name]
        if isinstance(cmd, click.Group):
            yield from walk(cmd, [*path, name])


def test_every_command_help_has_an_example() -> None:
    runner = CliRunner()
    paths = [[], *walk(cli, [])]
    assert len(paths) > 3
    missing = []
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"], prog_name="kubectl imagecache")
        assert result.exit_code == 0, (path, result.output)
        if "Example" not in result.output:
            missing.append(" ".join(path) or "(root)")
    assert missing == [], f"--help without an example: {missing}"


def test_version_flag_prints_what_the_version_command_prints() -> None:
    runner = CliRunner()
    flag, command = runner.invoke(cli, ["--version"]), runner.invoke(cli, ["version"])
    assert flag.exit_code == command.exit_code == 0
    assert flag.output == command.output
    assert flag.output.startswith("kubectl-imagecache v")
