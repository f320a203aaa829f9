"""The README says what the code does: estimate's JSON shape, the completion link the caveats give,
how to get krew and what `make dist` creates."""

from __future__ import annotations

import re
from pathlib import Path

from kubectl_imagecache.imagecache.estimate import build_report
from kubectl_imagecache.registry.manifest import Descriptor, ImageInfo, ImageManifest, InspectResult
from kubectl_imagecache.registry.platform import DEFAULT_PLATFORM
from kubectl_imagecache.registry.reference import parse_reference

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _keys(shape: str) -> dict[str, object]:
    """`{"a":[{"b","c"}],"d"}` as {"a": {"b": None, "c": None}, "d": None}."""
    out: dict[str, object] = {}
    for m in re.finditer(r'"(\w+)"(?::\[\{([^}]*)\}\])?', shape):
        if m.group(2) is not None:
            out[m.group(1)] = {k: None for k in re.findall(r'"(\w+)"', m.group(2))}
        elif not any(m.group(1) in (v or {}) for v in out.values() if isinstance(v, dict)):
            out[m.group(1)] = None
    return out


def test_estimate_json_shape_matches_the_output() -> None:
    [shape] = re.findall(r"The JSON shape:\n`(\{.*\})`", README)
    documented = _keys(shape)
    d = "sha256:" + "c" * 64
    m = ImageManifest("application/vnd.oci.image.manifest.v1+json", Descriptor("", "sha256:" + "f" * 64, 100),
                      (Descriptor("", "sha256:" + "1" * 64, 10),))
    ok = InspectResult("a", info=ImageInfo(parse_reference("a"), d, m.media_type, d, DEFAULT_PLATFORM, m))
    from kubectl_imagecache.errors import NotFound

    report = build_report([ok, InspectResult("b", error=NotFound("gone"))]).to_dict()
    assert set(documented) == set(report)
    assert set(documented["images"]) == set(report["images"][0])  # type: ignore[arg-type]
    assert set(documented["errors"]) == set(report["errors"][0])  # type: ignore[arg-type]


def test_completion_link_is_the_caveats_one() -> None:
    template = (ROOT / "hack" / "dist" / "plugin.yaml.in").read_text()
    [caveat] = [ln.strip() for ln in template.splitlines() if ln.strip().startswith("ln ")]
    assert caveat in README and "store/imagecache/v" not in caveat
    assert "survives `kubectl krew upgrade`" in " ".join(README.split())


def test_install_says_how_to_get_krew_and_what_make_dist_creates() -> None:
    install = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "https://krew.sigs.k8s.io/docs/user-guide/setup/install/" in install and "make krew" in install
    assert "`make dist` creates in `dist/`" in " ".join(install.split())


def test_architecture_names_every_module_and_commands_name_every_command() -> None:
    arch = README.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "kubectl_imagecache"
    modules = {p.stem for p in package.glob("*/*.py") if p.stem != "__init__"}
    modules |= {p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")}
    missing = sorted(m for m in modules if f"`{m}`" not in arch)
    assert not missing, f"README's Architecture does not name {missing}"
    commands = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    names = {p.stem for p in (package / "cli" / "commands").glob("*.py") if p.stem != "__init__"}
    headed = " ".join(line for line in commands.splitlines() if line.startswith("### "))
    assert not sorted(n for n in names if f"`{n}" not in headed and f" `{n}" not in headed)
