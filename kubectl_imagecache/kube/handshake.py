"""client-go's TLSHandshakeTimeout for the official client: a new connection's TLS handshake gets 10 s.

urllib3 bounds the TCP connect and the TLS handshake together by the connect timeout, which the client
sets to the whole request timeout (30 s by default; none with --request-timeout 0). An API server that
accepts connections but never answers them (stopped, overloaded, behind a black-holing balancer) then
held a command for all of it, while kubectl gives up after 10 s. Here the TCP connect keeps the connect
timeout (client-go's dial timeout is 30 s) and the handshake that follows gets at most 10 s of it.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

from ..httpfacts import causes

__all__ = ["TLS_HANDSHAKE_TIMEOUT", "TLSHandshakeTimeout", "bound_tls_handshake", "handshake_timeout"]

TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds: client-go's http.Transport TLSHandshakeTimeout (utilnet.SetTransportDefaults)


class TLSHandshakeTimeout(ConnectTimeoutError):
    """The server took the TCP connection but did not answer the TLS handshake within `seconds` (the
    handshake's own bound, not a shorter request timeout)."""

    def __init__(self, conn: Any, seconds: float) -> None:
        super().__init__(conn, f"TLS handshake timeout after {seconds:g}s")
        self.seconds = seconds


class _Connection(HTTPSConnection):
    def _handshake_limit(self) -> float:
        return min(self._connect_timeout() or TLS_HANDSHAKE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT)

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        sock.settimeout(self._handshake_limit())  # TCP is up, within the connect timeout: now the handshake
        return sock

    def connect(self) -> None:
        try:
            super().connect()
        except socket.timeout as exc:  # a TCP connect that times out is urllib3's ConnectTimeoutError instead
            if self._handshake_limit() < TLS_HANDSHAKE_TIMEOUT:
                raise  # the request timeout was the shorter: urllib3 reports it as such
            raise TLSHandshakeTimeout(self, TLS_HANDSHAKE_TIMEOUT) from exc
        if self.sock is not None:
            self.sock.settimeout(self._connect_timeout())  # what urllib3 had set for sending the request

    def _connect_timeout(self) -> Optional[float]:
        timeout = self.timeout
        return float(timeout) if isinstance(timeout, (int, float)) else None  # None: urllib3's "no limit"


class _Pool(HTTPSConnectionPool):
    ConnectionCls = _Connection


def bound_tls_handshake(pool_manager: Any) -> None:
    """Make every https connection of this urllib3 PoolManager (or ProxyManager) bound its handshake."""
    pool_manager.pool_classes_by_scheme = {**pool_manager.pool_classes_by_scheme, "https": _Pool}


def handshake_timeout(exc: BaseException) -> Optional[TLSHandshakeTimeout]:
    """The handshake timeout behind a failed request (urllib3 hands it over as MaxRetryError.reason)."""
    return next((e for e in causes(exc) if isinstance(e, TLSHandshakeTimeout)), None)
