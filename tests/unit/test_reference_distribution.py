"""distribution/reference's own test tables, run against registry/reference.py.

Source: https://github.com/distribution/reference at commit 0965666a6ade2e06035fe352e38344be1e68951a
(2026-04-18): normalize_test.go (TestValidateReferenceName, TestValidateRemoteName,
TestParseRepositoryInfo, TestParseReferenceWithTagAndDigest, TestParseAnyReference,
TestNormalizedSplitHostname, TestParseDockerRef) and reference_test.go (TestReferenceParse).
Copied as data. Our parser is the *normalized* grammar (ParseNormalizedNamed) and always prints a
tag (":latest" when none and no digest), so expectations written for the raw grammar are read
through normalization, as noted per table. Where we decide otherwise on purpose, the case is in
DEVIATIONS with the reason, and the test checks that we do what we say instead.
"""

from __future__ import annotations

from typing import Optional

import pytest

from kubectl_imagecache.errors import InvalidReference
from kubectl_imagecache.registry.reference import parse_reference

F64 = "f" * 64
DBCC = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

# Reasons we differ, by input.
UPPERCASE_REGISTRY = ("an upper-case first component is refused (\"must be lowercase\"), not taken for a registry: "
                      "far likelier a typo than a host called that")
DEVIATIONS = {
    "LOCALDOMAIN/library/debian": UPPERCASE_REGISTRY, "LOCALDOMAIN/debian": UPPERCASE_REGISTRY,
    "Docker/docker": UPPERCASE_REGISTRY, "DOCKER/docker": UPPERCASE_REGISTRY,
    "LOCALDOMAIN/fooo": UPPERCASE_REGISTRY, "LOCALDOMAIN/fooo/bar": UPPERCASE_REGISTRY,
    "Foo/bar": UPPERCASE_REGISTRY, "FOO/bar": UPPERCASE_REGISTRY,
    "[2001:db8:3:4::192.0.2.33]:5000/debian": "IPv6 literals with an embedded IPv4 part are accepted (valid IPv6)",
    "validname@sha512:" + "f" * 128: "sha512 is accepted (go-digest registers it; the Go test leaves it out)",
}

# -- normalize_test.go TestValidateReferenceName and TestValidateRemoteName ------------------------------
VALID_NAMES = [
    "docker/docker", "library/debian", "debian", "localhost/library/debian", "localhost/debian",
    "LOCALDOMAIN/library/debian", "LOCALDOMAIN/debian", "docker.io/docker/docker", "docker.io/library/debian",
    "docker.io/debian", "index.docker.io/docker/docker", "index.docker.io/library/debian", "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/library/debian", "127.0.0.1:5000/debian", "192.168.0.1",
    "192.168.0.1:80", "192.168.0.1:8/debian", "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker", "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "Docker/docker", "DOCKER/docker",
    # TestValidateRemoteName
    "docker-rules/docker", "docker---rules/docker", "doc/docker", "d/docker", "jess/t", "dock__er/docker",
]
INVALID_NAMES = [
    "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker", "-docker.io/docker/docker",
    "docker///docker", "docker.io/docker/Docker", "docker.io/docker///docker", "[fc00::1]", "[fc00::1]:5000",
    "fc00::1:5000/debian", "[fe80::1%eth0]:5000/debian", "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    # TestValidateRemoteName
    "docker-/docker", "-docker-/docker", "____/____", "_docker/_docker", "dock..er/docker", "dock_.er/docker",
    "dock-.er/docker", "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_"
    "lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_"
    "valid_namespace_because_its_lenth_is_greater_than_255/docker",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names(name: str) -> None:
    if name in DEVIATIONS:
        with pytest.raises(InvalidReference, match="lowercase"):
            parse_reference(name)
        return
    parse_reference(name)


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names(name: str) -> None:
    if name in DEVIATIONS:
        assert parse_reference(name).registry == name.split("/", 1)[0]
        return
    with pytest.raises(InvalidReference):
        parse_reference(name)


# -- TestParseRepositoryInfo: (remote name, familiar, full, ambiguous or "", domain) ----------------------
REPOSITORY_INFO = [
    ("fooo", "localhost/fooo", "localhost/fooo", "localhost/fooo", "localhost"),
    ("fooo/bar", "localhost/fooo/bar", "localhost/fooo/bar", "localhost/fooo/bar", "localhost"),
    ("fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN"),
    ("fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN"),
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
    ("private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", "", "127.0.0.1:8000"),
    ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "", "127.0.0.1:8000"),
    ("private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", "", "example.com"),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
    ("private/moonbase", "example.com:8000/private/moonbase", "example.com:8000/private/moonbase", "",
     "example.com:8000"),
    ("privatebasee", "example.com:8000/privatebasee", "example.com:8000/privatebasee", "", "example.com:8000"),
    ("library/ubuntu-12.04-base", "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base",
     "index.docker.io/library/ubuntu-12.04-base", "docker.io"),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
    ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
]


