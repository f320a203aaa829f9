"""A DNS server on a loopback address, so that a test's name lookups never reach the machine's resolver.

The plugin runs in a private mount namespace whose /etc/resolv.conf names this server
(tests/support/cli.py, ``run(..., resolv_conf=...)``). By default it answers every query NXDOMAIN,
as a real resolver answers for registry.invalid; with ``reply=False`` it reads queries and never
answers, as a stalled resolver. The name of every query is recorded in ``queries``.

Written for these tests; it imports nothing from kubectl_imagecache.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path
from typing import Optional

_NXDOMAIN = 3
_HEADER = struct.Struct("!HHHHHH")  # id, flags, questions, answers, authorities, additionals


class LoopbackDNS:
    """``with LoopbackDNS("127.77.0.54") as dns: ...``; binds UDP port 53 (root, as the in-cluster tier)."""

    def __init__(self, address: str, *, reply: bool = True) -> None:
        self.address = address
        self.reply = reply
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, 53))
        self._sock.settimeout(0.1)  # how soon stop() is noticed
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"dns {address}", daemon=True)

    def __enter__(self) -> LoopbackDNS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(2)
        self._sock.close()

    def resolv_conf(self, folder: Path, options: str = "") -> Path:
        """A resolv.conf naming only this server (no search domains), written into ``folder``."""
        path = folder / f"resolv-{self.address}.conf"
        path.write_text(f"nameserver {self.address}\n" + (f"options {options}\n" if options else ""))
        return path

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                query, client = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            question = _question(query)
            if question is None:
                continue
            name, end = question
            self.queries.append(name)
            if self.reply:
                ident, flags = struct.unpack_from("!HH", query)
                recursion_desired = flags & 0x0100
                header = _HEADER.pack(ident, 0x8000 | recursion_desired | 0x0080 | _NXDOMAIN, 1, 0, 0, 0)
                self._sock.sendto(header + query[_HEADER.size:end], client)


def _question(query: bytes) -> Optional[tuple[str, int]]:
    """The first question's name and where the question ends; None for what is no query."""
    if len(query) < _HEADER.size:
        return None
    labels: list[str] = []
    at = _HEADER.size
    while at < len(query) and query[at]:
        length = query[at]
        labels.append(query[at + 1:at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    end = at + 1 + 4  # the root label, then type and class
    return (".".join(labels), end) if end <= len(query) else None
