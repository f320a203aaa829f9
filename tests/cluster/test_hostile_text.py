"""Text others wrote into the cluster reaches the terminal escaped, on its own line, through one escaper.

The cloud writes status.reason, progress, the cache id and events; anyone with RBAC writes annotations
(a pin's value). Each may hold a newline that forges a second "error:" line, an ANSI sequence that
clears the screen, or a right-to-left override / line separator that reorders or splits what is shown.
"""

from __future__ import annotations

from typing import Any

from tests.cluster.commands_support import Plugin, create_imagecache, unique
from tests.cluster.test_coverage import PIN, deployment

HOSTILE = "bad\u202eexe.gnp\u2028\u2029\nerror: forged\x1b[2J\x9b1m"
RAW = ("\u202e", "\u2028", "\u2029", "\x1b", "\x9b", "\nerror: forged")


def assert_escaped(text: str) -> None:
    assert not any(c in text for c in RAW), repr(text)
    assert "bad\\u202eexe.gnp\\u2028\\u2029\\nerror: forged\\u001b[2J\\u009b1m" in text, repr(text)


def line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_describe_escapes_the_clouds_reason_events_and_annotations(imc: Plugin, custom_api: Any) -> None:
    name = unique("hostile")
    create_imagecache(custom_api, name, ["registry.example/a:1"], annotations={"note": HOSTILE},
                      status={"phase": "Failed", "progress": "0%", "reason": HOSTILE,
                              "events": [{"type": "Warning", "name": "Failed", "message": HOSTILE,
                                          "timestamp": "2026-11-26T10:01:00Z"}]})
    r = imc("describe", name)
    assert r.code == 0, r
    assert_escaped(r.stdout)
    assert_escaped(line_with(r.stdout, "Reason:"))  # one line each: nothing forged after it
    assert_escaped(line_with(r.stdout, "Annotations:"))
    assert_escaped(line_with(r.stdout.split("Events:", 1)[1], "Warning"))


def test_list_escapes_what_the_cloud_wrote_in_each_cell(imc: Plugin, custom_api: Any) -> None:
    group = unique("hostile")
    create_imagecache(custom_api, f"{group}-c", ["registry.example/a:1"], labels={"grp": group},
                      status={"phase": "Creating", "progress": HOSTILE, "imageCacheId": "imc-x"})
    r = imc("list", "-l", f"grp={group}", "-o", "wide")
    assert r.code == 0, r
    assert len(r.stdout.splitlines()) == 2, r  # the header and one row
    assert_escaped(line_with(r.stdout, f"{group}-c"))


def test_coverage_escapes_a_pin_someone_wrote(imc: Plugin, admin_api: Any, namespace: str) -> None:
    deployment(admin_api, namespace, "pinned", ["registry.example/a:1"], {PIN: HOSTILE})
    r = imc("coverage", "-n", namespace, "-o", "wide")
    assert r.code == 0, r
    assert_escaped(line_with(r.stdout, f"{namespace}/pinned"))
