"""`kubectl imagecache version` (and `--version`): what is running, for bug reports.

Library versions come from the installed distributions' metadata (importlib.metadata), never by
importing them: importing the Kubernetes client alone costs ~0.9 s. In the zipapp the
dist-info folders are kept for this.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from typing import Any, Optional

import click

from ... import __version__
from ..options import CommandOptions, output_flag
from ..printflags import PrintFlags

# Distributions whose versions matter when something misbehaves (registry I/O, cluster I/O, CLI).
LIBRARIES = ("click", "kubernetes", "requests", "urllib3", "diskcache", "PyYAML", "tabulate")


def _installed_as() -> str:
    """'zipapp' when running from the single-file release, else 'package' (pip install)."""
    import os

    # Walk up from this file: a path through a file is a path inside an archive (however deep the
    # module sits in the package).
    parent, here = os.path.dirname(os.path.abspath(__file__)), ""
    while parent != here:
        if os.path.isfile(parent):
            return "zipapp"
        parent, here = os.path.dirname(parent), parent
    return "package"


def version_info() -> dict[str, Any]:
    from importlib import metadata

    libraries: dict[str, Any] = {}
    for name in LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libraries[name] = None
    return {
        "version": f"v{__version__}",
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "installedAs": _installed_as(),
        "libraries": libraries,
    }


def print_version(flags: Optional[PrintFlags] = None) -> None:
    info = version_info()
    printer = (flags or PrintFlags()).to_printer()
    if printer.document:
        printer.print_obj(info)
        return
    py = info["python"]
    click.echo(f"kubectl-imagecache {info['version']} ({info['installedAs']})")
    click.echo(f"Python {py['version']} ({py['implementation']}, {py['executable']})")
    for name, version in info["libraries"].items():
        click.echo(f"{name} {version or 'not installed'}")


@dataclass
class VersionOptions(CommandOptions):
    output: str = "table"

    def run(self) -> int:
        print_version(PrintFlags(self.output))
        return 0


@click.command("version", context_settings={"help_option_names": ["-h", "--help"]})
@output_flag()
def command(output: str) -> int:
    """Print the plugin, Python and client library versions.

    \b
    Examples:
      kubectl imagecache version
      kubectl imagecache version -o json
    """
    return VersionOptions(output).execute()


__all__ = ["command", "version_info", "print_version", "VersionOptions"]
