"""Escaping text for a terminal: user input and everything a registry or API server sends.

Pure and dependency-free, so every layer (registry, kube, imagecache, cli) can import it. A string
from outside may hold control characters (ANSI escapes, carriage returns, newlines that forge a
second "error:" line) or invisible format characters (bidirectional overrides): both are written
as visible escapes, and long strings are cut, so a message stays one honest line.
"""

from __future__ import annotations

import json
from typing import Optional

__all__ = ["quote", "clean", "QUOTE_MAX"]

# Inputs longer than this are shown truncated: the message must stay one line.
QUOTE_MAX = 300


def _visible(text: str) -> str:
    out = []
    for c in text:
        if c.isprintable():
            out.append(c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        else:
            code = ord(c)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


def _cut(text: str, limit: Optional[int]) -> str:
    return text[:limit] + "..." if limit is not None and len(text) > limit else text


def quote(text: str, limit: int = QUOTE_MAX) -> str:
    """``text`` in double quotes, JSON-escaped, with every non-printable character escaped too.

    json.dumps escapes quotes, backslashes and C0 controls; DEL, C1 controls, line/paragraph
    separators and format characters (U+202E...) it leaves alone, so they are escaped here.
    """
    return _visible(json.dumps(_cut(text, limit), ensure_ascii=False))


def clean(text: object, limit: Optional[int] = QUOTE_MAX) -> str:
    """``text`` unquoted, with non-printable characters escaped and cut at ``limit`` (None: never).

    For values shown as they are (a platform, a media type, a registry's error message, a table
    cell, a cache's status reason) where quotes would only add noise; ``str()`` of anything is accepted.
    """
    return _visible(_cut(str(text), limit))