@pytest.mark.parametrize("remote, familiar, full, ambiguous, domain", REPOSITORY_INFO,
                         ids=[r[1] for r in REPOSITORY_INFO])
def test_parse_repository_info(remote: str, familiar: str, full: str, ambiguous: str, domain: str) -> None:
    for text in filter(None, (familiar, full, ambiguous)):
        if text in DEVIATIONS:
            with pytest.raises(InvalidReference, match="lowercase"):
                parse_reference(text)
            continue
        ref = parse_reference(text)
        # No tag in the input: ours prints the default one.
        assert ref.familiar() == familiar + ":latest"
        assert str(ref) == full + ":latest"
        assert ref.registry == domain
        assert ref.repository == remote


def test_parse_reference_with_tag_and_digest() -> None:
    short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    ref = parse_reference(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.tag == "latest" and ref.digest is not None
    assert ref.familiar() == short


# -- TestParseAnyReference: (reference, equivalent); bare digests are not image references for us --------
PARSE_ANY = [
    ("redis", "docker.io/library/redis"),
    ("redis:latest", "docker.io/library/redis:latest"),
    ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
    (f"redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
    (f"docker.io/library/redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
    ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
    ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
    ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
    (f"dmcgowan/myapp@sha256:{DBCC}", f"docker.io/dmcgowan/myapp@sha256:{DBCC}"),
    (f"docker.io/dmcgowan/myapp@sha256:{DBCC}", f"docker.io/dmcgowan/myapp@sha256:{DBCC}"),
    (DBCC[:-1], f"docker.io/library/{DBCC[:-1]}"),
    ("dbcc1", "docker.io/library/dbcc1"),
]


@pytest.mark.parametrize("text, equivalent", PARSE_ANY)
def test_parse_any_reference(text: str, equivalent: str) -> None:
    default_tag = "" if ("@" in equivalent or equivalent.rsplit("/", 1)[-1].count(":")) else ":latest"
    assert str(parse_reference(text)) == equivalent + default_tag


def test_bare_image_id_is_refused_where_distribution_reads_a_digest() -> None:
    # ParseAnyReference(64 hex) is a digest reference; for an image list that is an image ID typo.
    with pytest.raises(InvalidReference, match="image ID"):
        parse_reference(DBCC)


# -- TestNormalizedSplitHostname ------------------------------------------------------------------------
SPLIT = [
    ("test.com/foo", "test.com", "foo"), ("test_com/foo", "docker.io", "test_com/foo"),
    ("docker/migrator", "docker.io", "docker/migrator"), ("test.com:8080/foo", "test.com:8080", "foo"),
    ("test-com:8080/foo", "test-com:8080", "foo"), ("foo", "docker.io", "library/foo"),
    ("xn--n3h.com/foo", "xn--n3h.com", "foo"), ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ("docker.io/foo", "docker.io", "library/foo"), ("docker.io/library/foo", "docker.io", "library/foo"),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
]


@pytest.mark.parametrize("text, domain, path", SPLIT)
def test_normalized_split_hostname(text: str, domain: str, path: str) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository) == (domain, path)


# -- TestParseDockerRef ----------------------------------------------------------------------------------
E669 = "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
DOCKER_REF = [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:latest", "docker.io/library/busybox:latest"),
    (f"busybox@sha256:{E669}", f"docker.io/library/busybox@sha256:{E669}"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
    ("library/busybox:latest", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
    ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
    # ParseDockerRef drops the tag next to a digest; we keep both (ECI matches caches by tag), and
    # the digest is still what is fetched.
    (f"gcr.io/library/busybox:latest@sha256:{E669}", f"gcr.io/library/busybox:latest@sha256:{E669}"),
]


@pytest.mark.parametrize("text, expected", DOCKER_REF)
def test_parse_docker_ref(text: str, expected: str) -> None:
    ref = parse_reference(text)
    assert str(ref) == expected
    assert ref.identifier == (ref.digest or ref.tag)


# -- reference_test.go TestReferenceParse: (input, error?, repository, domain, tag, digest) ---------------
# The raw grammar's "repository" without a domain is a Docker Hub name once normalized.
REFERENCE_PARSE: list[tuple[str, bool, str, str, Optional[str], Optional[str]]] = [
    ("test_com", False, "test_com", "", None, None),
    ("test.com:tag", False, "test.com", "", "tag", None),
    ("test.com:5000", False, "test.com", "", "5000", None),
    ("test.com/repo:tag", False, "test.com/repo", "test.com", "tag", None),
    ("test:5000/repo", False, "test:5000/repo", "test:5000", None, None),
    ("test:5000/repo:tag", False, "test:5000/repo", "test:5000", "tag", None),
    (f"test:5000/repo@sha256:{F64}", False, "test:5000/repo", "test:5000", None, f"sha256:{F64}"),
    (f"test:5000/repo:tag@sha256:{F64}", False, "test:5000/repo", "test:5000", "tag", f"sha256:{F64}"),
    ("", True, "", "", None, None),
    (":justtag", True, "", "", None, None),
    (f"@sha256:{F64}", True, "", "", None, None),
    ("repo@sha256:" + "f" * 34, True, "", "", None, None),
    (f"validname@invaliddigest:{F64}", True, "", "", None, None),
    ("validname@sha512:" + "f" * 128, True, "", "", None, None),
    ("Uppercase:tag", True, "", "", None, None),
    ("test:5000/Uppercase/lowercase:tag", True, "", "", None, None),
    ("lowercase:Uppercase", False, "lowercase", "", "Uppercase", None),
    ("domain/" + "a" * 256 + ":tag", True, "", "", None, None),
    ("a/" * 127 + "a:tag-puts-this-over-max", False, "a/" * 127 + "a", "a", "tag-puts-this-over-max", None),
    ("aa/asdf$$^/aa", True, "", "", None, None),
    ("sub-dom1.foo.com/bar/baz/quux", False, "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", None, None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", False, "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com",
     "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", False, "b.gcr.io/test.example.com/my-app", "b.gcr.io",
     "test.example.com", None),
    ("xn--n3h.com/myimage:xn--n3h.com", False, "xn--n3h.com/myimage", "xn--n3h.com", "xn--n3h.com", None),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@sha256:{F64}", False, "xn--7o8h.com/myimage", "xn--7o8h.com",
     "xn--7o8h.com", f"sha256:{F64}"),
    ("foo_bar.com:8080", False, "foo_bar.com", "", "8080", None),
    ("foo/foo_bar.com:8080", False, "foo/foo_bar.com", "foo", "8080", None),
    ("192.168.1.1", False, "192.168.1.1", "", None, None),
    ("192.168.1.1:tag", False, "192.168.1.1", "", "tag", None),
    ("192.168.1.1:5000", False, "192.168.1.1", "", "5000", None),
    ("192.168.1.1/repo", False, "192.168.1.1/repo", "192.168.1.1", None, None),
    ("192.168.1.1:5000/repo", False, "192.168.1.1:5000/repo", "192.168.1.1:5000", None, None),
    ("192.168.1.1:5000/repo:5050", False, "192.168.1.1:5000/repo", "192.168.1.1:5000", "5050", None),
    ("[2001:db8::1]", True, "", "", None, None),
    ("[2001:db8::1]:5000", True, "", "", None, None),
    ("[2001:db8::1]:tag", True, "", "", None, None),
    ("[2001:db8::1]/repo", False, "[2001:db8::1]/repo", "[2001:db8::1]", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", False, "[2001:db8:1:2:3:4:5:6]/repo", "[2001:db8:1:2:3:4:5:6]", "tag", None),
    ("[2001:db8::1]:5000/repo", False, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", None, None),
    ("[2001:db8::1]:5000/repo:tag", False, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", None),
    (f"[2001:db8::1]:5000/repo@sha256:{F64}", False, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", None,
     f"sha256:{F64}"),
    (f"[2001:db8::1]:5000/repo:tag@sha256:{F64}", False, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag",
     f"sha256:{F64}"),
    ("[2001:db8::]:5000/repo", False, "[2001:db8::]:5000/repo", "[2001:db8::]:5000", None, None),
    ("[::1]:5000/repo", False, "[::1]:5000/repo", "[::1]:5000", None, None),
    ("[fe80::1%eth0]:5000/repo", True, "", "", None, None),
    ("[fe80::1%@invalidzone]:5000/repo", True, "", "", None, None),
    ("example.com/" + "a" * 255 + ":tag", False, "example.com/" + "a" * 255, "example.com", "tag", None),
]


def _normalized_name(repository: str, domain: str) -> tuple[str, str]:
    # A raw-grammar "domain" without "." or ":" that is not localhost is a Docker Hub namespace.
    if domain and ("." in domain or ":" in domain or domain == "localhost" or domain.startswith("[")):
        return domain, repository[len(domain) + 1:]
    return "docker.io", repository if "/" in repository else "library/" + repository


@pytest.mark.parametrize("text, error, repository, domain, tag, digest", REFERENCE_PARSE,
                         ids=[c[0][:60] for c in REFERENCE_PARSE])
def test_reference_parse(text: str, error: bool, repository: str, domain: str, tag: Optional[str],
                         digest: Optional[str]) -> None:
    if text in DEVIATIONS:
        assert parse_reference(text).digest == text.split("@", 1)[1]
        return
    if error:
        with pytest.raises(InvalidReference):
            parse_reference(text)
        return
    ref = parse_reference(text)
    assert (ref.registry, ref.repository) == _normalized_name(repository, domain)
    assert ref.digest == digest
    assert ref.tag == (tag if tag is not None or digest is not None else "latest")
