"""Image reference grammar: table tests for every rule, and property tests for round trips."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from kubectl_imagecache.errors import InvalidReference, UsageError
from kubectl_imagecache.registry.reference import (
    DEFAULT_REGISTRY,
    DEFAULT_TAG,
    DOCKER_HUB_ENDPOINT,
    Reference,
    is_valid_reference,
    normalize,
    parse_reference,
)

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


# --- valid references -------------------------------------------------------------------------

NORMALIZED = [
    # Docker Hub defaults: registry, library/, latest
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/library/nginx:latest", "docker.io/library/nginx:latest"),
    ("index.docker.io/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/user/app:2", "docker.io/user/app:2"),
    ("user/app:1", "docker.io/user/app:1"),
    ("library/distros/ubuntu", "docker.io/library/distros/ubuntu:latest"),
    # digests: no default tag; tag and digest both kept
    (f"nginx@{SHA256}", f"docker.io/library/nginx@{SHA256}"),
    (f"nginx:1.25@{SHA256}", f"docker.io/library/nginx:1.25@{SHA256}"),
    (f"nginx@{SHA512}", f"docker.io/library/nginx@{SHA512}"),
    # registries: dots, ports, localhost, IPv4, IPv6
    ("quay.io/coreos/etcd:v3.5", "quay.io/coreos/etcd:v3.5"),
    ("registry.cn-hangzhou.aliyuncs.com/ns/app", "registry.cn-hangzhou.aliyuncs.com/ns/app:latest"),
    (f"localhost:5000/a/b@{SHA256}", f"localhost:5000/a/b@{SHA256}"),
    ("localhost/app", "localhost/app:latest"),
    ("myhost:5000/app:1", "myhost:5000/app:1"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
    ("[::1]:5000/app:v1", "[::1]:5000/app:v1"),
    ("[fe80::1]/app", "[fe80::1]/app:latest"),
    ("Registry.Example.com/app", "Registry.Example.com/app:latest"),
    # a name with no "/" and a ":" is name:tag, not host:port (as in Docker)
    ("localhost:5000", "docker.io/library/localhost:5000"),
    # separators inside path components
    ("a/b.c_d__e---f", "docker.io/a/b.c_d__e---f:latest"),
    # tags
    ("app:V1_2.3-rc", "docker.io/library/app:V1_2.3-rc"),
    ("app:_x", "docker.io/library/app:_x"),
    ("app:" + "t" * 128, "docker.io/library/app:" + "t" * 128),
    # surrounding whitespace is ignored
    ("  nginx:1.25\n", "docker.io/library/nginx:1.25"),
    ("\tnginx", "docker.io/library/nginx:latest"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZED)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert str(parse_reference(text)) == expected
    assert normalize(expected) == expected


def test_parts_of_a_docker_hub_reference() -> None:
    ref = parse_reference("nginx")
    assert ref == Reference("docker.io", "library/nginx", "latest", None)
    assert ref.registry == DEFAULT_REGISTRY
    assert ref.tag == DEFAULT_TAG
    assert ref.endpoint == DOCKER_HUB_ENDPOINT
    assert ref.identifier == "latest"
    assert ref.name == "docker.io/library/nginx"
    assert ref.is_docker_hub
    assert ref.familiar() == "nginx:latest"


def test_digest_wins_over_tag() -> None:
    ref = parse_reference(f"nginx:1.25@{SHA256}")
    assert ref.tag == "1.25"
    assert ref.digest == SHA256
    assert ref.identifier == SHA256


def test_digest_only_has_no_tag() -> None:
    ref = parse_reference(f"localhost:5000/a/b@{SHA256}")
    assert ref.registry == "localhost:5000"
    assert ref.repository == "a/b"
    assert ref.tag is None
    assert ref.identifier == SHA256
    assert ref.endpoint == "localhost:5000"
    assert not ref.is_docker_hub


@pytest.mark.parametrize(
    ("text", "familiar"),
    [
        ("nginx", "nginx:latest"),
        ("docker.io/user/app:1", "user/app:1"),
        ("docker.io/library/a/b", "library/a/b:latest"),
        (f"nginx@{SHA256}", f"nginx@{SHA256}"),
        ("quay.io/a/b:2", "quay.io/a/b:2"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        # a Hub namespace that looks like a host keeps docker.io/ so it reads back the same
        ("docker.io/foo.bar/app", "docker.io/foo.bar/app:latest"),
        ("docker.io/localhost/app", "docker.io/localhost/app:latest"),
        ("docker.io/library/localhost", "localhost:latest"),
    ],
)
def test_familiar(text: str, familiar: str) -> None:
    ref = parse_reference(text)
    assert ref.familiar() == familiar
    assert parse_reference(familiar) == ref


def test_with_digest_and_with_tag() -> None:
    ref = parse_reference("nginx:1.25")
    pinned = ref.with_digest(SHA256)
    assert str(pinned) == f"docker.io/library/nginx:1.25@{SHA256}"
    assert pinned.identifier == SHA256
    assert str(pinned.with_digest(None)) == "docker.io/library/nginx:1.25"
    assert str(ref.with_tag("1.26")) == "docker.io/library/nginx:1.26"
    assert str(pinned.with_tag(None)) == f"docker.io/library/nginx@{SHA256}"
    # dropping both falls back to the default tag rather than an unusable reference
    assert pinned.with_tag(None).with_digest(None).tag == "latest"
    with pytest.raises(InvalidReference, match="digest must be sha256"):
        ref.with_digest("sha256:abc")
    with pytest.raises(InvalidReference, match="tag"):
        ref.with_tag("-bad")


def test_constructor_normalizes_and_validates() -> None:
    assert Reference("index.docker.io", "nginx") == parse_reference("nginx")
    assert Reference("docker.io", "library/nginx", "latest") == parse_reference("nginx:latest")
    with pytest.raises(InvalidReference, match="must be lowercase"):
        Reference("docker.io", "Nginx")
    # would print as "myhost/app:latest", which reads back as a Docker Hub namespace
    with pytest.raises(InvalidReference, match="Docker Hub namespace"):
        Reference("myhost", "app")


def test_references_are_hashable_and_compare_by_value() -> None:
    refs = {parse_reference("nginx"), parse_reference("docker.io/library/nginx:latest")}
    assert len(refs) == 1
    assert parse_reference("nginx:1") != parse_reference("nginx:2")


def test_is_valid_reference() -> None:
    assert is_valid_reference("nginx")
    assert not is_valid_reference("Nginx")


# --- invalid references -----------------------------------------------------------------------

INVALID = [
    ("", "empty reference"),
    ("   ", "empty reference"),
    ("Nginx", "repository name must be lowercase"),
    ("user/App:1", "repository name must be lowercase"),
    ("Foo/bar", "repository name must be lowercase"),
    ("quay.io/Team/app", "repository name must be lowercase"),
    ("nginx latest", "contains whitespace"),
    ("a//b", "empty path component"),
    ("a/", "empty path component"),
    ("/a", "empty path component"),
    ("quay.io/a//b", "empty path component"),
    ("quay.io/", "empty repository name"),
    (":tag", "empty repository name"),
    ("app-", 'path component "app-" is invalid'),
    ("a/.b", 'path component ".b" is invalid'),
    ("a/b___c", "is invalid"),
    ("a/b!c", "is invalid"),
    ("nginx:", "empty tag"),
    ("nginx:-x", 'tag "-x" is invalid'),
    ("nginx:.x", 'tag ".x" is invalid'),
    ("nginx:" + "t" * 129, "is invalid"),
    ("nginx:a/b", 'registry port "a" is invalid'),  # ':' before the last '/' is a port
    ("[::1]]/app", "is not a valid host"),
    ("[1:2]/app", "is not a valid host"),
    ("[fe80::1%eth0]/app", "is not a valid host"),
    ("nginx:a+b", 'tag "a+b" is invalid'),
    ("nginx@", "empty digest"),
    ("nginx@sha256", "digest must be sha256: followed by 64 lowercase hex characters"),
    ("nginx@sha256:abc", "digest must be sha256: followed by 64 lowercase hex characters"),
    ("nginx@sha256:" + "A" * 64, "digest must be sha256: followed by 64 lowercase hex characters"),
    ("nginx@sha256:" + "a" * 65, "digest must be sha256: followed by 64 lowercase hex characters"),
    ("nginx@sha256:" + "g" * 64, "digest must be sha256: followed by 64 lowercase hex characters"),
    ("nginx@sha512:" + "a" * 64, "digest must be sha512: followed by 128 lowercase hex characters"),
    ("nginx@md5:" + "a" * 32, 'unsupported digest algorithm "md5"'),
    (f"nginx@{SHA256}@{SHA256}", 'more than one "@"'),
    ("a" * 64, "image ID, not a name"),
    ("exa_mple.com/app", 'registry "exa_mple.com" is not a valid host'),
    ("-bad.com/app", "is not a valid host"),
    ("host:99999/app", 'registry port "99999" is invalid'),
    ("host:0/app", "registry port"),
    ("host:port/app", 'registry port "port" is invalid'),
    ("[::1/app", "is not a valid host"),
    ("[::1]x/app", "is not a valid host"),
    ("a/" + "b" * 254, "repository path longer than 255 characters"),
    ("quay.io/" + "/".join(["abcdefghij"] * 24), "repository path longer than 255 characters"),
    ("b" * 248, "repository path longer than 255 characters (256 once normalized)"),  # library/ counts
]


@pytest.mark.parametrize(("text", "rule"), INVALID)
def test_invalid_reference_names_the_rule(text: str, rule: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    message = info.value.message
    assert rule in message
    assert message.startswith("invalid image reference ")
    assert "\n" not in message


def test_error_quotes_the_input_and_is_a_usage_error() -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference("Nginx")
    assert str(info.value) == 'invalid image reference "Nginx": repository name must be lowercase'
    assert isinstance(info.value, UsageError)
    assert info.value.exit_code == 2


def test_error_quotes_control_characters_on_one_line() -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference('a"b\x00')
    assert '"a\\"b\\u0000"' in info.value.message


def test_name_length_counts_the_normalized_path() -> None:
    # As distribution/reference: the path is limited (255 fine, 256 not), the registry host is not.
    path = "a/" + "b" * (255 - len("a/"))
    assert len(parse_reference(path).repository) == 255
    assert parse_reference("registry.example.com/" + path).repository == path
    with pytest.raises(InvalidReference, match="longer than 255"):
        parse_reference(path + "b")


def test_non_string_input() -> None:
    with pytest.raises(InvalidReference):
        parse_reference(None)  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------

ALNUM = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
SEPARATOR = st.sampled_from([".", "_", "__", "-", "--"])


@st.composite
def components(draw: st.DrawFn) -> str:
    parts = [draw(ALNUM)]
    for _ in range(draw(st.integers(0, 2))):
        parts += [draw(SEPARATOR), draw(ALNUM)]
    return "".join(parts)


LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True)
PORT = st.integers(1, 65535).map(str)


@st.composite
def registries(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["domain", "host-port", "localhost", "ipv4", "ipv6", "hub"]))
    if kind == "hub":
        return draw(st.sampled_from(["docker.io", "index.docker.io"]))
    if kind == "localhost":
        host = "localhost"
    elif kind == "ipv4":
        host = ".".join(str(draw(st.integers(0, 255))) for _ in range(4))
    elif kind == "ipv6":
        host = f"[{draw(st.ip_addresses(v=6))}]"
    elif kind == "domain":
        host = ".".join(draw(st.lists(LABEL, min_size=2, max_size=3)))
    else:
        host = draw(LABEL)
    if kind == "host-port" or draw(st.booleans()):
        host += ":" + draw(PORT)
    return host


TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
HEX = "0123456789abcdef"
DIGEST = st.one_of(
    st.text(HEX, min_size=64, max_size=64).map(lambda h: "sha256:" + h),
    st.text(HEX, min_size=128, max_size=128).map(lambda h: "sha512:" + h),
)


@st.composite
def references(draw: st.DrawFn) -> Reference:
    registry = draw(registries())
    repository = "/".join(draw(st.lists(components(), min_size=1, max_size=4)))
    tag = draw(st.none() | TAG)
    digest = draw(st.none() | DIGEST)
    assume(len(registry) + 1 + len(repository) <= 240)  # leave room for "library/"
    return Reference(registry, repository, tag, digest)


@given(references())
def test_parse_of_str_round_trips(ref: Reference) -> None:
    text = str(ref)
    assert parse_reference(text) == ref
    assert normalize(text) == text  # idempotent
    assert normalize(f"  {text}\n") == text


@given(references())
def test_familiar_parses_back_to_the_same_reference(ref: Reference) -> None:
    assert parse_reference(ref.familiar()) == ref
    assert len(ref.familiar()) <= len(str(ref))


@given(references())
def test_identifier_is_digest_else_tag(ref: Reference) -> None:
    assert ref.identifier == (ref.digest or ref.tag)
    assert ref.identifier is not None


@given(references(), st.data())
def test_uppercase_in_the_repository_is_always_rejected(ref: Reference, data: st.DataObject) -> None:
    lowered_letters = [i for i, c in enumerate(ref.repository) if c.isalpha()]
    assume(lowered_letters)
    i = data.draw(st.sampled_from(lowered_letters))
    repository = ref.repository[:i] + ref.repository[i].upper() + ref.repository[i + 1 :]
    text = str(ref).replace(ref.name, f"{ref.registry}/{repository}", 1)
    with pytest.raises(InvalidReference, match="must be lowercase"):
        parse_reference(text)


BAD_DIGEST = st.one_of(
    st.text(HEX, min_size=0, max_size=130).filter(lambda h: len(h) != 64).map(lambda h: "sha256:" + h),
    st.text(HEX, min_size=0, max_size=130).filter(lambda h: len(h) != 128).map(lambda h: "sha512:" + h),
    st.text("0123456789ABCDEF", min_size=64, max_size=64).filter(lambda h: h != h.lower()).map(lambda h: "sha256:" + h),
    st.text("ghijklmnopqrstuvwxyz", min_size=1, max_size=1).map(lambda c: "sha256:" + c + "a" * 63),
    st.text(min_size=1, max_size=8)
    .filter(lambda a: a not in ("sha256", "sha384", "sha512"))
    .map(lambda a: a + ":" + "a" * 64),
)


@given(references(), BAD_DIGEST)
def test_bad_digest_is_always_rejected(ref: Reference, digest: str) -> None:
    text = f"{ref.name}@{digest}"
    with pytest.raises(InvalidReference):
        parse_reference(text)
    with pytest.raises(InvalidReference):
        ref.with_digest(digest)


@given(st.text(max_size=300))
@example("[")
@example("[::1]:5000")
@example("a:" + "9" * 5000 + "/b")
@example("\ud800")
@example("a@b:c@d")
def test_arbitrary_text_parses_or_raises_invalid_reference(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference as error:
        assert error.message.startswith("invalid image reference ")
        assert "\n" not in error.message
    else:
        assert parse_reference(str(ref)) == ref


REFERENCE_ALPHABET = st.text("abcAB09:/@._-[]sh256 ", max_size=60)


@given(REFERENCE_ALPHABET)
def test_reference_like_text_parses_or_raises_invalid_reference(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    assert parse_reference(str(ref)) == ref
    assert parse_reference(ref.familiar()) == ref


def test_parses_are_shared_and_failures_raise_every_time() -> None:
    # Memoized (prune and warm parse the same images thousands of times); a Reference is frozen.
    assert parse_reference("nginx:1.25") is parse_reference("nginx:1.25")
    for _ in range(2):
        with pytest.raises(InvalidReference):
            parse_reference("Nginx:1.25")
    with pytest.raises(InvalidReference, match="expected a string"):
        parse_reference(["nginx"])  # type: ignore[arg-type]  # unhashable: still our error, not TypeError
