"""Per-caller rate limits of the inbound API, shared by every Odoo worker.

Counts live in ``bj_api_rate_limit`` (one row per caller, window and window
start). Each request runs one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
for all its windows on a cursor of its own, committed at once: the counter row
is locked for one statement only, and a request that is rolled back later
still counts. That statement runs at READ COMMITTED: there a concurrent
upsert of the same row is waited for and then added to, so the count is exact
under any contention; at Odoo's usual REPEATABLE READ it would fail with a
serialization error instead. The arithmetic (windows, decision, headers) is
:mod:`..engine.ratelimit`.
"""
import logging
import time

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED, TransactionRollbackError
from psycopg2.pool import PoolError

import odoo.sql_db

from ..engine import ratelimit
from ..engine.errors import ApiError
from ..models.bj_api_rate_limit import HIT_SQL
from . import inbound_errors

_logger = logging.getLogger(__name__)

# The bucket of failed authentications, per client address.
FAILURE_PREFIX = "authfail:"


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
        # Set before the first statement; the pool's next cursor sets its own
        # level again, so only this transaction is READ COMMITTED.
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
        cr.execute(HIT_SQL.format(values=values), params)  # pylint: disable=sql-injection
        counts = dict(cr.fetchall())
        # Its own cursor, committed at once: the count must survive a rollback of
        # the request and the row lock must not last longer than this statement.
        cr.commit()  # pylint: disable=invalid-commit
    return counts


def _is_outage(exc):
    """Whether ``exc`` says the database cannot be reached (not a bug, not contention)."""
    if isinstance(exc, PoolError):  # no free connection in Odoo's pool
        return True
    if isinstance(exc, TransactionRollbackError) or inbound_errors.is_retryable(exc):
        return False
    return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))


def check(dbname, caller_key, per_minute, per_hour, now=None):
    """Count the request and decide; return the ``engine.ratelimit.Decision``.

    Raises ``RATE_LIMIT_EXCEEDED`` (429, with the ``X-RateLimit-*`` and
    ``Retry-After`` headers) when a window is full. Only a database outage
    (no connection, pool exhausted) lets the request through, logged: rate
    limiting must not take the API down. A concurrency error is raised for
    Odoo to retry the request (its hit was not counted), any other error is
    raised as the bug it is.
    """
    now = time.time() if now is None else now
    windows = ratelimit.windows_for(per_minute, per_hour)
    if not windows:
        return ratelimit.decide({}, windows, now)
    try:
        counts = hit(dbname, caller_key, windows, now)
    except psycopg2.Error as exc:
        if not _is_outage(exc):
            raise
        # The first line only: the rest of a psycopg2 message may quote the statement.
        _logger.error("Rate-limit counter unavailable; request let through: %s: %s",
                      type(exc).__name__, (str(exc).strip().splitlines() or [""])[0])
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


def failure_counter(dbname, remote_addr, per_minute, per_hour):
    """Return a callable counting one failed authentication from ``remote_addr``.

    The callable raises ``RATE_LIMIT_EXCEEDED`` once the address is over
    ``per_minute`` / ``per_hour`` failures. The authentication calls it
    before any pbkdf2 work (see :mod:`.inbound_auth`), so that guessing
    credentials cannot be turned into CPU load.
    """
    bucket = FAILURE_PREFIX + ratelimit.caller_key("ip", remote_addr or "0.0.0.0")  # noqa: S104

    def count_failure():
        return check(dbname, bucket, per_minute, per_hour)

    return count_failure
