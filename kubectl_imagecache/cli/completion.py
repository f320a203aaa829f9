"""`kubectl_complete-imagecache`: shell completion through kubectl's plugin-completion protocol.

kubectl (>= 1.26) runs `kubectl_complete-imagecache WORD... PARTIAL` for `kubectl imagecache
WORD... PARTIAL<TAB>`. We print one candidate per line (`candidate<TAB>description`), then
`:<directive>`, a Cobra ShellCompDirective: 0 lets the shell complete file names, 2 adds no space
after the candidate, 4 offers no file names, 16 offers folders only.

Commands, flags and the values of Choice flags come from the click tree at run time, so commands
added later complete without changes here. Values that live in a cluster (ImageCache names,
namespaces, workloads) are listed with a short timeout; the Kubernetes client is imported only
then (~0.9 s), never for commands and flags. Nothing an error says ever becomes a candidate: a
failed lookup yields no candidates and one line on stderr (which shells do not show).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Sequence

import click

if TYPE_CHECKING:
    from ..kube.api import Cluster, KubeSettings

__all__ = ["main", "complete", "Candidate"]

DEFAULT, NO_SPACE, NO_FILE, FILTER_DIRS = 0, 2, 4, 16
LOOKUP_TIMEOUT = (1.0, 1.5)  # (connect, read) seconds for one cluster request
DEADLINE = 1.6  # seconds for the whole answer: the README promises completion gives up within 2 s
LOOKUP_LIMIT = 500  # names offered at most; a longer list is no help in a shell

# Values offered for --platform: the platforms ECI runs and multi-platform images commonly carry.
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386", "linux/ppc64le", "linux/s390x")

Candidate = tuple[str, str]  # (value, description)


@dataclass
class Parsed:
    """Where the words before the partial one leave us in the click tree."""

    command: click.Command
    ctx: click.Context
    path: list[str]
    flags: dict[str, list[str]] = field(default_factory=dict)  # option dest -> values given
    args: list[str] = field(default_factory=list)  # positional words given
    pending: Optional[click.Option] = None  # an option still waiting for its value


def _ctx(command: click.Command, parent: Optional[click.Context] = None) -> click.Context:
    # With the command's context_settings, so -h is known where the command declares it.
    settings = {"resilient_parsing": True, **command.context_settings}
    return click.Context(command, parent=parent, **settings)


def _option(command: click.Command, word: str) -> Optional[click.Option]:
    for p in command.params:
        if isinstance(p, click.Option) and word in (*p.opts, *p.secondary_opts):
            return p
    return None


def _takes_value(opt: click.Option) -> bool:
    return not opt.is_flag and not opt.count


def parse(root: click.Group, words: Sequence[str]) -> Optional[Parsed]:
    state = Parsed(root, _ctx(root), [])
    only_args = False
    for word in words:
        if state.pending is not None:
            state.flags.setdefault(state.pending.name or "", []).append(word)
            state.pending = None
        elif not only_args and word == "--":
            only_args = True
        elif not only_args and word.startswith("-") and len(word) > 1:
            name, eq, value = word.partition("=")
            opt = _option(state.command, name)
            if opt is None:
                continue  # unknown flag: keep going, as a shell user would expect
            if eq:
                state.flags.setdefault(opt.name or "", []).append(value)
            elif _takes_value(opt):
                state.pending = opt
            else:
                state.flags.setdefault(opt.name or "", []).append("true")
        elif isinstance(state.command, click.Group) and not state.args:
            sub = state.command.get_command(state.ctx, word)
            if sub is None:
                return None  # not a command of ours: offer nothing rather than guesses
            state.command, state.ctx, state.path, state.flags = sub, _ctx(sub, state.ctx), [*state.path, word], {}
        else:
            state.args.append(word)
    return state


def _subcommands(group: click.Group, ctx: click.Context, partial: str) -> list[Candidate]:
    out: list[Candidate] = []
    for name in group.list_commands(ctx):
        if name.startswith(partial):
            cmd = group.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                out.append((name, cmd.get_short_help_str(limit=80)))
    return out


def _flags(state: Parsed, partial: str) -> list[Candidate]:
    out: list[Candidate] = []
    for p in state.command.get_params(state.ctx):
        if not isinstance(p, click.Option) or p.hidden:
            continue
        if not p.multiple and (p.name or "") in state.flags:
            continue  # given once already
        help_text = (p.help or "").split("\n")[0]
        for name in (*p.opts, *p.secondary_opts):
            long = name.startswith("--")
            # Short forms only when asked for a bare "-" or that very letter, as Cobra does.
            if name.startswith(partial) and (long or partial in ("-", name)):
                out.append((name, help_text))
    return out


# -- values ---------------------------------------------------------------------------------------


def _kube(state: Parsed) -> KubeSettings:
    """The connection the words name (--kubeconfig, --context, -n...), as the command would build it,
    with completion's short timeout instead of --request-timeout."""
    import dataclasses

    from .options import KUBE_PARAMS, KubeFlags

    given: dict[str, Any] = {field: state.flags[param][-1] for param, field in KUBE_PARAMS.items()
                             if state.flags.get(param) and field not in ("request_timeout", "all_namespaces")}
    return dataclasses.replace(KubeFlags(**given).complete(), request_timeout=LOOKUP_TIMEOUT)


