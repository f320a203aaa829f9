"""A resolver that never answers: --registry-timeout bounds the name lookup too.

getaddrinfo takes no timeout; with a stalled DNS server it waits out the resolver's own retries.
The plugin runs in a private mount namespace (`unshare -m`, as root, as the in-cluster tier does)
whose /etc/resolv.conf names a UDP server on loopback that reads queries and never replies.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

from tests.support.cli import plugin_executable

SILENT = "127.77.0.53"


def test_a_stalled_name_lookup_ends_within_the_registry_timeout(tmp_path: Path) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((SILENT, 53))  # queries queue up here, unanswered
    try:
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(f"nameserver {SILENT}\noptions timeout:20 attempts:3\n")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update({"HOME": str(tmp_path), "KUBECTL_IMAGECACHE_CACHE_DIR": str(tmp_path / "cache")})
        argv = [plugin_executable(), "estimate", "--no-cache", "--registry-timeout", "2",
                "registry.stalled-dns.example/app:1"]
        script = f"mount --bind {shlex.quote(str(resolv))} /etc/resolv.conf && exec {shlex.join(argv)}"
        start = time.monotonic()
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True,
                           timeout=50, check=False)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert r.returncode == 5, (r.returncode, r.stderr)
    assert elapsed < 12, f"{elapsed:.1f}s for a 2 s --registry-timeout"
    assert "registry.stalled-dns.example" in r.stderr and "in time" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
