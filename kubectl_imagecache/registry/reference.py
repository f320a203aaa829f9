"""Image references: parse, validate and normalize the Docker reference grammar.

Modelled on distribution/reference (the "normalized" grammar Docker and containerd use) and
go-containerregistry's pkg/name. Pure logic, no I/O.

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [ registry "/" ] path          (path <= 255 characters once normalized)
    registry       := host [ ":" port ]              host: domain name, IPv4, or [IPv6]
    path           := component ( "/" component )*
    component      := [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*
    tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest         := sha256:<64 hex> | sha384:<96 hex> | sha512:<128 hex>   (lowercase hex)

Normalization (what makes "nginx" and "docker.io/library/nginx:latest" the same image):
- the first path component is a registry only when it contains "." or ":" or is "localhost";
  otherwise the registry is docker.io. Unlike distribution, an upper-case first component is not
  taken for a registry: "Nginx/app" is far more likely a typo than a host called "Nginx", and the
  "must be lowercase" error says so.
- index.docker.io is an alias of docker.io; one-component Docker Hub names get "library/".
- the tag defaults to "latest" only when there is no digest. With both, both are kept in the
  string, and the digest is what identifies the image.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Optional

from kubectl_imagecache.errors import InvalidReference
from kubectl_imagecache.escape import quote as _quote

__all__ = [
    "DEFAULT_REGISTRY",
    "DOCKER_HUB_ENDPOINT",
    "DEFAULT_TAG",
    "LEGACY_DEFAULT_REGISTRY",
    "OFFICIAL_REPO_PREFIX",
    "NAME_TOTAL_LENGTH_MAX",
    "DIGEST_HEX_LENGTHS",
    "Reference",
    "parse_reference",
    "normalize",
    "normalize_or_keep",
    "is_valid_reference",
    "is_valid_digest",
]

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
DEFAULT_TAG = "latest"
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255
# go-digest's registered algorithms. Registries only speak these; anything else would fail later
# with a less helpful error, so it is rejected here.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOMAIN_NAME = re.compile(
    r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*"
)
# Bracketed IPv6 literal; the dots allow IPv4-mapped forms. ipaddress checks the rest.
_IPV6 = re.compile(r"\[([A-Fa-f0-9:.]+)\]")
_PORT = re.compile(r"[0-9]{1,5}")
_UPPER = re.compile(r"[A-Z]")
# A bare 64-hex string is an image ID, not a name; Docker refuses it for the same reason.
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")

_COMPONENT_RULE = (
    'use lowercase letters and digits, separated by single ".", "_", "__" or dashes, and no separator at either end'
)
_TAG_RULE = 'a tag is 1 to 128 letters, digits, "_", "." or "-", and cannot start with "." or "-"'


def _fail(text: str, rule: str) -> InvalidReference:
    return InvalidReference(f"invalid image reference {_quote(text)}: {rule}")


def _is_ipv6_literal(host: str) -> bool:
    match = _IPV6.fullmatch(host)
    if not match:
        return False
    try:
        ipaddress.IPv6Address(match.group(1))
    except ValueError:
        return False
    return True


def _registry_problem(registry: str) -> Optional[str]:
    """Why ``registry`` is not a valid host[:port], or None when it is."""
    host, port = registry, None
    if registry.startswith("["):
        end = registry.find("]")
        if end != -1:
            host, rest = registry[: end + 1], registry[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    host = registry  # makes the host check below fail
                else:
                    port = rest[1:]
    elif ":" in registry:
        host, _, port = registry.partition(":")
    if not (_DOMAIN_NAME.fullmatch(host) or _is_ipv6_literal(host)):
        return (
            f"registry {_quote(registry)} is not a valid host[:port]: use a domain name, "
            "an IPv4 address or a bracketed IPv6 address, optionally with :port"
        )
    if port is not None and not (_PORT.fullmatch(port) and 0 < int(port) <= 65535):
        return f"registry port {_quote(port)} is invalid: use a number from 1 to 65535"
    if "." not in registry and ":" not in registry and registry != "localhost":
        # Written out, such a name would be read back as a Docker Hub namespace.
        return (
            f"registry {_quote(registry)} would be read as a Docker Hub namespace: "
            'a registry needs a "." or a ":port", or must be "localhost"'
        )
    return None


def _repository_problem(repository: str) -> Optional[str]:
    """Why ``repository`` (the path, without registry) is invalid, or None."""
    if not repository:
        return "empty repository name: give a name after the registry, e.g. registry.example.com/app"
    if _UPPER.search(repository):
        return "repository name must be lowercase"
    for component in repository.split("/"):
        if not component:
            return 'empty path component: remove the extra "/"'
        if not _COMPONENT.fullmatch(component):
            return f"path component {_quote(component)} is invalid: {_COMPONENT_RULE}"
    return None


def _tag_problem(tag: str) -> Optional[str]:
    if not tag:
        return 'empty tag after ":": give a tag such as 1.25, or drop the ":"'
    if not _TAG.fullmatch(tag):
        return f"tag {_quote(tag)} is invalid: {_TAG_RULE}"
    return None


def _digest_problem(digest: str) -> Optional[str]:
    if not digest:
        return 'empty digest after "@": give sha256: followed by 64 lowercase hex characters'
    algorithm, sep, hex_part = digest.partition(":")
    if not sep:
        return "digest must be sha256: followed by 64 lowercase hex characters"
    length = DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        return f"unsupported digest algorithm {_quote(algorithm)}: use sha256 (or sha384, sha512)"
    if len(hex_part) != length or not re.fullmatch(r"[a-f0-9]+", hex_part):
        return f"digest must be {algorithm}: followed by {length} lowercase hex characters"
    return None


def _name_length_problem(registry: str, repository: str) -> Optional[str]:
    # distribution/reference (what containerd and docker use) limits the path, not host + path;
    # for Docker Hub the path includes the "library/" that normalizing adds.
    length = len(repository)
    if length > NAME_TOTAL_LENGTH_MAX:
        return (
            f"repository path longer than {NAME_TOTAL_LENGTH_MAX} characters ({length} once normalized): "
            "shorten the repository path"
        )
    return None


def _canonical_name(registry: str, repository: str) -> tuple[str, str]:
    if registry == LEGACY_DEFAULT_REGISTRY:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and repository and "/" not in repository:
        repository = OFFICIAL_REPO_PREFIX + repository
    return registry, repository


@dataclass(frozen=True)
class Reference:
    """A normalized image reference. Equal references name the same image (or tag).

    Constructing one directly normalizes it too (index.docker.io, library/, default tag) and
    validates every part, so a Reference always prints to a string that parses back to itself.
    """

    registry: str
    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    def __post_init__(self) -> None:
        registry, repository = _canonical_name(self.registry, self.repository)
        tag = self.tag
        if tag is None and self.digest is None:
            tag = DEFAULT_TAG
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)
        object.__setattr__(self, "tag", tag)
        problem = (
            _registry_problem(registry)
            or _repository_problem(repository)
            or (tag is not None and _tag_problem(tag))
            or (self.digest is not None and _digest_problem(self.digest))
            or _name_length_problem(registry, repository)
        )
        if problem:
            raise _fail(str(self), problem)

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        return tag + (f"@{self.digest}" if self.digest is not None else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    @property
    def name(self) -> str:
        """registry/repository: what auth scopes and per-repository caches key on."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What to ask the registry for: the digest when there is one (it wins), else the tag."""
        if self.digest is not None:
            return self.digest
        assert self.tag is not None  # __post_init__ guarantees one of the two
        return self.tag

    @property
    def endpoint(self) -> str:
        """host[:port] to send HTTP requests to; Docker Hub's API is not served on docker.io."""
        return DOCKER_HUB_ENDPOINT if self.registry == DEFAULT_REGISTRY else self.registry

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DEFAULT_REGISTRY

    def with_digest(self, digest: Optional[str]) -> Reference:
        """The same reference pinned to ``digest`` (the tag is kept: ``app:1.2@sha256:...``)."""
        return replace(self, digest=digest)

    def with_tag(self, tag: Optional[str]) -> Reference:
        """The same reference with ``tag`` (any digest is kept, and still wins)."""
        return replace(self, tag=tag)

    def familiar(self) -> str:
        """The short form Docker prints: ``nginx:latest``, ``user/app:1``, ``quay.io/a/b:2``."""
        return self._familiar_name() + self._suffix()

    def _familiar_name(self) -> str:
        if self.registry != DEFAULT_REGISTRY:
            return self.name
        first = self.repository.split("/", 1)[0]
        # A Hub namespace that looks like a host ("foo.bar/app") must keep "docker.io/", or it
        # would read back as a registry; distribution's FamiliarString gets this wrong.
        if "." in first or first == "localhost":
            return self.name
        rest = self.repository[len(OFFICIAL_REPO_PREFIX) :]
        if self.repository.startswith(OFFICIAL_REPO_PREFIX) and "/" not in rest:
            return rest
        return self.repository