def _names(items: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(str(i.get("metadata", {}).get("name")) for i in items if i.get("metadata", {}).get("name"))


def _listed(kube: KubeSettings, read: Callable[[Cluster], list[dict[str, Any]]]) -> list[str]:
    """Names of what `read` lists, through the API layer (its error translation, the short timeout)."""
    cluster = kube.connect()
    try:
        return _names(read(cluster))
    finally:
        cluster.close()


def _imagecaches(state: Parsed, partial: str) -> list[Candidate]:
    given = set(state.args)
    return [(n, "") for n in _listed(_kube(state), lambda c: c.list_imagecaches(limit=LOOKUP_LIMIT))
            if n.startswith(partial) and n not in given]


def _namespaces(state: Parsed, partial: str) -> list[Candidate]:
    names = _listed(_kube(state), lambda c: c.list_namespaces(limit=LOOKUP_LIMIT))
    return [(n, "") for n in names if n.startswith(partial)]


def _workloads(state: Parsed, partial: str) -> tuple[list[Candidate], int]:
    """KIND/NAME for --from: kinds first (no space after the slash), then names of that kind in -n."""
    from ..model.kinds import WORKLOAD_KIND_NAMES, WORKLOAD_KINDS

    kind, slash, name = partial.partition("/")
    if not slash:
        return [(f"{k}/", "") for k in sorted(WORKLOAD_KIND_NAMES) if k.startswith(kind.lower())], NO_SPACE | NO_FILE
    if kind.lower() not in WORKLOAD_KINDS:
        return [], NO_FILE
    kube = _kube(state)
    namespace = kube.resolved_namespace()
    names = _listed(kube, lambda c: c.list_kind(kind, namespace, limit=LOOKUP_LIMIT))
    return [(f"{kind}/{n}", "") for n in names if n.startswith(name)], NO_FILE


def _for_values(partial: str) -> list[Candidate]:
    """wait --for: each phase (bare and as phase=PHASE) and delete."""
    from ..kube.waiting import DELETE
    from ..model.imagecache import PHASES

    values = [*PHASES, *(f"phase={p}" for p in PHASES), DELETE]
    return [(v, "") for v in values if v.lower().startswith(partial.lower())]


def _output_values(state: Parsed, partial: str) -> tuple[list[Candidate], int]:
    """-o of list: its formats, and the templates (no space after their "=")."""
    module = sys.modules.get(state.command.callback.__module__ if state.command.callback else "")
    names = getattr(module, "FORMATS", ())
    templates = getattr(module, "TEMPLATES", ())
    out = [(n, "") for n in names if n.startswith(partial)]
    tpl = [(f"{t}=", "") for t in templates if t.startswith(partial)]
    return out + tpl, NO_FILE | (NO_SPACE if tpl and not out else 0)


def _pull_secrets(state: Parsed, partial: str) -> tuple[list[Candidate], int]:
    """--pull-secret NAMESPACE:NAME: namespaces first (no space after the colon), then that namespace's
    docker-config secrets."""
    namespace, colon, name = partial.partition(":")
    if not colon:
        names = _listed(_kube(state), lambda c: c.list_namespaces(limit=LOOKUP_LIMIT))
        return [(f"{n}:", "") for n in names if n.startswith(namespace)], NO_SPACE | NO_FILE
    kube = _kube(state)
    secrets = _listed(kube, lambda c: c.list_secrets(namespace, "kubernetes.io/dockerconfigjson", limit=LOOKUP_LIMIT))
    return [(f"{namespace}:{n}", "") for n in secrets if n.startswith(name)], NO_FILE


def _kubeconfig_entries(state: Parsed, kind: str, partial: str) -> list[Candidate]:
    """Context, cluster or user names: from the kubeconfig files, no API request."""
    return [(n, "") for n in _kube(state).config.names(kind) if n.startswith(partial)]


def _option_values(state: Parsed, opt: click.Option, partial: str) -> tuple[list[Candidate], int]:
    metavar = (opt.metavar or "").upper()
    longs = [o for o in opt.opts if o.startswith("--")]
    flag = longs[0] if longs else opt.opts[0]
    if isinstance(opt.type, click.Choice):
        return [(str(c), "") for c in opt.type.choices if str(c) and str(c).startswith(partial)], NO_FILE
    if flag == "--for":
        return _for_values(partial), NO_FILE
    if flag == "--reason":
        from ..model.reasons import REASONS

        done, comma, last = partial.rpartition(",")
        given = set(done.split(",")) if comma else set()
        return [(f"{done}{comma}{r}", "") for r in REASONS if r.startswith(last) and r not in given], NO_FILE
    if flag == "--pull-secret":
        return _pull_secrets(state, partial)
    if flag == "--output" and not isinstance(opt.type, click.Choice):
        return _output_values(state, partial)
    if flag == "--platform":
        return [(p, "") for p in PLATFORMS if p.startswith(partial)], NO_FILE
    if flag in ("--context", "--cluster", "--user"):
        key = {"--context": "contexts", "--cluster": "clusters", "--user": "users"}[flag]
        return _kubeconfig_entries(state, key, partial), NO_FILE
    if flag == "--namespace":
        return _namespaces(state, partial), NO_FILE
    if metavar == "KIND/NAME":
        return _workloads(state, partial)
    if metavar in ("FILE", "PATH") or flag in ("--filename", "--kubeconfig"):
        return [], DEFAULT  # the shell completes file names
    if metavar == "DIR":
        return [], FILTER_DIRS
    return [], NO_FILE


def _argument_values(state: Parsed, partial: str) -> tuple[list[Candidate], int]:
    args = [p for p in state.command.params if isinstance(p, click.Argument)]
    if not args:
        return [], NO_FILE
    arg = args[0] if len(args) == 1 or args[0].nargs == -1 else args[min(len(state.args), len(args) - 1)]
    if (arg.name or "") in ("names", "name"):
        return _imagecaches(state, partial), NO_FILE
    return [], NO_FILE


# -- protocol --------------------------------------------------------------------------------------


def complete(root: click.Group, words: Sequence[str]) -> tuple[list[Candidate], int]:
    """Candidates and the directive for `kubectl imagecache WORDS...`, the last being the partial one."""
    *before, partial = list(words) or [""]
    state = parse(root, before)
    if state is None:
        return [], NO_FILE
    if state.pending is not None:
        return _option_values(state, state.pending, partial)
    if partial.startswith("-") and "=" in partial:
        name, _, value = partial.partition("=")
        opt = _option(state.command, name)
        if opt is None or not _takes_value(opt):
            return [], NO_FILE
        values, directive = _option_values(state, opt, value)
        return [(f"{name}={v}", d) for v, d in values], directive
    if partial.startswith("-"):
        return _flags(state, partial), NO_FILE
    if isinstance(state.command, click.Group) and not state.args:
        return _subcommands(state.command, state.ctx, partial), NO_FILE
    return _argument_values(state, partial)


def write(candidates: Iterable[Candidate], directive: int, out: Callable[[str], Any] = sys.stdout.write) -> None:
    for value, description in candidates:
        # A tab or newline inside a value or description would break the line protocol.
        value = value.replace("\t", " ").replace("\n", " ")
        description = description.replace("\t", " ").replace("\n", " ")
        out(f"{value}\t{description}\n" if description else f"{value}\n")
    out(f":{directive}\n")


class _TooSlow(Exception):
    def __str__(self) -> str:
        return f"no answer within {DEADLINE} s: gave up"


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Give up the whole answer (client import, DNS, TLS, retries, a stalled server) after `seconds`:
    per-request timeouts alone add up past what a shell user waits. SIGALRM where the platform has it."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _TooSlow()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script `kubectl_complete-imagecache`; always exits 0 so the shell shows what we have."""
    from .main import cli

    words = list(sys.argv[1:] if argv is None else argv)
    try:
        with _deadline(DEADLINE):
            candidates, directive = complete(cli, words)
    except Exception as exc:  # a broken kubeconfig or an unreachable cluster: no candidates, never a message
        message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        print(f"kubectl_complete-imagecache: {message}", file=sys.stderr)
        candidates, directive = [], NO_FILE
        if isinstance(exc, _TooSlow) and argv is None:
            # A stalled connection's sockets and pools would slow the interpreter's teardown: answer, leave now.
            write(candidates, directive)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    write(candidates, directive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
