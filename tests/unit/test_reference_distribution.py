"""distribution/reference's own test tables, run against registry/reference.py.

Source: https://github.com/distribution/reference at commit 0965666a6ade2e06035fe352e38344be1e68951a
(2026-04-18): normalize_test.go (TestValidateReferenceName, TestValidateRemoteName,
TestParseRepositoryInfo, TestParseReferenceWithTagAndDigest, TestParseAnyReference,
TestNormalizedSplitHostname, TestParseDockerRef, TestInvalidReferenceComponents), reference_test.go
(TestReferenceParse, TestWithNameFailure, TestDomainAndPath, TestParseNamed) and regexp_test.go
(TestDomainRegexp, TestFullNameRegexp, TestReferenceRegexp, TestIdentifierRegexp).
Copied as data. Our parser is the *normalized* grammar (ParseNormalizedNamed) and always prints a
tag (":latest" when none and no digest), so expectations written for the raw grammar are read
through normalization, as noted per table. Where we decide otherwise on purpose, the case is in
DEVIATIONS with the reason, and the test checks that we do what we say instead.

The regexp tables test patterns, not functions. We read them like this. A domainAndPort match
means the string is accepted as a Reference's registry. An anchoredNameRegexp match (or WithName
success) means parse_reference accepts the string as a name alone, with no tag or digest. A
referenceRegexp match means parse_reference accepts it, and the submatches (name, tag, digest) are
compared with the normalized registry/repository, the tag and the digest. An
anchoredIdentifierRegexp match means parse_reference refuses the string as an image ID.
"""

from __future__ import annotations

from typing import Optional

import pytest

from kubectl_imagecache.errors import InvalidReference
from kubectl_imagecache.registry.reference import Reference, parse_reference

F64 = "f" * 64
DBCC = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

# Reasons we differ, by input. A test acts only on the reasons that concern its own table: "a" is
# a name we accept (TestFullNameRegexp) but not a registry (TestDomainRegexp).
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
SINGLE_LABEL_REGISTRY = ("a one-label host other than localhost is not a registry: written out, \"a/app\" reads back "
                         "as the Docker Hub namespace \"a\" (the normalized grammar splits it that way too; only the "
                         "raw domain regexp takes it)")
PORT_RANGE = ("a port outside 1-65535 is refused when the reference is parsed; the domain regexp takes any run of "
              "digits and leaves the rest to later validation")
IPV6_CHECKED = ("a bracketed IPv6 literal is checked as an address when parsed; the domain regexp takes any hex and "
                "colons (the Go comment says this one \"will fail in validation\")")
NAME_LENGTH = ("the name regexp has no length limit; this name is 257 characters, and a repository path over 255 is "
               "refused (upstream's Parse refuses it too, with ErrNameTooLong)")
DEVIATIONS.update({
    "a": SINGLE_LABEL_REGISTRY,
    "192.168.1.1:75050": PORT_RANGE, "192.168.1.1:750050": PORT_RANGE, "[fd00:1:2::3]:75050": PORT_RANGE,
    "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050": PORT_RANGE,
    "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505": PORT_RANGE,
    "[fd00123123123]:75050": IPV6_CHECKED,
    "a/" * 128 + "a": NAME_LENGTH,
})
# What we say instead for the registry rows: a pattern of the InvalidReference message.
REGISTRY_REFUSALS = {SINGLE_LABEL_REGISTRY: "Docker Hub namespace", PORT_RANGE: "port .* is invalid",
                     IPV6_CHECKED: "not a valid host"}

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


# -- reference_test.go TestWithNameFailure: (input, error); every row must be refused as a name ----------
def _parse_name(text: str) -> Reference:
    """Parse ``text`` as a name alone (WithName, anchoredNameRegexp): a tag or digest is refused.

    parse_reference reads whole references. ``text`` is a bare name exactly when ``text:probe``
    parses: a tag or digest already in ``text`` leaves a ":" or "@" where a name allows neither.
    """
    ref = parse_reference(text + ":probe")
    assert ref.tag == "probe" and ref.digest is None
    return ref


WITH_NAME_FAILURE = [
    ("", "ErrReferenceInvalidFormat"),
    (":justtag", "ErrReferenceInvalidFormat"),
    (f"@sha256:{F64}", "ErrReferenceInvalidFormat"),
    (f"validname@invaliddigest:{F64}", "ErrReferenceInvalidFormat"),
    ("example.com/repo:tag", "ErrReferenceInvalidFormat"),
    ("example.com/" + "a" * 256, "ErrNameTooLong"),
    ("aa/asdf$$^/aa", "ErrReferenceInvalidFormat"),
]


