"""Scripting a HostileRegistry (tests/fakes/hostile.py) for the transport's and the token flow's unit tests:
answers in turn, answers chosen by the request's headers."""

from __future__ import annotations

import json
from typing import Callable, Union

from tests.fakes.hostile import Answer, Conn, HostileRegistry, Request, respond

Reply = Union[Answer, Callable[[Request], Answer]]


def in_turn(reg: HostileRegistry, pattern: str, *answers: Answer, method: str = "GET") -> None:
    """Answer requests matching ``pattern`` with ``answers`` in turn; the last one repeats."""
    reg.on(pattern, answers[-1], method=method)
    for answer in reversed(answers[:-1]):
        reg.on(pattern, answer, method=method, times=1)


def by_request(choose: Callable[[Request], Answer]) -> Answer:
    """An answer that depends on the request (its headers, its query)."""

    def answer(req: Request, conn: Conn) -> None:
        choose(req)(req, conn)

    return answer


def error(status: int, code: str = "", **headers: str) -> Answer:
    return respond(status, json.dumps({"errors": [{"code": code}]}) if code else b"", headers)


def token(value: str, **extra: object) -> Answer:
    return respond(200, {"token": value, **extra}, {"Content-Type": "application/json"})
