"""`make dist`: the release archive and the krew manifest that names its sha256.

    python hack/dist/release.py [--base-url URL] [--homepage URL] [--dist DIR] [--manifest FILE]

Writes DIST/kubectl-imagecache-vX.Y.Z.tar.gz holding the zipapp `kubectl-imagecache`, the completion
helper `kubectl_complete-imagecache` and LICENSE, then renders plugin.yaml from
hack/dist/plugin.yaml.in: version, the archive's uri and sha256, and one description line per
command as the click tree declares them (so commands added later are described without editing
anything here).

The archive's bytes depend only on its contents: sorted entries, fixed mtime (SOURCE_DATE_EPOCH,
default 1980-01-01), modes 0755/0644, uid/gid 0, and a gzip header without name or time.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import build_zipapp  # noqa: E402

DEFAULT_HOMEPAGE = "https://github.com/kubectl-imagecache/kubectl-imagecache"
DEFAULT_BASE_URL = DEFAULT_HOMEPAGE + "/releases/download"


def plugin_version() -> str:
    return "v" + build_zipapp._plugin_version()


def write_archive(out: Path, members: list[tuple[str, bytes, int]]) -> None:
    mtime = build_zipapp.source_date_epoch()
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes.getvalue())
    tmp.replace(out)


def command_lines() -> list[str]:
    """`  kubectl imagecache NAME  help` for every command and subcommand, from the click tree."""
    import click

    from kubectl_imagecache.cli.main import cli

    lines: list[str] = []

    def walk(group: click.Group, path: list[str]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            if isinstance(cmd, click.Group):
                walk(cmd, path + [name])
            else:
                lines.append(f"{' '.join(path + [name])}: {cmd.get_short_help_str(limit=100)}")

    walk(cli, [])
    return [f"      kubectl imagecache {line}" for line in lines]


def render_manifest(template: str, version: str, uri: str, sha256: str, homepage: str) -> str:
    out = template
    for key, value in {"@VERSION@": version, "@URI@": uri, "@SHA256@": sha256, "@HOMEPAGE@": homepage,
                       "@COMMANDS@": "\n".join(command_lines()), "@MINIMUM@": build_zipapp.TARGET_PYTHON,
                       "@PYTHONS@": build_zipapp.candidates()}.items():
        out = out.replace(key, value)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist")
    ap.add_argument("--manifest", type=Path, default=ROOT / "plugin.yaml")
    ap.add_argument("--base-url", default=DEFAULT_BASE_URL, help="release download URL; /vX.Y.Z/ARCHIVE is appended")
    ap.add_argument("--homepage", default=DEFAULT_HOMEPAGE)
    args = ap.parse_args(argv)

    version = plugin_version()
    with tempfile.TemporaryDirectory() as tmp:  # private, so parallel builds never share files
        zipapp = build_zipapp.build(Path(tmp) / "kubectl-imagecache", Path(tmp) / "work").read_bytes()
    members = [
        ("kubectl-imagecache", zipapp, 0o755),
        ("kubectl_complete-imagecache", (HERE / "kubectl_complete-imagecache").read_bytes(), 0o755),
        ("LICENSE", (ROOT / "LICENSE").read_bytes(), 0o644),
    ]
    args.dist.mkdir(parents=True, exist_ok=True)
    name = f"kubectl-imagecache-{version}.tar.gz"
    archive = args.dist / name
    write_archive(archive, members)
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    uri = f"{args.base_url.rstrip('/')}/{version}/{name}"
    template = (HERE / "plugin.yaml.in").read_text()
    args.manifest.write_text(render_manifest(template, version, uri, sha256, args.homepage))
    print(f"release: {archive} {archive.stat().st_size} bytes sha256 {sha256}", file=sys.stderr)
    print(f"release: {args.manifest.name} updated (version {version}, uri {uri})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
