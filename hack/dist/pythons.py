"""The Python interpreters the release is tested under: every minor version setup.cfg promises.

    python hack/dist/pythons.py          (`make pythons`: print each one's path; install what is missing)
    python hack/dist/pythons.py 3.9      (the same for one: prints its path alone, for the Makefile)

Where they come from: pyenv's builds (PYENV_ROOT, default ~/.pyenv), which machines of this project's
kind carry for 3.6 to 3.13, else pythonX.Y on PATH. A missing one is installed with `pyenv install`
when pyenv is there; otherwise this fails naming what to install. tests/release finds them through
find() below, the same way, and fails (never skips) when one is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lock import PYTHONS  # noqa: E402

PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in path.parts[-3].split("."))


def find(minor: str) -> Optional[Path]:
    """The newest pyenv build of Python `minor` (e.g. "3.9"), else python3.9 on PATH (pyenv's own
    shims left out: they answer only for the version pyenv has selected)."""
    builds = sorted(PYENV_ROOT.glob(f"versions/{minor}.*/bin/python{minor}"), key=_version_key)
    if builds:
        return builds[-1]
    shims = str(PYENV_ROOT / "shims")
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d != shims)
    found = shutil.which(f"python{minor}", path=path)
    return Path(found) if found else None


def how_to_get(minor: str) -> str:
    return (f"Python {minor} not found under {PYENV_ROOT}/versions nor as python{minor} on PATH: run `make pythons` "
            f"(it runs `pyenv install {minor}`), or install python{minor} from your system's packages")


def main(argv: list[str]) -> int:
    missing = []
    for minor in argv or PYTHONS:
        if find(minor) is None and shutil.which("pyenv"):
            print(f"pythons: installing Python {minor} with pyenv", file=sys.stderr)
            subprocess.run(["pyenv", "install", "--skip-existing", minor], check=False)
        python = find(minor)
        if python is None:
            missing.append(minor)
        else:
            print(python if argv else f"{minor}\t{python}")
    for minor in missing:
        print(f"pythons: {how_to_get(minor)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
