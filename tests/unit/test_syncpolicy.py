"""sync --policy: the file is checked whole, and any doubt is refused with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.imagecache.syncpolicy import SyncPolicy, load_policy, parse_policy


def test_a_full_policy() -> None:
    p = parse_policy("reasons: [expired, failed]\nmaxCreate: 3\nmaxDelete: 0\nnamespaces: [shop, web, shop]\n", "f")
    assert p == SyncPolicy(frozenset({"expired", "failed"}), 3, 0, ("shop", "web"))


def test_empty_is_the_defaults() -> None:
    assert parse_policy("", "f") == SyncPolicy()


@pytest.mark.parametrize("text, message", [
    ("maxCreat: 3", 'unknown key "maxCreat"'),
    ("reasons: [expired, all]", 'reason "all" is unknown'),
    ("reasons: expired", "reasons must be a list"),
    ("maxCreate: -1", "maxCreate must be a whole number"),
    ("maxDelete: true", "maxDelete must be a whole number"),
    ("maxDelete: 1.5", "maxDelete must be a whole number"),
    ("namespaces: []", "namespaces must be a non-empty list"),
    ("namespaces: [Shop]", "namespaces must be a non-empty list"),
    ("- a\n- b", "must be a mapping"),
    ("a: [", "not valid YAML"),
])
def test_bad_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_policy(text, "--policy f")


def test_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--policy .*missing"):
        load_policy(str(tmp_path / "missing"))
    big = tmp_path / "big"
    big.write_bytes(b"#" * (65 * 1024))
    with pytest.raises(UsageError, match="larger than 64 KiB"):
        load_policy(str(big))
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_policy(str(binary))
