"""Per-caller rate limits of the inbound API, shared by every Odoo worker.

Counts live in ``bj_api_rate_limit`` (one row per caller, window and window
start). Each request runs one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
for all its windows on a cursor of its own, committed at once: the counter row
is locked for one statement only, and a request that is rolled back later
still counts. The arithmetic (windows, decision, headers) is
:mod:`..engine.ratelimit`.
"""
import logging
import time

import psycopg2

import odoo.sql_db

from ..engine import ratelimit
from ..engine.errors import ApiError
from ..models.bj_api_rate_limit import HIT_SQL

_logger = logging.getLogger(__name__)


def hit(dbname, caller_key, windows, now=None):
    """Count one request of ``caller_key`` in each window; return ``{window name: count}``."""
    now = time.time() if now is None else now
    if not windows:
        return {}
    params = []
    for window in windows:
        start = ratelimit.window_start(now, window.size)
        params += [caller_key, window.name, start, start + window.size]
    values = ", ".join(["(%s, %s, %s, %s, 1)"] * len(windows))
    with odoo.sql_db.db_connect(dbname).cursor() as cr:
        cr.execute(HIT_SQL.format(values=values), params)  # pylint: disable=sql-injection
        counts = dict(cr.fetchall())
        # Its own cursor, committed at once: the count must survive a rollback of
        # the request and the row lock must not last longer than this statement.
        cr.commit()  # pylint: disable=invalid-commit
    return counts


def check(dbname, caller_key, per_minute, per_hour, now=None):
    """Count the request and decide; return the ``engine.ratelimit.Decision``.

    Raises ``RATE_LIMIT_EXCEEDED`` (429, with the ``X-RateLimit-*`` and
    ``Retry-After`` headers) when a window is full. A database failure of the
    counter is logged and lets the request through: rate limiting must not
    take the API down.
    """
    now = time.time() if now is None else now
    windows = ratelimit.windows_for(per_minute, per_hour)
    if not windows:
        return ratelimit.decide({}, windows, now)
    try:
        counts = hit(dbname, caller_key, windows, now)
    except psycopg2.Error:
        _logger.exception("Rate-limit counter unavailable; request let through")
        return ratelimit.decide({}, [], now)
    decision = ratelimit.decide(counts, windows, now)
    if not decision.allowed:
        raise ApiError(
            "RATE_LIMIT_EXCEEDED",
            f"Rate limit exceeded: {decision.limit} requests per window; retry in "
            f"{decision.retry_after} s",
            {"limit": decision.limit, "retry_after": decision.retry_after},
            headers=ratelimit.headers(decision),
        )
    return decision
