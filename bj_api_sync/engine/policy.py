"""Retry policy of the outbound engine: what is retried, and after how long.

Pure functions, no I/O: the HTTP client, the Odoo queue and the UI all ask this
module the same questions so that a delivery is classified the same way
everywhere (2xx ok; 408/425/429/5xx and transient network errors retried with
exponential backoff honouring ``Retry-After``; everything else failed at once).
"""

import datetime as _dt
import email.utils
import logging
import math
import random
import time

import requests

_logger = logging.getLogger(__name__)

SUCCESS = "success"
RETRY = "retry"
FAIL = "fail"

#: HTTP statuses worth another attempt: the request may succeed later unchanged.
RETRYABLE_STATUS = frozenset({408, 425, 429} | set(range(500, 600)))

# Transient transport errors. ConnectTimeout/ReadTimeout are subclasses of
# Timeout; ConnectTimeout is also a ConnectionError. urllib3 and socket errors
# are listed because some code paths of older requests versions let them escape
# unwrapped, and they mean the same thing: the network hiccuped.
try:  # urllib3 is a hard dependency of requests, but keep the policy importable
    from urllib3 import exceptions as _u3
except ImportError:  # pragma: no cover
    _u3 = None

_RETRY_EXCEPTIONS: tuple = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,  # builtin: reset/refused/aborted sockets
    TimeoutError,  # builtin; socket.timeout is an alias since Python 3.10
)
if _u3 is not None:
    _RETRY_EXCEPTIONS += (
        _u3.ProtocolError,
        _u3.TimeoutError,  # ConnectTimeoutError and ReadTimeoutError
        _u3.NewConnectionError,
    )

# Configuration errors: retrying cannot help, the config must be fixed first.
# Checked before the retryable ones because some are subclasses of them
# (SSLError and the proxy errors derive from ConnectionError).
_FAIL_EXCEPTIONS: tuple = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.TooManyRedirects,
    requests.exceptions.SSLError,  # a bad certificate does not heal in seconds
)


def classify_status(status: int | None) -> str:
    """Classify an HTTP status code as ``"success"``, ``"retry"`` or ``"fail"``.

    2xx is success; 408, 425, 429 and every 5xx are retried; anything else
    (1xx, 3xx, other 4xx, ``None`` or nonsense) fails at once.
    """
    try:
        status = int(status)
    except (TypeError, ValueError):
        return FAIL
    if 200 <= status <= 299:
        return SUCCESS
    if status in RETRYABLE_STATUS:
        return RETRY
    return FAIL


def classify_exception(exc: BaseException) -> str:
    """Classify an exception raised while sending a request.

    Connection errors, connect/read timeouts and broken chunked bodies are
    ``"retry"``; invalid URLs/schemas/headers, redirect loops, TLS certificate
    errors and anything unknown are ``"fail"``.
    """
    if isinstance(exc, _FAIL_EXCEPTIONS):
        return FAIL
    if isinstance(exc, _RETRY_EXCEPTIONS):
        return RETRY
    return FAIL


def parse_retry_after(
    value: str | None, now: float | None = None, cap: float = 3600.0
) -> float | None:
    """Parse a ``Retry-After`` header value into seconds to wait.

    Accepts delta-seconds (``"120"``; a decimal is tolerated) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``) evaluated against ``now`` (epoch
    seconds, default ``time.time()``). Negative values and past dates give 0,
    the result is capped at ``cap``; an empty or unparsable value gives ``None``.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    value = str(value).strip()
    if not value:
        return None
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _parse_http_date(value, now)
    else:
        if not math.isfinite(seconds):
            return None
    if seconds is None:
        return None
    return min(max(seconds, 0.0), float(cap))


def _parse_http_date(value: str, now: float | None) -> float | None:
    """Seconds from ``now`` until the HTTP-date ``value``, or None if it is not one."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # Python < 3.10 returned None instead of raising
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are always GMT
        when = when.replace(tzinfo=_dt.timezone.utc)  # not datetime.UTC: 3.11+
    if now is None:
        now = time.time()
    try:
        return when.timestamp() - now
    except (OverflowError, ValueError, OSError):
        return None


def backoff_delay(
    attempt: int,
    base: float,
    *,
    retry_after: float | None = None,
    cap: float = 3600.0,
    jitter: float = 0.25,
    rand=random.random,
) -> float:
    """Seconds to wait before the next attempt.

    ``attempt`` is the number of attempts already made (1 after the first
    failure). The delay is ``base * 2**(attempt-1)`` (1, 2, 4, ... for base 1)
    scaled by a random factor in ``[1-jitter, 1+jitter]`` (``rand()`` returning
    0.5 means no jitter), never negative and capped at ``cap``. When the server
    sent ``Retry-After`` the delay is at least that, still capped at ``cap``.
    """
    if jitter < 0:
        raise ValueError("jitter must be >= 0")
    cap = max(float(cap), 0.0)
    base = max(float(base or 0.0), 0.0)
    attempt = max(int(attempt), 1)
    # Clamp the exponent: 2**2000 overflows a float, and the cap wins long before.
    computed = base * 2.0 ** min(attempt - 1, 64)
    if computed and jitter:
        # Jitter spreads retries of many deliveries that failed together so
        # they do not hit the recovering server at the same instant.
        computed *= 1.0 + jitter * (2.0 * rand() - 1.0)
    delay = max(computed, 0.0)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return min(delay, cap)


def max_attempts(max_retries) -> int:
    """The number of attempts a delivery gets: the first plus ``max_retries`` retries."""
    return max(int(max_retries or 0), 0) + 1


def should_retry(outcome: str, attempts_made: int, allowed_attempts: int) -> bool:
    """Tell whether another attempt is allowed.

    ``attempts_made`` counts the first attempt; ``allowed_attempts`` is the
    delivery's total (see :func:`max_attempts`). Only a ``"retry"`` outcome is
    ever retried.
    """
    return outcome == RETRY and attempts_made < allowed_attempts


#: A worker that finds an item due but cannot take it (another worker is
#: sending it) looks again after this many seconds.
BUSY_PAUSE = 0.2


def idle_sleep(
    seconds_to_due: float | None, *, stay: float, poll: float, remaining: float
) -> float | None:
    """Seconds a delivery worker with nothing to take now sleeps before it looks again.

    ``seconds_to_due``: until the next waiting item is due (None: no item; <= 0:
    one is due but another worker holds it). The worker stays for an item due
    within ``stay`` seconds, looking again at least every ``poll`` seconds (new
    items may come) and never past the ``remaining`` seconds of its run.
    Returns None when the worker should end its run instead (always with a
    ``stay`` of 0: a worker that never waits).
    """
    if seconds_to_due is None or stay <= 0 or seconds_to_due > stay or remaining <= 0:
        return None
    pause = seconds_to_due if seconds_to_due > 0 else BUSY_PAUSE
    return max(min(pause, poll, remaining), 0.0)


def start_delay(seconds_to_due: float, lead: float) -> float:
    """Seconds from now at which to start the worker for an item due in ``seconds_to_due``.

    A worker stays for items due within ``lead`` seconds, so it is started
    ``lead`` seconds early (now, 0.0, when the item is due sooner than that).
    """
    return max(float(seconds_to_due) - float(lead), 0.0)
