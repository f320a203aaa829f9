"""Every DURATION flag of every command refuses what is not a duration, through the real CLI process:
usage error (exit 2), one line naming the flag, before any kubeconfig, registry or cluster is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run

# (arguments that reach the flag's parsing, flag): each command that takes the flag.
FLAGS = [
    (["list"], "--request-timeout"),
    (["describe", "x"], "--request-timeout"),
    (["explain", "pod/x"], "--request-timeout"),
    (["coverage"], "--request-timeout"),
    (["prune"], "--request-timeout"),
    (["wait", "x"], "--timeout"),
    (["delete", "x"], "--timeout"),
    (["warm", "nginx:1.27"], "--timeout"),
    (["refresh", "x"], "--timeout"),
    (["sync", "--yes"], "--timeout"),
    (["prune"], "--older-than"),
    (["prune"], "--failed-grace"),
    (["estimate", "nginx:1.27"], "--registry-timeout"),
    (["warm", "nginx:1.27"], "--registry-timeout"),
    (["sync"], "--registry-timeout"),
    (["estimate", "nginx:1.27"], "--cache-ttl"),
]
# Python's float syntax (which once passed: `sync --yes --timeout 1e999` ended inside int(inf)), a negative,
# and a wait longer than a socket or thread can take.
NOT_DURATIONS = {"1e999": "is not a duration", "inf": "is not a duration", "nan": "is not a duration",
                 "1_000": "is not a duration", "-5s": "must not be negative", "9223372037s": "is too long"}


@pytest.mark.parametrize("args, flag", FLAGS, ids=[f"{a[0]}{f}" for a, f in FLAGS])
@pytest.mark.parametrize("value", list(NOT_DURATIONS))
def test_not_a_duration_is_a_usage_error(args: list[str], flag: str, value: str, tmp_path: Path) -> None:
    r = run([*args, f"{flag}={value}"], home=tmp_path)
    assert r.code == 2, r
    assert r.stderr.startswith(f'error: {flag} "{value}" {NOT_DURATIONS[value]}'), r
    assert r.stderr.count("\n") == 1 and not r.stdout, r


@pytest.mark.parametrize("value", ["0.05", "11m"])
def test_registry_timeout_out_of_range(value: str, tmp_path: Path) -> None:
    r = run(["estimate", "nginx:1.27", "--registry-timeout", value], home=tmp_path)
    assert (r.code, r.stderr) == (2, f'error: --registry-timeout "{value}" is out of range: use 0.1s to 600s\n'), r


def test_registry_timeout_takes_kubectl_durations(tmp_path: Path) -> None:
    # --offline with nothing cached: the duration was read, and the image fails for want of the cache.
    r = run(["estimate", "--offline", "--registry-timeout", "1m30s", "registry.invalid/app:1"], home=tmp_path)
    assert r.code != 2 and "registry-timeout" not in r.stderr, r


def test_a_sync_timeout_longer_than_its_lease_can_last_is_a_usage_error(tmp_path: Path) -> None:
    # Found in review: 100000d parses as a duration but not as the Lease's int32 leaseDurationSeconds.
    r = run(["sync", "--yes", "--timeout", "100000d"], home=tmp_path)
    assert r.code == 2 and r.stdout == "", r
    assert r.stderr.strip() == "error: --timeout 100000d is too long for sync's Lease: at most 24855d", r
