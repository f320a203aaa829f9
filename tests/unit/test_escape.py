"""escape.clean: the one escaper for what others wrote (registry, API server, cloud status, events, annotations)."""

from __future__ import annotations

import pytest

from kubectl_imagecache.escape import clean


@pytest.mark.parametrize("text, expected", [
    ("plain text, ünïcode", "plain text, ünïcode"),
    ("two\nlines\r\tand tab", "two\\nlines\\r\\tand tab"),
    ("\x1b[31mred\x1b[0m", "\\u001b[31mred\\u001b[0m"),
    ("c1 \x9b31m csi, del \x7f", "c1 \\u009b31m csi, del \\u007f"),
    ("rtl \u202eexe.gnp", "rtl \\u202eexe.gnp"),  # right-to-left override: reorders what follows
    ("line\u2028para\u2029sep", "line\\u2028para\\u2029sep"),  # terminals and editors break lines there
])
def test_clean_escapes_controls_and_format_characters(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_clean_bounds_the_length_unless_told_not_to() -> None:
    assert clean("x" * 10_000, limit=50) == "x" * 50 + "..."
    assert clean("x" * 10_000, limit=None) == "x" * 10_000
