"""`kubectl imagecache cache info|clear`: the local registry-metadata cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import click

from ...model.sizing import human_bytes
from ..options import CommandOptions, output_flag
from ..printflags import PrintOptions

_CACHE_DIR = click.option("--cache-dir", metavar="DIR", help="The cache folder (default as for estimate).")


@click.group("cache", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Inspect or empty the local cache of registry metadata.

    \b
    Examples:
      kubectl imagecache cache info
      kubectl imagecache cache clear
    """


@dataclass
class CacheInfoOptions(CommandOptions, PrintOptions):
    cache_dir: Optional[str] = None
    output: str = "table"

    def run(self) -> int:
        cache = _open(self.cache_dir)
        data = cache.info()
        cache.close()
        if self.printer.document:
            self.printer.print_obj(data)
        else:
            click.echo(f"Path:    {data['path']}")
            click.echo(f"Entries: {data['entries']}")
            click.echo(f"Size:    {human_bytes(data['bytes'])} ({data['bytes']} bytes, limit "
                       f"{human_bytes(data['sizeLimitBytes'])})")
        return 0


@dataclass
class CacheClearOptions(CommandOptions):
    cache_dir: Optional[str] = None

    def run(self) -> int:
        cache = _open(self.cache_dir)
        removed = cache.clear()
        cache.close()
        click.echo(f"cleared {removed} {'entry' if removed == 1 else 'entries'} from {cache.directory}", err=True)
        return 0


def _open(cache_dir: Optional[str]) -> Any:
    from ...registry.cache import MetadataCache, default_cache_dir
    from ..printers import warn

    return MetadataCache(default_cache_dir(cache_dir), warn=warn)


@command.command("info")
@_CACHE_DIR
@output_flag()
def info_cmd(cache_dir: Optional[str], output: str) -> int:
    """Print the cache's path, entries and bytes on disk.

    \b
    Example:
      kubectl imagecache cache info -o json
    """
    return CacheInfoOptions(cache_dir, output).execute()


@command.command("clear")
@_CACHE_DIR
def clear_cmd(cache_dir: Optional[str]) -> int:
    """Remove every entry; the next command asks the registries again.

    \b
    Example:
      kubectl imagecache cache clear
    """
    return CacheClearOptions(cache_dir).execute()
