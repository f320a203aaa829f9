"""kubectl's TYPE/NAME arguments, read in one place: `x`, `imagecache/x`, `imc/x`,
`imagecaches.eci.alibabacloud.com/x` all name the ImageCache x, so `-o name` output feeds back in.
kubectl's TYPE NAME... form too: `imc x y` names x and y, and TYPE alone (`imagecaches`) names none,
which `list` and `describe` read as "all of them", as `kubectl get|describe TYPE` do."""

from __future__ import annotations

from typing import Sequence

from ..errors import UsageError
from ..model.imagecache import GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION

__all__ = ["TYPE_NAMES", "METAVAR", "parse_name", "parse_names", "type_only"]

# Every spelling of the type kubectl accepts: plural, singular, kind, short names, each bare or
# qualified by group (and by version.group).
_BARE = (PLURAL, SINGULAR, KIND.lower(), *SHORT_NAMES)
TYPE_NAMES = frozenset(
    [*_BARE, *(f"{t}.{GROUP}" for t in (PLURAL, SINGULAR, KIND.lower())),
     *(f"{t}.{VERSION}.{GROUP}" for t in (PLURAL, SINGULAR, KIND.lower()))]
)

METAVAR = f"[{SINGULAR}] [NAME|{SINGULAR}/NAME]..."  # the arguments as a command's help shows them


def parse_name(arg: str) -> str:
    """The cache's name in `arg` (NAME or TYPE/NAME); a one-line UsageError for another kind."""
    text = arg.strip()
    if "/" not in text:
        if not text:
            raise UsageError("an empty name was given: name an ImageCache as NAME or imagecache/NAME")
        return text
    kind, _, name = text.partition("/")
    if kind.lower() not in TYPE_NAMES:
        raise UsageError(f'"{arg}" is not an ImageCache: name one as NAME, {SINGULAR}/NAME or {SHORT_NAMES[0]}/NAME')
    if not name or "/" in name:
        raise UsageError(f'"{arg}" names no ImageCache: use {SINGULAR}/NAME')
    return name


def _is_type(arg: str) -> bool:
    return arg.strip().lower() in TYPE_NAMES


def type_only(args: Sequence[str]) -> bool:
    """The type alone (`describe imagecache`): kubectl's every object of that type."""
    return len(args) == 1 and _is_type(args[0])


def parse_names(args: Sequence[str]) -> tuple[str, ...]:
    """Each argument's name, in order, duplicates dropped (`x` and `imc/x` are one cache).

    A first argument that is the type (`imc x y`) is kubectl's TYPE NAME... form: the names after it are
    plain, as kubectl refuses `imc imc/x`.
    """
    if args and _is_type(args[0]):
        args = args[1:]
        typed = next((a for a in args if "/" in a), None)
        if typed is not None:
            raise UsageError(f'"{typed}" after the type: name the cache once, as {SINGULAR} NAME or {SINGULAR}/NAME, '
                             "not both")
    return tuple(dict.fromkeys(parse_name(a) for a in args))
