"""The network layer: everything that touches urllib3, and nothing that knows about registries.

- ``session``: the default session (urllib3 keep-alive pools, proxies and CAs from the environment);
- ``deadline``: the image's deadline on every socket, and the name lookup bounded by it;
- ``body``: bodies read in chunks within their limits;
- ``failure``: what the HTTP stack raised, named in a user's words (``classify``).

The transport (registry/transport.py and its wrappers) sees a session only through the Protocol
below, so a test or a caller may hand it any object that sends one request this way.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Optional, Protocol

__all__ = ["HTTPResponse", "HTTPSession"]


class HTTPResponse(Protocol):
    """One answer, its body unread."""

    status: int
    headers: Mapping[str, str]  # case-insensitive; repeated headers joined by ", "
    url: str

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body, decoded (gzip, deflate), in chunks of at most ``size`` bytes."""
        ...

    def close(self) -> None:
        """Done with it: a body read to its end keeps the connection for the next request."""
        ...


class HTTPSession(Protocol):
    """Sends one request, follows no redirect, and streams the answer.

    Raises what the HTTP stack raises (urllib3's exceptions, OSError); ``failure.classify`` names it.
    """

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: Optional[bytes],
                timeout: float) -> HTTPResponse:
        ...

    def close(self) -> None:
        ...
