"""What the registry's HTTP code and the API server's share: an exception's causes, Retry-After.

Both stacks (urllib3 under the registry session and under the kubernetes client) nest the real
cause of a failure a few levels down, in ``args``, ``.reason`` or the exception chain.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

__all__ = ["causes", "parse_retry_after"]

_MAX_CAUSES = 32  # a cycle or a pathological nesting must not loop


def causes(exc: BaseException) -> list[BaseException]:
    """exc and everything under it, nearest first: args (MaxRetryError wraps its reason there too),
    .reason, __cause__ and __context__; each exception once."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < _MAX_CAUSES:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo.extend(getattr(e, "args", ()))
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
    return seen


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), None when unusable.

    Anything else ("soon", "1e999", "1, 2" from two headers, a date in the past) is ignored, not
    an error: the caller's usual backoff (or no retry) applies instead.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit() and len(text) <= 9:
        return float(int(text))
    if len(text) > 64:
        return None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    try:
        delta = when.timestamp() - (now if now is not None else time.time())
    except (OverflowError, OSError, ValueError):
        return None
    return delta if math.isfinite(delta) and delta > 0 else None
