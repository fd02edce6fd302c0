"""Inbound ``Idempotency-Key``: claims and kept answers, shared by every worker.

The store is the table ``bj_api_idempotency_key`` (see its model). One call
with a key goes through three steps:

1. :func:`claim`, before the call runs, on a cursor of its own at READ
   COMMITTED, committed at once: expired rows of the key are deleted; a kept
   answer is replayed (same fingerprint) or refused (422
   ``IDEMPOTENCY_KEY_REUSED``); a running claim is refused (409
   ``IDEMPOTENCY_KEY_IN_USE``; 422 if the body differs) unless it is stale,
   i.e. older than any live call can be (``limit_time_real``): then its call
   died and the claim is taken over. Otherwise ``INSERT ... ON CONFLICT DO
   NOTHING`` claims the key; of two workers racing for it, one wins and the
   other sees the claim. The claim must be committed on its own, not with the
   call, or the second worker would wait on (or not see) it instead of
   answering 409.
2. :func:`keep`, when the answer is to be kept: the answer row is inserted on
   the *request's* cursor, so it is committed in the same transaction as the
   call's writes: a crash between the two cannot leave a write without the
   answer that replays it (the next call would write again), nor an answer
   without its write. An error answer is inserted after the rollback of the
   call's writes, as the log row is.
3. :func:`release`: a call whose answer is not kept (5xx, 409, 429, or a
   concurrency error Odoo retries) deletes its claim at once, so that a retry
   with the key runs again; a kept answer's claim is deleted after the commit
   (a tidy-up: the answer row wins over a claim anyway).

A claim taken over while its first call was in fact still alive cannot make
two writes either: both calls insert their answer row and the unique
(caller, key, state) index lets one transaction commit; the other fails and
is rolled back (409).
"""
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg2
from psycopg2 import errorcodes
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED

import odoo.sql_db
from odoo.tools import config as odoo_config

from ..engine import idempotency
from ..engine.errors import ApiError
from ..models import bj_api_idempotency_key as store

_logger = logging.getLogger(__name__)


@dataclass
class Claim:
    """A key this call owns while it runs (the ``running`` row ``row_id``)."""

    caller: str
    key: str
    fingerprint: str
    config_id: int
    uid: int
    method: str
    path: str
    trace_id: str
    claimed_at: datetime
    row_id: int


@dataclass
class Replay:
    """A kept answer: the first call's status, exact body text and headers."""

    status: int
    text: str
    headers: dict = field(default_factory=dict)
    trace_id: str = ""

    @property
    def body(self):
        """The answer as a dict (for the log)."""
        try:
            return json.loads(self.text)
        except ValueError:
            return {}


def _utcnow():
    # Naive UTC, as Odoo's Datetime columns hold it.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _own_cursor(registry):
    """A new cursor on the database, at READ COMMITTED when it is a real one.

    At READ COMMITTED each statement sees what other workers committed before
    it, and ``ON CONFLICT`` waits for a concurrent claim and then sees it; at
    Odoo's REPEATABLE READ it would fail to serialize instead. Under the test
    registry the cursor is a savepoint of the test transaction: its level is
    the transaction's.
    """
    cr = registry.cursor()
    if isinstance(cr, odoo.sql_db.Cursor):
        # Before the first statement; the pool's next cursor sets its own level.
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
    return cr


