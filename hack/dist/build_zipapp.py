"""Build the kubectl-imagecache zipapp: the plugin and its locked pure-Python dependencies in one file.

    python hack/dist/build_zipapp.py OUTPUT     (normally run by hack/dist/release.py via `make dist`)

Steps: download the wheels named in requirements.lock (hashes checked), unpack them minus what the
plugin never runs (kubernetes' asyncio client and tests, compiled accelerators of STRIPPED
packages), add the plugin's sources and __main__.py, and write a zip whose bytes depend only on
its contents: sorted entries, one timestamp, fixed modes, behind a shell launcher (launcher.sh)
that finds a Python new enough. Any compiled extension left means a
dependency changed: the build fails instead of shipping a file that only loads on one platform.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOCK = HERE / "requirements.lock"
MAIN = HERE / "zipapp_main.py"
LAUNCHER = HERE / "launcher.sh"
PACKAGE = "kubectl_imagecache"

sys.path.insert(0, str(HERE))
from lock import PYTHONS, STRIPPED, STRIPPED_PLATFORM, TARGET_PYTHON  # noqa: E402

COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
# Paths (inside the zip) never shipped. Why each:
EXCLUDE = [
    "*/__pycache__/*", "*.pyc",             # bytecode is per interpreter; sources only
    "*.dist-info/RECORD",                   # lists files we drop; importlib.metadata does not need it
    "*.dist-info/INSTALLER", "*.dist-info/REQUESTED",
    "kubernetes/aio/*",                     # asyncio client: needs aiohttp (compiled), never imported
    "kubernetes/*_test.py", "kubernetes/*/test_*.py",  # the client's own tests
    "*.data/*",                             # scripts and headers; no locked wheel has code here
]
# Compiled modules removed from STRIPPED packages; each has a pure-Python fallback.
STRIP = {"pyyaml": ["yaml/_yaml.*", "_yaml/*"]}


def _excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def locked() -> list[tuple[str, str]]:
    """(name, requirement line) for every locked package."""
    out = []
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            out.append((line.split("==", 1)[0].lower(), line))
    return out


def wheel_cache() -> Path:
    # One folder per lock, so a checkout with another lock (a branch, an older release) never finds
    # wheels that are not its own.
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kubectl-imagecache" / "wheels" / hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]


def download(dest: Path) -> list[Path]:
    """The locked wheels, from the cache folder or PyPI; pip checks every hash."""
    dest.mkdir(parents=True, exist_ok=True)
    impl, abi, platform = STRIPPED_PLATFORM
    groups = {
        "pure": (["--implementation", "py", "--abi", "none", "--platform", "any"],
                 [line for name, line in locked() if name not in STRIPPED]),
        "stripped": (["--implementation", impl, "--abi", abi, "--platform", platform],
                     [line for name, line in locked() if name in STRIPPED]),
    }
    for label, (flags, lines) in groups.items():
        if not lines:
            continue
        req = dest / f".{label}.txt"
        req.write_text("\n".join(lines) + "\n")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--require-hashes", "--only-binary=:all:", "--python-version", TARGET_PYTHON,
                        *flags, "--dest", str(dest), "-r", str(req)], check=True)
        req.unlink()
    wanted = {name.replace("-", "_") for name, _ in locked()}
    wheels = sorted(p for p in dest.glob("*.whl") if p.name.split("-", 1)[0].lower() in wanted)
    if len(wheels) != len(wanted):
        raise SystemExit(f"build_zipapp: expected {len(wanted)} wheels in {dest}, found {len(wheels)}")
    return wheels


def collect(wheels: list[Path]) -> dict[str, bytes]:
    """Zip member name -> contents: the wheels' files and the plugin's sources."""
    files: dict[str, bytes] = {}
    for wheel in wheels:
        project = wheel.name.split("-", 1)[0].lower()
        strip = STRIP.get(project, [])
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if info.is_dir() or _excluded(info.filename, EXCLUDE + strip):
                    continue
                files[info.filename] = zf.read(info)
    for path in sorted((ROOT / PACKAGE).rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and not _excluded(rel, EXCLUDE):
            files[rel] = path.read_bytes()
    version = _plugin_version()
    # importlib.metadata.version("kubectl-imagecache") works inside the archive too.
    files[f"kubectl_imagecache-{version}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\nName: kubectl-imagecache\nVersion: {version}\nRequires-Python: >={TARGET_PYTHON}\n"
    ).encode()
    compiled = sorted(n for n in files if n.lower().endswith(COMPILED_SUFFIXES))
    if compiled:
        raise SystemExit("build_zipapp: compiled extensions would be shipped (the zipapp must be pure Python): "
                         + ", ".join(compiled))
    build_id = hashlib.sha256(b"".join(hashlib.sha256(n.encode() + b"\0" + files[n]).digest()
                                       for n in sorted(files))).hexdigest()[:16]
    files["__main__.py"] = (MAIN.read_bytes().replace(b"@BUILD_ID@", build_id.encode())
                            .replace(b"@MINIMUM@", TARGET_PYTHON.encode()))
    return files


def candidates() -> str:
    """The names the launcher tries when python3 is too old: python3.13 ... python3.9, newest first."""
    if PYTHONS[0] != TARGET_PYTHON:
        raise SystemExit(f"build_zipapp: setup.cfg's oldest classifier {PYTHONS[0]} is not its python_requires "
                         f"{TARGET_PYTHON}")
    return " ".join(f"python{v}" for v in reversed(PYTHONS))


def launcher() -> bytes:
    """The shell script in front of the zip: python3, else python3.X on PATH, newest first."""
    text = LAUNCHER.read_bytes().replace(b"@PYTHONS@", candidates().encode())
    return text.replace(b"@MINIMUM@", TARGET_PYTHON.encode())


def _plugin_version() -> str:
    text = (ROOT / PACKAGE / "__init__.py").read_text()
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("build_zipapp: __version__ not found")


def source_date_epoch() -> int:
    # Zip timestamps cannot precede 1980; 1980-01-01 is also the default when nothing is set.
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)


def write_zip(files: dict[str, bytes], out: Path) -> None:
    import time

    stamp = time.gmtime(source_date_epoch())[:6]
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw:
        raw.write(launcher())  # zip offsets are relative to the end of the file, so a prefix is allowed
        with zipfile.ZipFile(raw, "w") as zf:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # unix, so external_attr below means file mode
                info.external_attr = 0o100644 << 16
                zf.writestr(info, files[name], compresslevel=9)
    tmp.chmod(0o755)
    os.replace(tmp, out)


def build(out: Path, work: Path) -> Path:
    files = collect(download(wheel_cache()))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_zip(files, out)
    shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    build(out, ROOT / "build" / "zipapp")
    print(f"build_zipapp: {out} ({out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