@pytest.mark.parametrize("text, error", WITH_NAME_FAILURE, ids=[r[0][:60] for r in WITH_NAME_FAILURE])
def test_with_name_failure(text: str, error: str) -> None:
    with pytest.raises(InvalidReference, match="longer than 255" if error == "ErrNameTooLong" else None):
        _parse_name(text)


# -- reference_test.go TestDomainAndPath: (input, domain, path) of the raw grammar, read normalized -------
DOMAIN_AND_PATH = [
    ("test.com/foo", "test.com", "foo"),
    ("test_com/foo", "", "test_com/foo"),
    ("test:8080/foo", "test:8080", "foo"),
    ("test.com:8080/foo", "test.com:8080", "foo"),
    ("test-com:8080/foo", "test-com:8080", "foo"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
]


@pytest.mark.parametrize("text, domain, path", DOMAIN_AND_PATH)
def test_domain_and_path(text: str, domain: str, path: str) -> None:
    ref = _parse_name(text)
    assert (ref.registry, ref.repository) == _normalized_name(f"{domain}/{path}" if domain else path, domain)


# -- reference_test.go TestParseNamed: (input, domain, path, error) --------------------------------------
# ParseNamed accepts only canonical names (ErrNameNotCanonical otherwise): a name is canonical when it
# is already its normalized form, registry/repository.
PARSE_NAMED: list[tuple[str, str, str, Optional[str]]] = [
    ("test.com/foo", "test.com", "foo", None),
    ("test:8080/foo", "test:8080", "foo", None),
    ("test_com/foo", "", "", "ErrNameNotCanonical"),
    ("test.com", "", "", "ErrNameNotCanonical"),
    ("foo", "", "", "ErrNameNotCanonical"),
    ("library/foo", "", "", "ErrNameNotCanonical"),
    ("docker.io/library/foo", "docker.io", "library/foo", None),
    # Ambiguous case, parser will add "library/" to foo
    ("docker.io/foo", "", "", "ErrNameNotCanonical"),
]


@pytest.mark.parametrize("text, domain, path, error", PARSE_NAMED)
def test_parse_named(text: str, domain: str, path: str, error: Optional[str]) -> None:
    ref = _parse_name(text)
    if error:
        assert ref.name != text
        return
    assert ref.name == text
    assert (ref.registry, ref.repository) == (domain, path)


# -- normalize_test.go TestInvalidReferenceComponents: (part, value), each refused ------------------------
# The name goes through ParseNormalizedNamed; the tag and digest through WithTag/WithDigest on "busybox".
INVALID_COMPONENTS = [
    ("name", "-foo"),
    ("tag", "-foo"),
    ("digest", "foo"),
]


@pytest.mark.parametrize("part, value", INVALID_COMPONENTS)
def test_invalid_reference_components(part: str, value: str) -> None:
    busybox = parse_reference("busybox")
    with pytest.raises(InvalidReference):
        if part == "name":
            parse_reference(value)
        elif part == "tag":
            busybox.with_tag(value)
        else:
            busybox.with_digest(value)


# -- regexp_test.go TestDomainRegexp: (input, match) of domainAndPort --------------------------------------
# A match is read as: accepted as a Reference's registry, and "<input>/app" parses with that registry.
DOMAIN_REGEXP = [
    ("test.com", True),
    ("test.com:10304", True),
    ("test.com:http", False),
    ("localhost", True),
    ("localhost:8080", True),
    ("a", True),
    ("a.b", True),
    ("ab.cd.com", True),
    ("a-b.com", True),
    ("-ab.com", False),
    ("ab-.com", False),
    ("ab.c-om", True),
    ("ab.-com", False),
    ("ab.com-", False),
    ("0101.com", True),  # TODO(dmcgowan): valid if this should be allowed
    ("001a.com", True),
    ("b.gbc.io:443", True),
    ("b.gbc.io", True),
    ("xn--n3h.com", True),  # ☃.com in punycode
    ("Asdf.com", True),  # uppercase character
    ("192.168.1.1:75050", True),  # ipv4
    ("192.168.1.1:750050", True),  # port with more than 5 digits, it will fail on validation
    ("[fd00:1:2::3]:75050", True),  # ipv6 compressed
    ("[fd00:1:2::3]75050", False),  # ipv6 wrong port separator
    ("[fd00:1:2::3]::75050", False),  # ipv6 wrong port separator
    ("[fd00:1:2::3%eth0]:75050", False),  # ipv6 with zone
    ("[fd00123123123]:75050", True),  # ipv6 wrong format, will fail in validation
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", True),  # ipv6 long format
    # ipv6 long format and invalid port, it will fail in validation
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", True),
    ("fd00:1:2::3:75050", False),  # bad ipv6 without square brackets
]


@pytest.mark.parametrize("text, match", DOMAIN_REGEXP)
def test_domain_regexp(text: str, match: bool) -> None:
    refusal = REGISTRY_REFUSALS.get(DEVIATIONS.get(text, ""))
    if refusal:
        with pytest.raises(InvalidReference, match=refusal):
            Reference(text, "app")
        if DEVIATIONS[text] == SINGLE_LABEL_REGISTRY:
            assert parse_reference(text + "/app").registry == "docker.io"
        return
    if match:
        assert Reference(text, "app").registry == text
        assert parse_reference(text + "/app").registry == text
    else:
        with pytest.raises(InvalidReference, match="registry"):
            Reference(text, "app")


# -- regexp_test.go TestFullNameRegexp: (input, match, (domain, path) submatches or None) -----------------
FULL_NAME_REGEXP: list[tuple[str, bool, Optional[tuple[str, str]]]] = [
    ("", False, None),
    ("short", True, ("", "short")),
    ("simple/name", True, ("simple", "name")),
    ("library/ubuntu", True, ("library", "ubuntu")),
    ("docker/stevvooe/app", True, ("docker", "stevvooe/app")),
    ("aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", True, ("aa", "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb")),
    ("aa/aa/bb/bb/bb", True, ("aa", "aa/bb/bb/bb")),
    ("a/a/a/a", True, ("a", "a/a/a")),
    ("a/a/a/a/", False, None),
    ("a//a/a", False, None),
    ("a", True, ("", "a")),
    ("a/aa", True, ("a", "aa")),
    ("a/aa/a", True, ("a", "aa/a")),
    ("foo.com", True, ("", "foo.com")),
    ("foo.com/", False, None),
    ("foo.com:8080/bar", True, ("foo.com:8080", "bar")),
    ("foo.com:http/bar", False, None),
    ("foo.com/bar", True, ("foo.com", "bar")),
    ("foo.com/bar/baz", True, ("foo.com", "bar/baz")),
    ("localhost:8080/bar", True, ("localhost:8080", "bar")),
    ("sub-dom1.foo.com/bar/baz/quux", True, ("sub-dom1.foo.com", "bar/baz/quux")),
    ("blog.foo.com/bar/baz", True, ("blog.foo.com", "bar/baz")),
    ("a^a", False, None),
    ("aa/asdf$$^/aa", False, None),
    ("asdf$$^/aa", False, None),
    ("aa-a/a", True, ("aa-a", "a")),
    ("a/" * 128 + "a", True, ("a", "a/" * 127 + "a")),
    ("a-/a/a/a", False, None),
    ("foo.com/a-/a/a", False, None),
    ("-foo/bar", False, None),
    ("foo/bar-", False, None),
    ("foo-/bar", False, None),
    ("foo/-bar", False, None),
    ("_foo/bar", False, None),
    ("foo_bar", True, ("", "foo_bar")),
    ("foo_bar.com", True, ("", "foo_bar.com")),
    ("foo_bar.com:8080", False, None),
    ("foo_bar.com:8080/app", False, None),
    ("foo.com/foo_bar", True, ("foo.com", "foo_bar")),
    ("____/____", False, None),
    ("_docker/_docker", False, None),
    ("docker_/docker_", False, None),
    ("b.gcr.io/test.example.com/my-app", True, ("b.gcr.io", "test.example.com/my-app")),
    ("xn--n3h.com/myimage", True, ("xn--n3h.com", "myimage")),  # ☃.com in punycode
    ("xn--7o8h.com/myimage", True, ("xn--7o8h.com", "myimage")),  # 🐳.com in punycode
    ("example.com/xn--7o8h.com/myimage", True, ("example.com", "xn--7o8h.com/myimage")),  # 🐳.com in punycode
    ("example.com/some_separator__underscore/myimage", True,
     ("example.com", "some_separator__underscore/myimage")),
    ("example.com/__underscore/myimage", False, None),
    ("example.com/..dots/myimage", False, None),
    ("example.com/.dots/myimage", False, None),
    ("example.com/nodouble..dots/myimage", False, None),
    ("example.com/nodouble..dots/myimage", False, None),
    ("docker./docker", False, None),
    (".docker/docker", False, None),
    ("docker-/docker", False, None),
    ("-docker/docker", False, None),
    ("do..cker/docker", False, None),
    ("do__cker:8080/docker", False, None),
    ("do__cker/docker", True, ("", "do__cker/docker")),
    ("b.gcr.io/test.example.com/my-app", True, ("b.gcr.io", "test.example.com/my-app")),
    ("registry.io/foo/project--id.module--name.ver---sion--name", True,
     ("registry.io", "foo/project--id.module--name.ver---sion--name")),
    ("Asdf.com/foo/bar", True, None),  # uppercase character in hostname
    ("Foo/FarB", False, None),  # uppercase characters in remote name
]


@pytest.mark.parametrize("text, match, subs", FULL_NAME_REGEXP, ids=[r[0][:60] for r in FULL_NAME_REGEXP])
def test_full_name_regexp(text: str, match: bool, subs: Optional[tuple[str, str]]) -> None:
    if DEVIATIONS.get(text) == NAME_LENGTH:
        with pytest.raises(InvalidReference, match="longer than 255"):
            _parse_name(text)
        return
    if not match:
        with pytest.raises(InvalidReference):
            _parse_name(text)
        return
    ref = _parse_name(text)
    if subs is not None:
        domain, path = subs
        assert (ref.registry, ref.repository) == _normalized_name(f"{domain}/{path}" if domain else path, domain)


# -- regexp_test.go TestReferenceRegexp: (input, match, (name, tag, digest) submatches or None) ------------
# "" in a submatch is an absent part: no digest, and the default tag unless there is a digest.
BE17 = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
REFERENCE_REGEXP: list[tuple[str, bool, Optional[tuple[str, str, str]]]] = [
    ("registry.com:8080/myapp:tag", True, ("registry.com:8080/myapp", "tag", "")),
    (f"registry.com:8080/myapp@{BE17}", True, ("registry.com:8080/myapp", "", BE17)),
    (f"registry.com:8080/myapp:tag2@{BE17}", True, ("registry.com:8080/myapp", "tag2", BE17)),
    ("registry.com:8080/myapp@sha256:badbadbadbad", False, None),
    ("registry.com:8080/myapp:invalid~tag", False, None),
    ("bad_hostname.com:8080/myapp:tag", False, None),
    # localhost treated as name, missing tag with 8080 as tag
    (f"localhost:8080@{BE17}", True, ("localhost", "8080", BE17)),
    (f"localhost:8080/name@{BE17}", True, ("localhost:8080/name", "", BE17)),
    (f"localhost:http/name@{BE17}", False, None),
    # localhost will be treated as an image name without a host
    (f"localhost@{BE17}", True, ("localhost", "", BE17)),
    ("registry.com:8080/myapp@bad", False, None),
    ("registry.com:8080/myapp@2bad", False, None),  # TODO(dmcgowan): Support this as valid
]


@pytest.mark.parametrize("text, match, subs", REFERENCE_REGEXP, ids=[r[0][:60] for r in REFERENCE_REGEXP])
def test_reference_regexp(text: str, match: bool, subs: Optional[tuple[str, str, str]]) -> None:
    if not match:
        with pytest.raises(InvalidReference):
            parse_reference(text)
        return
    ref = parse_reference(text)
    assert subs is not None
    name, tag, digest = subs
    assert (ref.registry, ref.repository) == _normalized_name(name, name.split("/", 1)[0] if "/" in name else "")
    assert ref.tag == (tag or (None if digest else "latest"))
    assert ref.digest == (digest or None)


# -- regexp_test.go TestIdentifierRegexp: (input, match) of anchoredIdentifierRegexp ----------------------
# A match (64 lowercase hex) is an image ID, which parse_reference refuses as such; other strings are
# judged as references on their own terms, but never as image IDs.
IDENTIFIER_REGEXP = [
    ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", True),
    ("7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", False),
    ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", False),
    ("sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", False),
    ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", False),
]


@pytest.mark.parametrize("text, match", IDENTIFIER_REGEXP)
def test_identifier_regexp(text: str, match: bool) -> None:
    try:
        parse_reference(text)
    except InvalidReference as error:
        assert ("image ID" in str(error)) == match
    else:
        assert not match
