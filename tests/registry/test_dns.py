"""A resolver that never answers: --registry-timeout bounds the name lookup too.

getaddrinfo takes no timeout; with a stalled DNS server it waits out the resolver's own retries.
The plugin's resolv.conf names a loopback server (tests/fakes/dns.py) that reads queries and never
replies (tests/support/cli.py runs it in a mount namespace of its own).
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakes.dns import LoopbackDNS
from tests.support.cli import run

SILENT = "127.77.0.53"


def test_a_stalled_name_lookup_ends_within_the_registry_timeout(tmp_path: Path) -> None:
    with LoopbackDNS(SILENT, reply=False) as dns:
        start = time.monotonic()
        r = run(["estimate", "--no-cache", "--registry-timeout", "2", "registry.stalled-dns.example/app:1"],
                home=tmp_path, resolv_conf=dns.resolv_conf(tmp_path, "timeout:20 attempts:3"), timeout=50)
        elapsed = time.monotonic() - start
    assert r.code == 5, r
    assert elapsed < 12, f"{elapsed:.1f}s for a 2 s --registry-timeout"
    assert "registry.stalled-dns.example" in r.stderr and "in time" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert "registry.stalled-dns.example" in dns.queries  # asked of the loopback server, nowhere else