def _reused():
    return ApiError(
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was already used with another request (verb, path, query or "
        "body); use a new key for a new request",
        {"header": idempotency.HEADER},
    )


def in_use_error(message=None):
    """The 409 ``IDEMPOTENCY_KEY_IN_USE`` of a key whose first call still runs."""
    return ApiError(
        "IDEMPOTENCY_KEY_IN_USE",
        message or "A request with this Idempotency-Key is still running; retry once it "
        "has been answered",
        {"header": idempotency.HEADER},
    )


def _answered(row, fingerprint):
    """The replay of a kept answer row, or the 422 of another request's key."""
    if row["fingerprint"] != fingerprint:
        raise _reused()
    try:
        headers = json.loads(row["response_headers"] or "{}")
    except ValueError:
        headers = {}
    return Replay(row["status_code"], row["response_body"] or "", headers, row["trace_id"] or "")


def _rows(cr, caller, key, now=None):
    """``{state: row}`` of the key; with ``now``, its expired rows are deleted first
    (in the same round trip)."""
    if now is None:
        cr.execute(store.SELECT_SQL, (caller, key))
    else:
        cr.execute(store.DELETE_EXPIRED_SQL + ";" + store.SELECT_SQL, (caller, key, now,
                                                                      caller, key))
    names = [d[0] for d in cr.description]
    return {row[1]: dict(zip(names, row, strict=True)) for row in cr.fetchall()}


def claim(env, *, caller, key, fingerprint, config_id, uid, method, path, trace_id,
          now=None):
    """Claim ``key`` for a call about to run; return a :class:`Claim` or a :class:`Replay`.

    Raises 422 ``IDEMPOTENCY_KEY_REUSED`` when the key's first call had
    another fingerprint, 409 ``IDEMPOTENCY_KEY_IN_USE`` while it runs.
    """
    now = now or _utcnow()
    stale_seconds = idempotency.stale_after(odoo_config.get("limit_time_real"))
    expires = idempotency.expires_at(now)
    for _attempt in range(2):
        with _own_cursor(env.registry) as cr:
            rows = _rows(cr, caller, key, now)
            if "done" in rows:
                return _answered(rows["done"], fingerprint)
            running = rows.get("running")
            if running is not None:
                if running["fingerprint"] != fingerprint:
                    raise _reused()
                if not idempotency.is_stale(running["claimed_at"], now, stale_seconds):
                    raise in_use_error()
                # Its call died (a killed worker, a crash): nothing of it was
                # committed, since its answer row would be here.
                cr.execute(store.TAKE_OVER_SQL,
                           (now, expires, trace_id, running["id"], running["claimed_at"]))
                if cr.rowcount != 1:
                    raise in_use_error()
                _logger.info("Idempotency key of a call that never finished taken over "
                             "(first call %s, this call %s)", running["trace_id"], trace_id)
                return Claim(caller, key, fingerprint, config_id, uid, method, path,
                             trace_id, now, running["id"])
            cr.execute(store.CLAIM_SQL, (caller, key, fingerprint, config_id or None, uid,
                                         method, path, trace_id, now, expires))
            row = cr.fetchone()
            if row:
                # The first call may have committed its answer and dropped its
                # claim between our SELECT and INSERT: this statement sees it.
                rows = _rows(cr, caller, key)
                if "done" in rows:
                    cr.rollback()
                    return _answered(rows["done"], fingerprint)
                return Claim(caller, key, fingerprint, config_id, uid, method, path,
                             trace_id, now, row[0])
        # Another call claimed the key between our SELECT and INSERT: look again.
    raise in_use_error()


MAX_KEPT_PARAM = "bj_api_sync.idempotency_max_kept_chars"
# Create and update answers echo the record, binaries included: an answer past
# this is not kept 24 hours (a retry with the key runs the call again).
DEFAULT_MAX_KEPT_CHARS = 1_000_000


def max_kept_chars(env):
    """The longest answer (in characters) kept for an Idempotency-Key."""
    return env["bj.api.log"].sudo()._get_int_param(MAX_KEPT_PARAM, DEFAULT_MAX_KEPT_CHARS)


def keep(env, found, status, text, headers):
    """Insert the kept answer of claim ``found`` on the request's cursor ``env.cr``.

    Raises 409 ``IDEMPOTENCY_KEY_IN_USE`` when another call with the key
    already committed its answer (the caller rolls this call back).
    """
    params = (
        found.caller, found.key, found.fingerprint, found.config_id or None, found.uid,
        found.method, found.path, found.trace_id, found.claimed_at,
        idempotency.expires_at(found.claimed_at), status, text,
        json.dumps(idempotency.kept_headers(headers), sort_keys=True),
    )
    try:
        env.cr.execute(store.KEEP_SQL, params, log_exceptions=False)
    except psycopg2.IntegrityError as exc:
        if getattr(exc, "pgcode", None) != errorcodes.UNIQUE_VIOLATION:
            raise
        raise in_use_error(
            "Another request with this Idempotency-Key was answered first; this one was "
            "rolled back, nothing was saved"
        ) from None
    # The claim is not needed once the answer is committed (a tidy-up only).
    # And if the transaction is rolled back after this (Odoo retries a call whose
    # commit-time flush hit a serialization failure), the claim must go too:
    # otherwise the retry finds it running and answers 409 to itself.
    registry = env.registry
    env.cr.postcommit.add(lambda: release(registry, found))
    env.cr.postrollback.add(lambda: release(registry, found))


def keep_error(env, found, status, text, headers):
    """Keep an error answer after the call's rollback, or release the claim.

    The insert runs in a savepoint: when it fails, the answer and the log
    are still sent, the claim is released and a retry runs again.
    """
    try:
        with env.cr.savepoint(flush=False):
            keep(env, found, status, text, headers)
    except (ApiError, psycopg2.Error) as exc:
        _logger.warning("Could not keep the answer of idempotency key (trace %s): %s",
                        found.trace_id, type(exc).__name__)
        release(env.registry, found)


def release(registry, found):
    """Delete the claim of ``found`` (its own cursor, committed): the key runs again.

    Only this call's claim: one taken over since then by another call stays.
    Failures are logged, not raised: the claim then expires as stale.
    """
    try:
        with _own_cursor(registry) as cr:
            cr.execute(store.RELEASE_SQL, (found.row_id, found.claimed_at))
    except psycopg2.Error as exc:
        _logger.warning("Could not release the idempotency key claim (trace %s): %s: %s",
                        found.trace_id, type(exc).__name__,
                        (str(exc).strip().splitlines() or [""])[0])
