"""Where the local metadata cache lives, apart from the cache itself.

Every registry command resolves the folder (--cache-dir and its defaults) while it checks its flags;
`estimate --no-cache` then never opens it, and so never imports the cache module (registry.cache)
either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

__all__ = ["default_cache_dir", "project_cache_root"]


def default_cache_dir(explicit: Optional[str] = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("KUBECTL_IMAGECACHE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return project_cache_root() / "metadata"


def project_cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kubectl-imagecache"
