"""list's STALE column against a registry that accepts connections and never answers.

A freshness lookup is a nicety of `list`/`describe`: it must not hold the table for the 30 s a
registry read may take elsewhere. The hostile registry (tests/fakes/hostile.py) stalls on every
manifest; the cache records a digest for its tag, so list has to ask.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.cluster.commands_support import Plugin, create_imagecache, unique
from tests.fakes.hostile import HostileRegistry, stall

DIGESTS = "kubectl-imagecache.io/digests"


def test_list_does_not_wait_long_for_a_stalled_registry(imc: Plugin, custom_api: Any, tmp_path: Path) -> None:
    with HostileRegistry() as reg:
        reg.on(r"/manifests/", stall())
        image = f"{reg.host}/stalled/app:1"
        name = unique("stalled")
        create_imagecache(custom_api, name, [image], annotations={DIGESTS: json.dumps({image: "sha256:" + "a" * 64})},
                          status={"phase": "Ready", "progress": "100%"})
        home = tmp_path / "fresh-home"  # no metadata cache: list must ask the registry
        home.mkdir()
        start = time.monotonic()
        r = Plugin(imc.kubeconfig, home)("list", name, timeout=60)
        elapsed = time.monotonic() - start
    assert r.code == 0, r
    header, row = r.stdout.splitlines()
    assert row.split()[header.split().index("STALE")] == "-"
    assert "freshness is unknown" in r.stderr, r.stderr
    assert elapsed < 15, f"list took {elapsed:.1f}s behind a stalled registry"
