"""Error types the commands turn into one-line messages and distinct exit codes.

Every error a user can cause or meet carries the exit code it ends the command with, so commands
never pick codes themselves and the README's table stays true.
"""

from __future__ import annotations

# Exit codes (documented in README.md, "Exit codes").
EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran but some work failed (e.g. an image could not be sized)
EXIT_USAGE = 2  # bad flags, arguments or input files; nothing was done
EXIT_AUTH = 3  # unauthorized: registry credentials refused, cluster credentials expired or unusable
EXIT_NOT_FOUND = 4  # image, repository, cache, workload or secret not found (a missing CRD is 9)
EXIT_UNREACHABLE = 5  # registry or API server unreachable, timed out
EXIT_TIMEOUT = 6  # --wait ran out of time
EXIT_CANCELLED = 7  # the user declined a confirmation
EXIT_FORBIDDEN = 8  # the cluster (RBAC) or registry forbids the operation to these credentials
EXIT_CRD_MISSING = 9  # the ImageCache CRD is not installed in the cluster


class ImageCacheError(Exception):
    """Base of every error the CLI reports as one line on stderr."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UsageError(ImageCacheError):
    """Bad input: flags, arguments, files. Raised before any side effect."""

    exit_code = EXIT_USAGE


class InvalidReference(UsageError):
    """An image reference that breaks the Docker reference grammar; the message names the rule."""


class TooLarge(UsageError):
    """No single cache can hold these images (exit 1: the input was valid, the work cannot be done)."""

    exit_code = EXIT_FAILURE


class RegistryError(ImageCacheError):
    """A registry answered with something we cannot use, or could not be reached."""


class Unauthorized(RegistryError):
    exit_code = EXIT_AUTH


class NotFound(RegistryError):
    exit_code = EXIT_NOT_FOUND


class Unreachable(RegistryError):
    exit_code = EXIT_UNREACHABLE


class UnsupportedManifest(RegistryError):
    """Schema 1 or a media type that is not an image manifest or index."""


class DigestMismatch(RegistryError):
    """A body fetched by digest did not hash to that digest: never cached, never used."""


class PlatformNotFound(RegistryError):
    """An index has no entry for the requested platform; the message lists those it has."""


class PlatformMismatch(PlatformNotFound):
    """A single-platform image (or a platformless index entry) whose config names another platform."""


class NotAnImage(UnsupportedManifest):
    """An OCI artifact that is not a container image (Helm chart, signature, SBOM...)."""


class ResponseTooLarge(RegistryError):
    """A registry body beyond its bound (manifest 4 MiB, token 1 MiB, error 64 KiB): never read on."""


class BadResponse(RegistryError):
    """A registry's HTTP answer broke the protocol (headers, encoding, redirects, JSON)."""


class OfflineMiss(ImageCacheError):
    """--offline and the answer is not in the local cache."""

    exit_code = EXIT_UNREACHABLE


class CredentialError(ImageCacheError):
    """A credential source (docker config, helper, pull secret) is unusable."""

    exit_code = EXIT_AUTH


class Forbidden(ImageCacheError):
    """Authenticated, but not allowed (RBAC, or a registry's 403)."""

    exit_code = EXIT_FORBIDDEN


class ClusterError(ImageCacheError):
    """The Kubernetes API answered with something we cannot use.

    ``status``: the HTTP status of the answer (0 when there was none), for callers that act on it
    (a 409 Conflict is a lost race, not a failure) rather than on the message's words.
    """

    def __init__(self, message: str, *, exit_code: int | None = None, status: int = 0) -> None:
        super().__init__(message, exit_code=exit_code)
        self.status = status


class ClusterUnauthorized(ClusterError):
    """The API server rejected the credentials (expired token, bad certificate)."""

    exit_code = EXIT_AUTH


class ClusterNotFound(ClusterError):
    exit_code = EXIT_NOT_FOUND


class ClusterUnreachable(ClusterError):
    exit_code = EXIT_UNREACHABLE


class CrdMissing(ClusterError):
    exit_code = EXIT_CRD_MISSING


class AlreadyExists(ClusterError):
    exit_code = EXIT_FAILURE


class WaitTimeout(ImageCacheError):
    exit_code = EXIT_TIMEOUT


class Cancelled(ImageCacheError):
    exit_code = EXIT_CANCELLED
