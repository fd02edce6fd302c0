"""Inbound ``Idempotency-Key``: the rules that need no database.

A client that sends ``Idempotency-Key: <key>`` with a POST, PUT, DELETE or
batch call may send the same call again (a timeout, a lost answer) without
writing twice: the first answer is kept 24 hours per caller and key, and a
replay gets it back with ``Idempotent-Replayed: true``. This module holds the
key's validation, the fingerprint that tells "the same call" from "another
call with the same key", which answers are kept, and the time arithmetic.
The store is :mod:`..services.inbound_idempotency`.
"""
import hashlib
import json
import re
from datetime import timedelta

from .errors import ApiError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Stripe's limit; a UUID (36) or a ULID (26) fits many times.
MAX_KEY_LENGTH = 255
#: How long a first answer is kept and replayed.
TTL = timedelta(hours=24)
#: Operations of a resource the header applies to (GET ignores it).
WRITE_OPERATIONS = frozenset({"create", "update", "delete", "batch"})
#: A running first call older than this is taken for dead (see :func:`stale_after`).
MIN_STALE_SECONDS = 60

# Printable ASCII, space included but not at either end (a header value's
# surrounding whitespace is not part of it, so "k" and " k" would be one key).
_KEY_RE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
# Answer headers that belong to one call, not to the answer: a replay gets its
# own trace id and the caller's current limits.
_PER_CALL_HEADERS = frozenset({
    "x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
    "retry-after", "content-length", "connection", "date",
    REPLAYED_HEADER.lower(),
})


def validate_key(value):
    """Return the key of an ``Idempotency-Key`` header value, or raise a 400.

    Valid: 1 to :data:`MAX_KEY_LENGTH` printable ASCII characters (space
    allowed inside, not at either end). ``None`` (no header) returns None.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError.validation("The Idempotency-Key header is empty",
                                  header=HEADER, maximum_length=MAX_KEY_LENGTH)
    if len(value) > MAX_KEY_LENGTH:
        raise ApiError.validation(
            f"The Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters",
            header=HEADER, maximum_length=MAX_KEY_LENGTH, length=len(value))
    if not _KEY_RE.fullmatch(value):
        raise ApiError.validation(
            "The Idempotency-Key header must be printable ASCII characters "
            "(no control characters, no space at either end)",
            header=HEADER, maximum_length=MAX_KEY_LENGTH)
    return value


def canonical_body(raw):
    """Return the bytes of ``raw`` that identify the call.

    A JSON body is re-serialised with sorted keys and no spaces, so that the
    same data sent with another key order or indentation is the same call;
    anything else (empty, malformed, not UTF-8) is taken byte for byte.
    """
    raw = raw or b""
    if not raw.strip():
        return b""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return bytes(raw)
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def fingerprint(method, path, query_pairs, raw_body):
    """Return the SHA-256 hex digest of a call: verb, path, query and canonical body.

    ``query_pairs`` is an iterable of ``(name, value)`` (order does not
    matter). The same key sent with another fingerprint is a reused key (422).
    """
    digest = hashlib.sha256()
    digest.update(str(method).upper().encode("utf-8") + b"\n")
    digest.update(str(path).encode("utf-8") + b"\n")
    query = sorted((str(k), str(v)) for k, v in (query_pairs or ()))
    digest.update(json.dumps(query, separators=(",", ":")).encode("utf-8") + b"\n")
    digest.update(canonical_body(raw_body))
    return digest.hexdigest()


def should_keep(status):
    """Whether an answer with ``status`` is kept for replays.

    Kept: every 2xx and 4xx (a 400 is answered again as 400: the same call
    fails the same way, as Stripe does), except 409 (a conflict, such as
    another call running with the key, may be gone on retry) and 429 (the
    limit resets). Not kept: 5xx (nothing was written, the client should
    retry) and anything else. A call that is not kept can be sent again with
    the same key and runs again.
    """
    return (200 <= status < 300 or 400 <= status < 500) and status not in (409, 429)


def kept_headers(headers):
    """Return the answer headers a replay repeats (``Allow``, ``Location``...).

    Per-call headers (trace id, rate limits, ``Retry-After``, transport) are
    left out: the replay carries its own.
    """
    return {str(k): str(v) for k, v in (headers or {}).items()
            if str(k).lower() not in _PER_CALL_HEADERS}


def expires_at(now):
    """When an answer kept at ``now`` (a datetime) stops being replayed."""
    return now + TTL


def stale_after(limit_time_real):
    """Seconds after which a claim whose call never finished may be taken over.

    A worker killed mid-call (``limit_time_real``, a crash) leaves its claim
    "running"; no live call of a prefork server runs longer than
    ``limit_time_real``, so a claim older than that (and at least
    :data:`MIN_STALE_SECONDS`) belongs to a dead call. ``limit_time_real`` of
    0 or less (no limit) gives the default 120 s of Odoo.
    """
    try:
        seconds = float(limit_time_real)
    except (TypeError, ValueError):
        seconds = 0.0
    if seconds <= 0:
        seconds = 120.0
    return max(seconds, MIN_STALE_SECONDS) + 10.0


def is_stale(claimed_at, now, stale_seconds):
    """Whether a claim made at ``claimed_at`` is older than ``stale_seconds`` at ``now``."""
    return claimed_at <= now - timedelta(seconds=stale_seconds)


def caller_identity(config_id, method, caller_key, uid):
    """Return the key space of one caller: the credential and the user it runs as.

    An Odoo API key (``method`` "apikey") is one caller wherever it is used;
    a config's own credentials (or auth ``none``, by address) are a caller of
    that config only: two configs that share a run-as user but have their own
    tokens never see each other's answers.
    """
    scope = "*" if method == "apikey" else f"config:{config_id}"
    return f"{scope}|{caller_key}|uid:{uid}"
