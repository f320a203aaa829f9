"""Confirmation prompts and the live progress bar on a real terminal (a pseudo-terminal), against the real
API server. The commands only prompt when stdin and stderr are terminals, so a pipe cannot test this."""

from __future__ import annotations

import datetime as dt
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from tests.cluster.commands_support import IMC, Plugin, create_imagecache, get_imagecache, imagecaches, unique
from tests.fakes.emulator import Emulator
from tests.fakes.registry import LiveRegistry
from tests.support import cli

PROMPT = "[y/N]: "


@dataclass
class TtyResult:
    code: int
    output: str  # stdout and stderr as the terminal showed them ("\r\n" line ends)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- terminal\n{self.output}"


def run_on_tty(imc: Plugin, args: Sequence[str], answers: Sequence[tuple[str, str]] = (),
               timeout: float = 60) -> TtyResult:
    """Run the plugin with stdin, stdout and stderr on one pseudo-terminal, as in a shell.

    `answers`: (text to wait for, what to type then), in order; the test fails if a text never shows.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KUBECTL_IMAGECACHE_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG"))}
    loopback = "127.0.0.1,127.0.0.2,localhost"  # as tests/support/cli.py: no proxy for test traffic
    env.update({"HOME": str(imc.home), "NO_PROXY": loopback, "no_proxy": loopback,
                "KUBECONFIG": str(imc.kubeconfig), "TERM": "xterm"})
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([cli.plugin_executable(), *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(slave)
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{' '.join(args)}: no end after {timeout} s; terminal so far:\n"
                                     f"{out.decode(errors='replace')}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every holder of the terminal's other end is gone
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            if pending and pending[0][0].encode() in out:
                os.write(master, pending.pop(0)[1].encode())
                out += b"\x00"  # a mark, so the same text later is not taken as the next question
            if not ready and proc.poll() is not None:
                break
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.replace(b"\x00", b"").decode(errors="replace")
    assert not pending, f"never asked {pending[0][0]!r}:\n{text}"
    return TtyResult(code, text)


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- delete -------------------------------------------------------------------------------------------

def test_delete_name_asks_on_a_terminal(imc: Plugin, custom_api: Any) -> None:
    name, other = unique("ask"), unique("keep")
    for n in (name, other):
        create_imagecache(custom_api, n, ["registry.example/x/a:1"], imageCacheSize=20)

    no = run_on_tty(imc, ["delete", name], [(PROMPT, "n\n")])
    assert no.code == 7, no
    assert f"Will delete: {name}" in no.output and "Delete 1 ImageCache(s)? [y/N]" in no.output, no
    assert "error: nothing deleted" in no.output and f'"{name}" deleted' not in no.output, no
    assert {name, other} <= imagecaches(custom_api).keys()

    yes = run_on_tty(imc, ["delete", name], [(PROMPT, "y\n")])
    assert yes.code == 0, yes
    assert f'{IMC} "{name}" deleted' in yes.output, yes
    left = imagecaches(custom_api)
    assert name not in left and other in left


def test_delete_all_asks_on_a_terminal_without_yes(imc: Plugin, custom_api: Any) -> None:
    names = sorted(unique("all") for _ in range(2))
    for n in names:
        create_imagecache(custom_api, n, ["registry.example/x/a:1"], imageCacheSize=20)
    everything = sorted(imagecaches(custom_api))

    no = run_on_tty(imc, ["delete", "--all"], [(PROMPT, "n\n")])
    assert no.code == 7, no
    assert "Will delete: " + ", ".join(everything) in no.output, no
    assert f"Delete {len(everything)} ImageCache(s)?" in no.output, no
    assert sorted(imagecaches(custom_api)) == everything

    yes = run_on_tty(imc, ["delete", "--all"], [(PROMPT, "y\n")])
    assert yes.code == 0, yes
    assert all(f'{IMC} "{n}" deleted' in yes.output for n in everything), yes
    assert imagecaches(custom_api) == {}


# -- prune ---------------------------------------------------------------------------------------------

def test_prune_shows_the_preview_then_asks(imc: Plugin, custom_api: Any) -> None:
    group = unique("grp")
    labels = {"grp": group}
    ready = {"phase": "Ready", "progress": "100%"}
    future = rfc3339(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    expired = [unique("old-a"), unique("old-b")]
    for n in expired:
        create_imagecache(custom_api, n, [f"registry.example/{n}:1"], imageCacheSize=30, labels=labels,
                          status={**ready, "expireDateTime": "2020-01-01T00:00:00Z"})
    fresh, building = unique("fresh"), unique("building")
    create_imagecache(custom_api, fresh, ["registry.example/f:1"], imageCacheSize=20, labels=labels,
                      status={**ready, "expireDateTime": future})
    create_imagecache(custom_api, building, ["registry.example/b:1"], imageCacheSize=20, labels=labels,
                      status={"phase": "Creating", "progress": "40%", "expireDateTime": "2020-01-01T00:00:00Z"})
    mine = {*expired, fresh, building}
    args = ["prune", "--reason", "expired", "-l", f"grp={group}"]

    no = run_on_tty(imc, args, [(PROMPT, "n\n")])
    assert no.code == 7, no
    preview, _, after = no.output.partition("Delete these 2 ImageCache(s)?")
    assert after, no  # the question comes after the preview
    assert "NAME" in preview and "REASONS" in preview and "2 ImageCache(s), 60 GiB to reclaim." in preview, no
    assert all(re.search(rf"^{n}\s+expired\s+30Gi", preview, re.M) for n in expired), no
    assert fresh not in preview and building not in preview, no
    assert "nothing deleted" in after, no
    assert mine <= imagecaches(custom_api).keys()

    yes = run_on_tty(imc, args, [(PROMPT, "y\n")])
    assert yes.code == 0, yes
    assert all(f'{IMC} "{n}" deleted' in yes.output for n in expired), yes
    assert yes.output.count(" deleted") == 2, yes
    assert mine & imagecaches(custom_api).keys() == {fresh, building}  # exactly the plan went



def test_prune_json_and_dry_run_never_ask_and_delete_nothing(imc: Plugin, custom_api: Any) -> None:
    # On a terminal too: a JSON document on stdout is never followed by a question, and --dry-run
    # (bare, as kubectl users type it, or with --yes) is only the preview.
    group = unique("grp")
    name = unique("old")
    create_imagecache(custom_api, name, [f"registry.example/{name}:1"], imageCacheSize=30, labels={"grp": group},
                      status={"phase": "Ready", "progress": "100%", "expireDateTime": "2020-01-01T00:00:00Z"})
    base = ["prune", "--reason", "expired", "-l", f"grp={group}"]
    as_json = run_on_tty(imc, [*base, "-o", "json"])
    assert as_json.code == 0 and PROMPT not in as_json.output, as_json
    assert '"deleted": false' in as_json.output and name in as_json.output, as_json
    for extra in (["--dry-run"], ["--dry-run=server", "--yes"], ["--dry-run", "-o", "json", "--yes"]):
        dry = run_on_tty(imc, [*base, *extra])
        assert dry.code == 0 and PROMPT not in dry.output and f'"{name}" deleted' not in dry.output, (extra, dry)
        assert "Dry run: nothing deleted." in dry.output, (extra, dry)
    assert name in imagecaches(custom_api)

# -- warm --wait -----------------------------------------------------------------------------------------

BAR = re.compile(r"\r\x1b\[K(\S+): (\S+)\s+\[([#-]{20})\]\s+(\d+)%")


def test_warm_wait_shows_a_live_progress_bar(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                            run_emulator: Callable[..., Emulator]) -> None:
    reg = plain_registry
    images = [reg.ref("sample/oci-single:1.0"), reg.ref("sample/docker-single:1.0"), reg.ref("a/b/c/nested:1.0")]
    name = unique("bar")
    # Slow enough that the watch sees intermediate progress, not just Ready.
    run_emulator(step_delay=0.15)
    r = run_on_tty(imc, ["warm", *images, "--name", name, "--wait", "--timeout", "60s"])
    assert r.code == 0, r
    assert f"{IMC}/{name} created" in r.output, r
    frames = [(m.group(1), m.group(2), m.group(3), int(m.group(4))) for m in BAR.finditer(r.output)]
    assert frames and all(f[0] == name for f in frames), r
    assert frames[-1] == (name, "Ready", "#" * 20, 100), r
    assert any(0 < f[3] < 100 for f in frames), f"no intermediate progress drawn:\n{r}"
    assert "Creating" in {f[1] for f in frames}, r
    for _, _, bar, pct in frames:  # the bar matches its number
        assert bar == "#" * (pct // 5) + "-" * (20 - pct // 5), r
    # The bar is redrawn in place: the frames share one line, which ends once, after Ready.
    line = r.output[r.output.index(f"\r\x1b[K{name}:"):]
    assert line.rstrip("\r\n").count("\n") == 0, r
    assert get_imagecache(custom_api, name)["status"]["phase"] == "Ready"
