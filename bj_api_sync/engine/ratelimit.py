"""Fixed-window rate-limit arithmetic.

The hit counters live in PostgreSQL (one row per caller, window name and window
start, incremented atomically) so that every Odoo worker sees the same counts;
this module only decides what those counts mean and which headers to send.
"""
import hashlib
import ipaddress
import math
from dataclasses import dataclass

# A SHA-256 prefix this long is unique enough for bucketing callers and lets
# no raw API key reach the database.
_KEY_HASH_CHARS = 32


@dataclass(frozen=True)
class Window:
    """One fixed window: ``name`` ("minute"/"hour"), ``size`` in seconds, ``limit``.

    A ``limit`` of 0 means unlimited (such windows are not built by
    :func:`windows_for`).
    """

    name: str
    size: int
    limit: int


@dataclass
class Decision:
    """The outcome of :func:`decide` for one request.

    ``limit``/``remaining``/``reset`` describe the binding window (``reset`` is
    the epoch second at which it starts over); ``retry_after`` is set, in
    seconds (at least 1), only when the request is refused.
    """

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int | None = None


def window_start(now, size):
    """Return the epoch second at which the window of ``size`` seconds holding ``now`` began."""
    return int(now // size) * size


def windows_for(per_minute, per_hour):
    """Return the windows to enforce for these limits; a limit <= 0 is skipped."""
    windows = []
    if per_minute and per_minute > 0:
        windows.append(Window("minute", 60, int(per_minute)))
    if per_hour and per_hour > 0:
        windows.append(Window("hour", 3600, int(per_hour)))
    return windows


def decide(counts, windows, now):
    """Decide whether a request is allowed, given hit ``counts`` per window name.

    ``counts`` include the current request. It is allowed when every count is
    within its window's limit. Reported limit/remaining/reset are those of the
    binding window: when refused, the refusing window that resets last (the
    caller must wait for it); when allowed, the window with the fewest
    remaining hits, ties going to the one that resets last (it blocks
    longest). With no windows: allowed, with limit, remaining and reset 0.
    """
    if not windows:
        return Decision(True, 0, 0, 0, None)
    states = []
    for window in windows:
        count = counts.get(window.name, 0)
        reset = window_start(now, window.size) + window.size
        states.append((window, count, reset))
    blocked = [s for s in states if s[1] > s[0].limit]
    if blocked:
        window, count, reset = max(blocked, key=lambda s: s[2])
        retry_after = max(1, math.ceil(reset - now))
        return Decision(False, window.limit, 0, reset, retry_after)
    window, count, reset = min(states, key=lambda s: (s[0].limit - s[1], -s[2]))
    return Decision(True, window.limit, window.limit - count, reset, None)


def headers(decision):
    """Return the ``X-RateLimit-*`` headers (and ``Retry-After`` when refused).

    Empty when no limit applies (``decision.limit == 0``); ``Remaining`` is
    never negative.
    """
    if not decision.limit:
        return {}
    result = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(max(0, decision.remaining)),
        "X-RateLimit-Reset": str(decision.reset),
    }
    if not decision.allowed:
        result["Retry-After"] = str(max(1, decision.retry_after or 1))
    return result


def caller_key(kind, ident):
    """Return the bucket key of a caller.

    ``kind`` "key": ``"key:<first 32 hex chars of SHA-256(ident)>"`` (the raw
    key is never stored); "user": ``"user:<int id>"``; "ip":
    ``"ip:<normalised address>"``. An empty ``ident``, an invalid user id or
    address, or another ``kind`` raise ``ValueError``.
    """
    if ident is None or ident == "" or ident == b"":
        raise ValueError(f"caller_key({kind!r}): empty identity")
    if kind == "key":
        raw = ident if isinstance(ident, bytes) else str(ident).encode("utf-8")
        return "key:" + hashlib.sha256(raw).hexdigest()[:_KEY_HASH_CHARS]
    if kind == "user":
        if isinstance(ident, bool) or not isinstance(ident, (int, str)):
            raise ValueError(f"caller_key('user'): invalid user id {ident!r}")
        user_id = int(ident)
        if user_id <= 0:
            raise ValueError(f"caller_key('user'): invalid user id {ident!r}")
        return f"user:{user_id}"
    if kind == "ip":
        # One address, one spelling: "::FFFF:0a00:1" and "::ffff:10.0.0.1"
        # must share a bucket.
        return "ip:" + ipaddress.ip_address(str(ident).strip()).compressed
    raise ValueError(f"caller_key: unknown kind {kind!r}")
