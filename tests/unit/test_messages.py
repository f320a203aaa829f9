"""Messages that tell the user what to do: a scheme on an image, a manifest file without images."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_imagecache.cli.main import main
from kubectl_imagecache.errors import EXIT_USAGE, InvalidReference
from kubectl_imagecache.registry.reference import parse_reference


@pytest.mark.parametrize("text, rest", [("http://nginx", "nginx"),
                                        ("https://reg.example:5000/a/b:1", "reg.example:5000/a/b:1"),
                                        ("oci://x", "x")])
def test_a_scheme_is_named_and_dropped(text: str, rest: str) -> None:
    with pytest.raises(InvalidReference) as e:
        parse_reference(text)
    scheme = text.split("://")[0]
    assert f'drop "{scheme}://" and give {rest}' in e.value.message
    assert ("--insecure-registry" in e.value.message) == (scheme == "http")


SERVICES = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec: {ports: [{port: 80}]}
"""


def test_a_file_without_images_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text(SERVICES)
    assert main(["estimate", "--offline", "-f", str(f)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f'error: "{f}" held no images: ') and err.count("\n") == 1
    assert "no images given" not in err

    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(SERVICES))
    assert main(["estimate", "--offline", "-f", "-"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: stdin held no images: ")
