"""Entry point: a click group whose commands are imported only when run, so --help stays fast."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Optional, Sequence

import click

from ..errors import EXIT_FAILURE, EXIT_USAGE, ImageCacheError

# name -> (module, one-line help); aliases map to the same module. Help is kept here so listing
# commands imports none of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "estimate": ("estimate", "Size an ImageCache from the registry manifests of its images."),
    "warm": ("warm", "Create ImageCaches from images, manifests or the workloads a cluster runs."),
    "list": ("list", "List ImageCaches: phase, progress, size, images and expiry."),
    "describe": ("describe", "Show ImageCaches in detail: spec, status, events, provenance."),
    "wait": ("wait", "Wait until ImageCaches are Ready (or another phase, or deleted)."),
    "delete": ("delete", "Delete ImageCaches, confirmed first."),
    "prune": ("prune", "Preview, then delete, expired, failed, unused and superseded caches."),
    "coverage": ("coverage", "Show which cache ECI picks for each workload, and whether its pods start warm."),
    "explain": ("explain", "Show every candidate cache for a pod or workload and why the winner won."),
    "refresh": ("refresh", "Replace stale caches by caches of the same images at their current digests."),
    "sync": ("sync", "Warm what is missing, refresh what is stale, prune what is not needed: one plan."),
    "cache": ("cache", "Inspect or empty the local cache of registry metadata."),
    "version": ("version", "Print the plugin, Python and client library versions."),
}
ALIASES: dict[str, str] = {"estimate-size": "estimate", "get": "list", "ls": "list"}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:  # as `kubectl` alone: the help, on stdout, and success
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit()
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Optional[str], Optional[click.Command],
                                                                           list[str]]:
        name = args[0]
        if self.get_command(ctx, name) is None and not ctx.resilient_parsing and not name.startswith("-"):
            raise click.UsageError(unknown_command(name), ctx)
        found, command, rest = super().resolve_command(ctx, args)
        return found, command, pflag_shorthands(command, rest) if command is not None else rest

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        name = ALIASES.get(cmd_name, cmd_name)
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f".commands.{COMMANDS[name][0]}", __package__)
        return module.command  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, text) for name, (_, text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def unknown_command(name: str) -> str:
    """kubectl's `unknown command "lsit"` with its "Did you mean this?", on one line."""
    import difflib

    close = difflib.get_close_matches(name, [*COMMANDS, *ALIASES], n=1, cutoff=0.6)
    hint = f': did you mean "{ALIASES.get(close[0], close[0])}"?' if close else ""
    return f'unknown command "{name}" for "kubectl imagecache"{hint}'


def pflag_shorthands(command: click.Command, args: list[str]) -> list[str]:
    """kubectl's (pflag's) `-o=json`: a shorthand that takes a value, written -X=VALUE, becomes -X VALUE.

    Click would read the value "=json". Only that one "=" goes, as in pflag: `-o==json` and `-o =json`
    still give "=json", which kubectl refuses too. Arguments after `--`, and a token that is the value
    of the option before it (`-l -o=x`), are left as they are.
    """
    head: list[str] = []
    while isinstance(command, click.Group) and args and args[0] in command.commands:  # e.g. `cache info`
        head.append(args[0])
        command, args = command.commands[args[0]], args[1:]
    options = [p for p in command.params if isinstance(p, click.Option) and not p.is_flag and not p.count]
    shorthands = {o for p in options for o in p.opts if len(o) == 2}
    # An option whose value may be left out (delete's --wait) never takes a token that starts with "-".
    takes_next = {o for p in options if not getattr(p, "_flag_needs_value", False) for o in p.opts}
    out: list[str] = []
    value_next = False
    for i, arg in enumerate(args):
        if arg == "--" and not value_next:
            return head + out + args[i:]
        if not value_next and arg[:2] in shorthands and arg[2:3] == "=":
            out += [arg[:2], arg[3:]]
            continue
        out.append(arg)
        value_next = not value_next and arg in takes_next
    return head + out


def usage_line(exc: click.UsageError) -> str:
    """A usage error as one line: what is wrong and where help is."""
    path = exc.ctx.command_path if exc.ctx is not None else "kubectl imagecache"
    message = " ".join(exc.format_message().split())
    return f"error: {message} (see '{path} --help')"


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # --version prints exactly what the version command prints (imported only when asked).
    if not value or ctx.resilient_parsing:
        return
    from .commands.version import print_version

    print_version()
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print the plugin, Python and client library versions, and exit.")
def cli() -> None:
    """Size, warm and prune Alibaba Cloud ECI ImageCaches.

    \b
    Examples:
      kubectl imagecache estimate nginx:1.27 redis:7
      kubectl imagecache cache info
    """


def main(argv: Optional[Sequence[str]] = None, root: Optional[click.Command] = None) -> int:
    """Run the CLI in this process; every failure ends as one line on stderr and a documented exit code.

    `root` replaces the command tree (tests hand in a command that fails as a bug would).
    """
    from ..escape import clean
    from ..model import notices
    from .printers import warn

    notices.set_sink(lambda message: warn(clean(message)))  # malformed values others wrote: one line each
    try:
        rv: Any = (root or cli).main(args=list(argv) if argv is not None else None, prog_name="kubectl imagecache",
                                     standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        click.echo(usage_line(exc), err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ImageCacheError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        # `... | head` closed stdout: not an error worth a traceback.
        sys.stderr.close()
        return 0
    except SystemExit:
        # click answers EPIPE on stdout (`list -o name | head -1`) with exit 1 after wrapping the streams so
        # the final flush is quiet; the reader had all it wanted, so, as kubectl, that is success.
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
            return 0
        raise
    except Exception as exc:  # a bug of ours: one line to report, never a traceback (which may quote secrets)
        click.echo(f"error: internal error: {_describe(exc)} (please report it with `kubectl imagecache version`)",
                   err=True)
        return EXIT_FAILURE
    return rv if isinstance(rv, int) else 0


def _describe(exc: BaseException) -> str:
    from ..escape import clean

    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not escape the last resort
        text = ""
    return f"{type(exc).__name__}: {clean(text) or 'no message'}"


def entry() -> None:
    """Console script `kubectl-imagecache`."""
    from . import exiting

    exiting.install()
    exiting.end(main())


if __name__ == "__main__":
    entry()
