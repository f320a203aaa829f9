"""durations: kubectl's HumanDuration and Go's duration units.

The HumanDuration tables are ported from kubernetes/apimachinery pkg/util/duration/duration_test.go
(TestHumanDuration and TestHumanDurationBoundaries), as nanoseconds.
"""

from __future__ import annotations

import math
import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_imagecache.durations import MAX_SECONDS, format_duration, parse_duration
from kubectl_imagecache.errors import UsageError

NS, MS, S = 1, 10**6, 10**9
M, H = 60 * S, 3600 * S
D, Y = 24 * H, 365 * 24 * H

HUMAN_DURATION = [  # TestHumanDuration
    (S, "1s"), (70 * S, "70s"), (190 * S, "3m10s"), (70 * M, "70m"), (47 * H, "47h"), (49 * H, "2d1h"),
    ((8 * 24 + 2) * H, "8d"), (367 * D, "367d"), ((365 * 2 * 24 + 25) * H, "2y1d"), ((365 * 8 * 24 + 2) * H, "8y"),
]
BOUNDARIES = [  # TestHumanDurationBoundaries
    (-2 * S, "<invalid>"), (-2 * S + 1, "0s"), (0, "0s"), (S - MS, "0s"), (2 * M - MS, "119s"), (2 * M, "2m"),
    (2 * M + S, "2m1s"), (10 * M - MS, "9m59s"), (10 * M, "10m"), (10 * M + S, "10m"), (3 * H - MS, "179m"),
    (3 * H, "3h"), (3 * H + M, "3h1m"), (8 * H - MS, "7h59m"), (8 * H, "8h"), (8 * H + 59 * M, "8h"),
    (2 * D - MS, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"), (8 * D - MS, "7d23h"), (8 * D, "8d"),
    (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"), (2 * Y, "2y"), (2 * Y + 23 * H, "2y"),
    (2 * Y + 23 * H + 59 * M, "2y"),
    (2 * Y + D - MS, "2y"), (2 * Y + D, "2y1d"), (3 * Y, "3y"), (4 * Y, "4y"), (5 * Y, "5y"), (6 * Y, "6y"),
    (7 * Y, "7y"), (8 * Y - MS, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"), (9 * Y, "9y"),
]


@pytest.mark.parametrize("ns, text", HUMAN_DURATION + BOUNDARIES)
def test_human_duration_as_apimachinery(ns: int, text: str) -> None:
    assert format_duration(ns / S) == text


def test_ages_the_issue_names() -> None:
    assert [format_duration(s) for s in (97, 6 * 86400 + 23 * 3600, 2 * 365 * 86400)] == ["97s", "6d23h", "2y"]


@pytest.mark.parametrize("text, seconds", [
    ("90", 90), ("0", 0), ("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("1.5h", 5400), (".5h", 1800),
    ("500ms", 0.5), ("1500us", 0.0015), ("1500µs", 0.0015), ("1500μs", 0.0015), ("100ns", 1e-7),
    ("2h45m30.5s", 9930.5), ("1m30s500ms", 90.5), ("+5s", 5), ("7d", 604800), ("2w", 1209600), ("1d12h", 129600),
    ("1H", 3600),
])
def test_go_units(text: str, seconds: float) -> None:
    assert parse_duration(text, "--x") == pytest.approx(seconds)


# Python's float syntax is not Go's: no exponent, underscore, inf/nan or other scripts' digits.
PYTHON_ONLY = ["1e999", "1e3", "1E3s", "inf", "+inf", "-inf", "infinity", "nan", "-nan", "1_000", "1_0s", "0x10",
               "\u0661\u0662", "\u0661s", "\uff11s"]


@pytest.mark.parametrize("text", ["", "abc", "1x", "h1", "1h 30m", "ms", "1.2.3s", "1hh", "-", "+", *PYTHON_ONLY])
def test_not_a_duration_names_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match=r'--timeout ".*" is not a duration'):
        parse_duration(text, "--timeout")


@pytest.mark.parametrize("text", ["-5", "-5s", "-1h30m", "-.5ms"])
def test_negative_refused(text: str) -> None:
    with pytest.raises(UsageError, match="must not be negative"):
        parse_duration(text, "--timeout")


@pytest.mark.parametrize("text", [f"{int(MAX_SECONDS) + 1}s", "106752d", "1" + "0" * 400 + "h", "1" + "0" * 400])
def test_longer_than_a_thread_or_socket_can_wait_refused(text: str) -> None:
    with pytest.raises(UsageError, match=r'--timeout ".*" is too long: at most 106751d'):
        parse_duration(text, "--timeout")


def test_the_longest_is_a_timeout_sockets_and_threads_take() -> None:
    longest = parse_duration(f"{int(MAX_SECONDS)}s", "--timeout")
    with socket.socket() as s:
        s.settimeout(longest)
    assert threading.Lock().acquire(timeout=longest)


@settings(max_examples=500)
@given(st.text())
def test_any_text_is_a_usable_timeout_or_a_usage_error(text: str) -> None:
    """Whatever is typed: a finite, non-negative number of seconds that every wait takes, or one UsageError."""
    try:
        seconds = parse_duration(text, "--timeout")
    except UsageError as e:
        assert e.message.startswith(f'--timeout "{text}" ')
        return
    assert math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS <= threading.TIMEOUT_MAX


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_python_float_spellings_with_exponent_or_specials_refused(value: float) -> None:
    text = repr(value)
    if "e" in text or "n" in text:  # 1e+300, inf, nan: Python's spellings, not Go's
        with pytest.raises(UsageError):
            parse_duration(text, "--timeout")


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["ns", "us", "ms", "s", "m", "h", "d", "w"])),
                min_size=1, max_size=4))
def test_parts_add_up(parts: list[tuple[int, str]]) -> None:
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{n}{u}" for n, u in parts)
    expected = sum(n * unit[u] for n, u in parts)
    if expected > MAX_SECONDS:
        with pytest.raises(UsageError, match="too long"):
            parse_duration(text, "--timeout")
    else:
        assert parse_duration(text, "--timeout") == pytest.approx(expected)
