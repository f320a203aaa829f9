"""`kubectl imagecache wait NAME... --for=Ready`: block until caches are built (or fail)."""

from __future__ import annotations

from typing import Any

import click

from ...errors import EXIT_FAILURE, EXIT_OK, WaitTimeout
from ..options import kube_flags, kube_settings


@click.command("wait", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--for", "for_", default="Ready", show_default=True, metavar="PHASE",
              help="Ready, phase=PHASE or delete.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION", help="Give up after this long.")
@kube_flags
def command(names: tuple[str, ...], for_: str, timeout: str, **flags: Any) -> int:
    """Wait until ImageCaches reach a phase; fail at once when one fails to build.

    \b
    Examples:
      kubectl imagecache wait imc-3f2a9c81d0b4 --for=Ready --timeout=20m
      kubectl imagecache wait old-cache --for=delete
    """
    from ...durations import parse_duration
    from ...kube.waiting import parse_for, wait_for
    from ..progress import BuildProgress, failure_text

    target = parse_for(for_)
    seconds = parse_duration(timeout, "--timeout")
    cluster = kube_settings(flags).connect()
    unique = list(dict.fromkeys(names))
    if target != "delete":
        for n in unique:
            cluster.get_imagecache(n)  # a name that does not exist is an error now, not after the timeout
    progress = BuildProgress(len(unique))
    try:
        outcomes = wait_for(cluster, unique, target, seconds, progress)
    finally:
        progress.close()
    code = EXIT_OK
    for n in unique:
        o = outcomes[n]
        if o.done and o.ok:
            click.echo(f"imagecache.eci.alibabacloud.com/{n} condition met")
        elif o.done:
            click.echo(f"error: {failure_text(o)}", err=True)
            code = EXIT_FAILURE
        else:
            goal = "deleted" if target == "delete" else target
            raise WaitTimeout(f"timed out after {timeout} waiting for {n} to be {goal}: it is {o.phase} "
                              f"at {o.progress}; wait longer with --timeout")
    return code
