"""kubectl's TYPE/NAME arguments, read in one place: `x`, `imagecache/x`, `imc/x`,
`imagecaches.eci.alibabacloud.com/x` all name the ImageCache x, so `-o name` output feeds back in."""

from __future__ import annotations

from typing import Iterable

from ..errors import UsageError
from ..model.imagecache import GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION

__all__ = ["TYPE_NAMES", "parse_name", "parse_names"]

# Every spelling of the type kubectl accepts: plural, singular, kind, short names, each bare or
# qualified by group (and by version.group).
_BARE = (PLURAL, SINGULAR, KIND.lower(), *SHORT_NAMES)
TYPE_NAMES = frozenset(
    [*_BARE, *(f"{t}.{GROUP}" for t in (PLURAL, SINGULAR, KIND.lower())),
     *(f"{t}.{VERSION}.{GROUP}" for t in (PLURAL, SINGULAR, KIND.lower()))]
)


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


def parse_names(args: Iterable[str]) -> tuple[str, ...]:
    """Each argument's name, in order, duplicates dropped (`x` and `imc/x` are one cache)."""
    return tuple(dict.fromkeys(parse_name(a) for a in args))