def parse_reference(text: str) -> Reference:
    """Parse ``text`` (surrounding whitespace ignored) into a normalized Reference.

    Raises InvalidReference, whose message quotes the input and names the rule it breaks.
    """
    if not isinstance(text, str):
        raise InvalidReference(f"invalid image reference {text!r}: expected a string")
    return _parse(text)


# Memoized: prune and warm compare the same few hundred images across thousands of pods and
# caches. A Reference is frozen, so sharing one is safe; a failure is not cached and raises again.
@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Reference:
    original = text.strip()
    if not original:
        raise _fail(original, "empty reference: give an image such as nginx:1.25")
    if any(c.isspace() for c in original):
        raise _fail(original, "contains whitespace: give one image per argument or line")
    scheme, sep, rest = original.partition("://")
    if sep and scheme and scheme.isascii() and scheme.isalpha():
        raise _fail(original, f'an image reference has no scheme: drop "{scheme}://" and give {rest or "nginx:1.25"}'
                              + (" (--insecure-registry allows plain HTTP)" if scheme.lower() == "http" else ""))
    if _IDENTIFIER.fullmatch(original):
        raise _fail(
            original,
            "a 64-character hex string is an image ID, not a name: give repository@sha256:<hex>",
        )

    remainder, at, digest = original.partition("@")
    if at and "@" in digest:
        raise _fail(original, 'more than one "@": a reference has at most one digest')
    if at:
        problem = _digest_problem(digest)
        if problem:
            raise _fail(original, problem)

    # The tag is after the last ":" only when no "/" follows it; otherwise that ":" was a port.
    tag: Optional[str] = None
    colon, slash = remainder.rfind(":"), remainder.rfind("/")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        problem = _tag_problem(tag)
        if problem:
            raise _fail(original, problem)

    registry, repository = _split_registry(remainder)
    problem = (registry is not None and _registry_problem(registry)) or _repository_problem(repository)
    if problem:
        raise _fail(original, problem)
    registry, repository = _canonical_name(registry or DEFAULT_REGISTRY, repository)
    problem = _name_length_problem(registry, repository)
    if problem:
        raise _fail(original, problem)
    return Reference(registry, repository, tag, digest if at else None)


def _split_registry(name: str) -> tuple[Optional[str], str]:
    """Split off the registry; None when the name is a Docker Hub path."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, name


def normalize(text: str) -> str:
    """The fully normalized form of ``text``, e.g. ``docker.io/library/nginx:latest``."""
    return str(parse_reference(text))


def normalize_or_keep(text: str) -> str:
    """normalize(text), or the stripped text itself when it is no valid reference.

    For comparing image lists read from the cluster, where an odd entry must stay comparable
    (to itself) rather than stop the command.
    """
    try:
        return normalize(text)
    except InvalidReference:
        return text.strip()


def is_valid_reference(text: str) -> bool:
    try:
        parse_reference(text)
    except InvalidReference:
        return False
    return True


def is_valid_digest(digest: object) -> bool:
    """Whether ``digest`` is ``algorithm:hex`` of a registered algorithm and its exact length.

    Checked on every digest a registry hands us before it goes into a URL or a cache key: an
    index entry "sha256:x/../../admin" would otherwise become a request for another path.
    """
    return isinstance(digest, str) and _digest_problem(digest) is None
