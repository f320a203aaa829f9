"""Run the installed `kubectl-imagecache` console script as a user would: a real process.

Each run gets its own HOME, cache and Docker config folder unless the test passes its own, so
nothing leaks between tests or from the developer's machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence


def plugin_executable() -> str:
    exe = Path(sys.executable).parent / "kubectl-imagecache"
    if exe.exists():
        return str(exe)
    found = shutil.which("kubectl-imagecache")
    assert found, "kubectl-imagecache is not installed: run `make venv` (pip install -e '.[test]')"
    return found


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run(args: Sequence[str], *, home: Path, env: Optional[dict[str, str]] = None, stdin: Optional[str] = None,
        timeout: float = 120) -> Result:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("KUBECTL_IMAGECACHE_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG"))}
    loopback = "127.0.0.1,127.0.0.2,localhost"  # a proxy from the environment must not see test traffic
    base.update({"HOME": str(home), "NO_PROXY": loopback, "no_proxy": loopback})
    if env:
        base.update(env)
    proc = subprocess.run([plugin_executable(), *args], input=stdin, capture_output=True, text=True,
                          env=base, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)
