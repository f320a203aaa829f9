"""Run the installed `kubectl-imagecache` console script as a user would: a real process.

Each run gets its own HOME, cache and Docker config folder unless the test passes its own, so
nothing leaks between tests or from the developer's machine. With ``resolv_conf`` the plugin looks
names up only through that file's servers (a loopback tests/fakes/dns.py server): it runs in a
private mount namespace (`unshare -m`, as root) with the file bound over /etc/resolv.conf.
"""

from __future__ import annotations

import json
import os
import shlex
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
        timeout: float = 120, resolv_conf: Optional[Path] = None) -> Result:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("KUBECTL_IMAGECACHE_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG"))}
    loopback = "127.0.0.1,127.0.0.2,localhost"  # a proxy from the environment must not see test traffic
    base.update({"HOME": str(home), "NO_PROXY": loopback, "no_proxy": loopback})
    argv = [plugin_executable(), *args]
    if resolv_conf is not None:
        # No proxy either: it would look the name up instead, with the machine's resolver.
        base = {k: v for k, v in base.items() if "proxy" not in k.lower()}
        script = f"mount --bind {shlex.quote(str(resolv_conf))} /etc/resolv.conf && exec {shlex.join(argv)}"
        argv = ["unshare", "-m", "sh", "-c", script]
    if env:
        base.update(env)
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=base, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)
