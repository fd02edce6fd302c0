"""One outbound HTTP attempt over pooled keep-alive sessions.

The Odoo layer builds an :class:`OutboundRequest` (URL, params, headers, JSON
body, timeouts, idempotency key), calls :func:`send_once` and gets back an
:class:`AttemptResult` that is already classified by :mod:`.policy` and carries
everything the audit log needs. Nothing here raises for network or HTTP
errors: a failed delivery is a result, never an exception, so it cannot be lost.

Compatible with requests 2.25.1 / urllib3 1.26.5 (Odoo 17's pins) and newer.
"""

import email.message
import functools
import http
import http.client
import http.cookiejar
import json
import logging
import math
import os
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity, get_auth_from_url
from urllib3 import exceptions as _u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util import Retry as _Retry
from urllib3.util import Timeout as _Timeout

from . import masking, policy, signing, url_guard

_logger = logging.getLogger(__name__)

USER_AGENT = "bj_api_sync/17.0 (+Odoo 17; python-requests)"
DEFAULT_TIMEOUT = (5.0, 15.0)
DEFAULT_MAX_RESPONSE_BYTES = 1_048_576
POOL_CONNECTIONS = 4
POOL_MAXSIZE = 8
# Small read chunks bound how much a compressed response can inflate in one
# step (urllib3 decompresses a whole chunk at once) before the size cap applies.
_READ_CHUNK = 16 * 1024
# Methods that never carry a request body.
_BODYLESS = frozenset({"GET", "HEAD"})
# Exceptions that mean "this attempt failed" rather than "the code is wrong".
# ValueError covers header values http.client refuses (it raises ValueError or
# UnicodeEncodeError) and requests' own InvalidURL/MissingSchema family.
_CAUGHT: tuple = (
    requests.exceptions.RequestException,
    OSError,
    http.client.HTTPException,
    ValueError,
    _u3.HTTPError,
)


# Compact JSON, dates and decimals as text. One encoder for every call:
# json.dumps() with options builds a new one each time.
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def to_json(value) -> str:
    """Return ``value`` as the JSON text a request body carries (compact, UTF-8 as is)."""
    return _JSON_ENCODER.encode(value)


@dataclass
class OutboundRequest:
    """Everything needed to send one outbound HTTP request.

    ``json_body`` is serialised compactly as JSON (``default=str`` so dates
    and decimals pass) unless the method is GET/HEAD, which send no body;
    ``params`` always go to the query string. ``timeout`` is ``(connect,
    read)`` seconds (anything :func:`normalise_timeout` accepts). The
    ``idempotency_key`` is sent as ``Idempotency-Key`` and must stay the same
    across retries of one delivery so the receiver can deduplicate. With
    ``refuse_internal`` the address really connected to must be public: a
    connection to this machine or a private network is closed before anything
    is sent, and the attempt fails (webhook targets; without a proxy).
    With a ``signing_secret`` each attempt carries the Standard Webhooks
    headers (see :mod:`.signing`): ``webhook-id`` is the Idempotency-Key,
    the timestamp is the attempt's, the signature covers the exact body
    bytes sent. The secret is kept out of ``repr()`` and never logged.
    A ``form_body`` (pairs or a dict) is sent form-urlencoded instead of
    ``json_body`` (OAuth2 token requests); it is kept out of ``repr()`` too,
    as it may carry a client secret.
    """

    method: str
    url: str
    params: list[tuple[str, str]] | dict | None = None
    # Out of repr() as well: an Authorization header is a credential.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    json_body: Any = None
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    idempotency_key: str | None = None
    refuse_internal: bool = False
    signing_secret: str | None = field(default=None, repr=False)
    form_body: list[tuple[str, str]] | dict | None = field(default=None, repr=False)

    def __post_init__(self):
        """Normalise the method to upper case (configs store verbs as typed)."""
        self.method = (self.method or "GET").strip().upper()


@dataclass
class AttemptResult:
    """The outcome of one HTTP attempt, ready to be written to the audit log.

    ``outcome`` is ``"success"``, ``"retry"`` or ``"fail"`` (see
    :mod:`.policy`). ``response_text`` is the decoded body, cut at the size cap
    (``response_truncated`` then True). ``error`` is a readable message for
    network errors and non-2xx statuses (``"HTTP 400: Bad Request - ..."``).
    ``sent_headers``/``sent_body`` are what actually went on the wire
    (unmasked: the caller masks secrets before logging).
    """

    outcome: str
    status_code: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_text: str = ""
    error: str | None = None
    duration_ms: float = 0.0
    retry_after: float | None = None
    sent_headers: dict[str, str] = field(default_factory=dict)
    sent_body: str | None = None
    url: str = ""
    response_truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when the attempt succeeded (2xx)."""
        return self.outcome == policy.SUCCESS

    def json(self) -> Any:
        """Return the parsed JSON body, or None when the body is empty or not JSON."""
        if not self.response_text:
            return None
        try:
            return json.loads(self.response_text)
        except ValueError:
            return None


def normalise_timeout(timeout, default=DEFAULT_TIMEOUT) -> tuple[float, float]:
    """Turn a timeout setting into a ``(connect, read)`` tuple of positive floats.

    ``None`` gives ``default``; a number gives ``(n, n)``; a 2-item tuple/list
    gives its items as floats. Booleans, strings, other shapes, non-finite or
    non-positive values raise ``ValueError``.
    """
    if timeout is None:
        if default is None:
            raise ValueError("no timeout given and no default")
        return normalise_timeout(default, None)
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        values = (timeout, timeout)
    elif isinstance(timeout, tuple | list) and len(timeout) == 2:
        values = tuple(timeout)
    else:
        raise ValueError(f"timeout must be seconds or a (connect, read) pair, got {timeout!r}")
    result = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"timeout values must be numbers, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"timeout values must be positive and finite, got {value!r}")
        result.append(value)
    return result[0], result[1]


# --------------------------------------------------------------------------
# Pooled sessions
# --------------------------------------------------------------------------


class _NoCookiesPolicy(http.cookiejar.DefaultCookiePolicy):
    """Cookie policy that neither stores nor sends cookies.

    Outbound API calls are stateless; a cookie set by one endpoint must never
    ride along with a later call (possibly for another config or company).
    """

    def set_ok(self, cookie, request):
        """Refuse to store any cookie."""
        return False

    def return_ok(self, cookie, request):
        """Refuse to send any stored cookie."""
        return False


_sessions: dict[tuple, requests.Session] = {}
_sessions_lock = threading.Lock()
_sessions_pid = os.getpid()
# Dead threads leave their sessions behind (Odoo's threaded server spawns a
# thread per request); past this many sessions, those are closed on creation.
_PRUNE_ABOVE = 32


def _reset_after_fork() -> None:
    """Forget the parent's sessions in a forked child (prefork Odoo workers).

    The parent's sockets are shared with the child: closing them here could
    disturb the parent's connections, so they are dropped, not closed. The
    lock is recreated because another thread may have held it at fork time.
    """
    global _sessions, _sessions_lock, _sessions_pid
    _sessions = {}
    _sessions_lock = threading.Lock()
    _sessions_pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class _Session(requests.Session):
    """A requests Session whose close() also closes the direct path's pools."""

    def close(self):
        """Close the direct path's connection pools, then the adapters'."""
        close_session_pools(self)
        return super().close()


def _new_session() -> requests.Session:
    """Build a keep-alive Session with modest pools, no transport retries and no cookies."""
    session = _Session()
    # max_retries=0: urllib3 must not retry behind our back; the retry policy
    # (backoff, Retry-After, logging of each attempt) is ours.
    adapter = HTTPAdapter(
        pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.cookies.set_policy(_NoCookiesPolicy())
    # requests re-reads the whole process environment on every request when
    # trust_env is on (proxy and CA bundle look-ups): a large share of the cost
    # of a small request. Read it once here instead; only a machine with proxy
    # variables keeps requests' per-request handling, which also applies NO_PROXY.
    if not urllib.request.getproxies_environment():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def _prune_dead_threads_locked() -> None:
    """Close sessions owned by threads that no longer exist (lock must be held)."""
    alive = {thread.ident for thread in threading.enumerate()}
    for session_key in [k for k in _sessions if k[2] not in alive]:
        session = _sessions.pop(session_key)
        try:
            session.close()
        except Exception:  # closing is best effort; a half-dead socket must not break a send
            _logger.debug("error while closing a stale session", exc_info=True)


def get_session(key=None) -> requests.Session:
    """Return the pooled keep-alive Session for ``key`` in this process and thread.

    One Session exists per ``(key, process id, thread id)``: Sessions are not
    thread-safe, and connections must not be shared across forked workers.
    ``key`` is typically the config id (any hashable). Each Session mounts an
    ``HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)``, sends
    our User-Agent and refuses cookies (calls stay stateless, nothing leaks
    between configs). ``trust_env`` keeps requests' default (True): proxies
    and CA bundles from ``HTTP(S)_PROXY``/``NO_PROXY``/``REQUESTS_CA_BUNDLE``
    are honoured, as integrators running Odoo behind a proxy expect (read once
    per Session when no proxy variable is set, see ``_new_session``).
    """
    pid = os.getpid()
    if pid != _sessions_pid:  # fork without register_at_fork support
        _reset_after_fork()
    session_key = (key, pid, threading.get_ident())
    with _sessions_lock:
        session = _sessions.get(session_key)
        if session is None:
            if len(_sessions) >= _PRUNE_ABOVE:
                _prune_dead_threads_locked()
            session = _sessions[session_key] = _new_session()
        return session


def close_sessions() -> None:
    """Close every pooled Session of this process (tests, shutdown, after config changes)."""
    with _sessions_lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        try:
            session.close()
        except Exception:  # best effort, see _prune_dead_threads_locked
            _logger.debug("error while closing a session", exc_info=True)


# --------------------------------------------------------------------------
# One attempt
# --------------------------------------------------------------------------


def prepare(request: OutboundRequest) -> tuple[dict[str, str], str | None]:
    """Return the ``(headers, body)`` to send for ``request``.

    Defaults (``User-Agent``, ``Accept: application/json``, and
    ``Content-Type: application/json`` when a body is sent) are overridden by
    the request's headers, compared case-insensitively (the caller's spelling
    is kept). ``Idempotency-Key`` is added last unless the caller already set
    one. Headers whose value is None/False (empty Odoo fields) are skipped.
    The body is compact JSON, or None for GET/HEAD or a None ``json_body``;
    a ``form_body`` is sent form-urlencoded (``Content-Type:
    application/x-www-form-urlencoded``) instead.
    """
    method = (request.method or "GET").upper()
    body = None
    content_type = "application/json"
    if method not in _BODYLESS and request.form_body is not None:
        body = urlencode(request.form_body)
        content_type = "application/x-www-form-urlencoded"
    elif method not in _BODYLESS and request.json_body is not None:
        body = to_json(request.json_body)
    # lower-case name -> (name, value): a case-insensitive dict whose
    # overrides keep the first position and take the new spelling.
    headers = {"user-agent": ("User-Agent", USER_AGENT), "accept": ("Accept", "application/json")}
    if body is not None:
        headers["content-type"] = ("Content-Type", content_type)
    for key, value in (request.headers or {}).items():
        if value is None or value is False or not key:
            continue
        name = str(key).strip()
        headers[name.lower()] = (name, str(value))
    if request.idempotency_key and "idempotency-key" not in headers:
        headers["idempotency-key"] = ("Idempotency-Key", str(request.idempotency_key))
    return dict(headers.values()), body


def _host_of(url: str) -> str:
    """``host:port`` of ``url`` for messages (no credentials, path or query)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"


def _root_reason(exc: BaseException) -> str:
    """The innermost readable cause of a requests exception.

    requests wraps urllib3's MaxRetryError which wraps the real cause; its
    text repeats the URL (query string included, which may hold secrets) and
    object addresses, so only the cause is kept.
    """
    reason: BaseException = exc
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, _u3.MaxRetryError):
        reason = arg.reason if arg.reason is not None else arg
    elif isinstance(arg, BaseException):
        reason = arg
    args = reason.args
    if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], BaseException):
        # ProtocolError("Connection aborted.", RemoteDisconnected("..."))
        text = f"{args[0]} ({args[1] or type(args[1]).__name__})"
    else:
        text = str(reason) or type(reason).__name__
    text = re.sub(r"^<[^>]*>:\s*", "", text)  # "<urllib3...Connection object at 0x..>: ..."
    text = re.sub(r"^HTTP(S)?ConnectionPool\([^)]*\):\s*", "", text)
    return text


def describe_exception(exc: BaseException, url: str, timeout: tuple[float, float]) -> str:
    """Readable one-line message for an exception raised while sending to ``url``."""
    host = _host_of(url)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"Connect timeout: no connection to {host} within {timeout[0]:g}s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"Read timeout: no response from {host} within {timeout[1]:g}s"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error with {host}: {_root_reason(exc)}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"Response from {host} cut off: {_root_reason(exc)}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = _root_reason(exc)
        if "timed out" in reason.lower():  # read timeout while streaming the body
            return f"Read timeout: response from {host} stalled beyond {timeout[1]:g}s ({reason})"
        return f"Connection error with {host}: {reason}"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"{type(exc).__name__}: {_root_reason(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    if type(content_type) is str:  # the same few values on every response
        return _charset_of(content_type)
    return _charset_of.__wrapped__(content_type)


@functools.lru_cache(maxsize=64)
def _charset_of(content_type) -> str | None:
    message = email.message.Message()
    message["Content-Type"] = content_type
    return message.get_content_charset()


def _decode(raw: bytes, content_type: str | None) -> str:
    """Decode a body: declared charset, else UTF-8 (JSON's encoding); never raises."""
    charset = _charset(content_type) or "utf-8"
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # unknown charset name
        return raw.decode("utf-8", errors="replace")


def _read_capped(chunks, cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes of a streamed body given as ``chunks``; return
    ``(bytes, truncated)``. A truncated body is not read further: the rest goes
    with the connection, which the caller closes."""
    buffer = bytearray()
    for chunk in chunks:
        if not chunk:
            continue
        room = cap - len(buffer)
        if len(chunk) > room:
            buffer += chunk[: max(room, 0)]
            return bytes(buffer), True
        buffer += chunk
    return bytes(buffer), False


def _status_error(status: int, reason: str | None, headers, text: str) -> str:
    """``"HTTP 400: Bad Request"`` plus a short excerpt of the body or the redirect target."""
    if not reason:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown status"
    message = f"HTTP {status}: {reason}"
    if 300 <= status < 400 and headers.get("Location"):
        return f"{message} (redirect to {headers['Location']} not followed)"
    excerpt = " ".join(text.split())[:200]
    return f"{message} - {excerpt}" if excerpt else message


def _direct_ok(session) -> bool:
    """True when the session's own settings are all a request needs: no proxy
    from the environment or the session, no auth, no hooks, no session-wide
    query parameters, no cookies in the jar."""
    return (
        not session.trust_env
        and not session.proxies
        and session.auth is None
        and not session.params
        and not any(session.hooks.values())
        and not session.cookies
    )


# --------------------------------------------------------------------------
# The direct path: urllib3 connection pools of the session's own
# --------------------------------------------------------------------------
#
# With no proxy, auth, hooks or cookies, Session.request() and adapter.send()
# spend as long as a small local HTTP exchange on merging settings, building
# PreparedRequest / Response objects and parsing the same URL again and again.
# The direct path sends through urllib3 connection pools that the session keeps
# (urllib3's public HTTPConnectionPool / HTTPSConnectionPool, the same on
# urllib3 1.26 and 2.x; requests' adapter internals differ between versions),
# and rebuilds exactly what requests would have sent and raised: the URL as
# PreparedRequest.prepare_url() makes it (cached), the headers as
# Session.prepare_request() merges them, TLS settings as cert_verify() derives
# them, and requests' exceptions for urllib3's.

# requests >= 2.32 turns a urllib3 SSLError raised while the body is read into
# its own SSLError (older versions let it through), and maps urllib3's
# InvalidHeader in send().
_BODY_SSL_ERRORS: tuple = (
    (_u3.SSLError,) if hasattr(requests.models, "RequestsSSLError") else ()
)
_U3_INVALID_HEADER = getattr(requests.adapters, "_InvalidHeader", None)
_URL_CACHE_SIZE = 256
# Exact types whose query-string form depends on the value alone: a key made
# of them (type included: 1, True and "1" encode differently) identifies the
# prepared URL. Floats are left out (0.0 == -0.0 but they print differently).
_KEY_SCALARS = frozenset({str, bytes, int, bool, type(None)})


class _Target:
    """A URL with its params, prepared once as requests would prepare it."""

    __slots__ = ("auth", "origin", "path_url", "request", "url")

    def __init__(self, url, params):
        request = requests.PreparedRequest()
        request.prepare_url(url, params)  # IDNA, requoting, params after any query
        # Only .url is set: what the adapter reads to pick the pool.
        self.request = request
        self.url = request.url
        self.path_url = request.path_url
        # What picks the pool: scheme and host[:port] (credentials aside).
        parts = urlsplit(self.url)
        self.origin = (parts.scheme.lower(), parts.hostname, parts.port)
        # PreparedRequest.prepare_auth(): credentials in the URL become Basic auth.
        self.auth = None
        user_password = get_auth_from_url(self.url)
        if any(user_password):
            holder = requests.PreparedRequest()
            holder.headers = CaseInsensitiveDict()
            HTTPBasicAuth(*user_password)(holder)
            self.auth = holder.headers["Authorization"]


def _scalar_key(value):
    kind = type(value)
    return (kind, value) if kind in _KEY_SCALARS else None


def _params_key(params):
    """A hashable key equal only for params that encode identically, or None."""
    if params is None:
        return ()
    kind = type(params)
    if kind is str or kind is bytes:
        return (kind, params)
    if kind is dict:
        items = params.items()
    elif kind is list or kind is tuple:
        items = params
    else:
        return None
    pairs = []
    for item in items:
        if type(item) not in (tuple, list) or len(item) != 2:
            return None
        name, value = item
        name_key = _scalar_key(name)
        if type(value) in (list, tuple):
            parts = tuple(_scalar_key(part) for part in value)
            value_key = None if None in parts else (list, parts)
        else:
            value_key = _scalar_key(value)
        if name_key is None or value_key is None:
            return None
        pairs.append((name_key, value_key))
    return (list, tuple(pairs))


def _params_from_key(key):
    """The params a :func:`_params_key` key was made from (pairs as a list)."""
    if key == ():
        return None
    kind, content = key
    if kind is not list:
        return content
    params = []
    for (_nk, name), (vk, value) in content:
        params.append((name, [part for _pk, part in value] if vk is list else value))
    return params


@functools.lru_cache(maxsize=_URL_CACHE_SIZE)
def _cached_target(url: str, params_key) -> _Target:
    return _Target(url, _params_from_key(params_key))


def _target(url, params) -> _Target:
    """The prepared URL for ``url`` and ``params``, from a small LRU cache when
    both are plain values (errors are raised each time, never cached)."""
    if type(url) is str:
        key = _params_key(params)
        if key is not None:
            return _cached_target(url, key)
    return _Target(url, params)


@functools.lru_cache(maxsize=64)
def _timeout(connect: float, read: float):
    # urllib3 clones the Timeout it is given, so one object serves every call.
    return _Timeout(connect=connect, read=read)


_UNCACHED_HEADERS = frozenset({"idempotency-key", "content-length", *signing.HEADERS})


@functools.lru_cache(maxsize=256)
def _valid_header(name: str, value: str) -> bool:
    """requests' check of one header (InvalidHeader if bad); most repeat on every call."""
    check_header_validity((name, value))
    return True


def _wire_headers(session, headers, method, data, auth) -> dict:
    """The headers PreparedRequest.prepare() would send (Host aside).

    Session headers are merged with the request's (case-insensitive, the
    request's spelling and value win, the session's position is kept), None
    values dropped, each header checked as requests checks it, then
    Content-Length and the URL's Basic auth are set.
    """
    session_headers = session.headers
    # Iterating a CaseInsensitiveDict gives the stored spellings, lower_items()
    # the values, both in insertion order; items() would look each key up again.
    merged = {
        lower: (name, value)
        for name, (lower, value) in zip(session_headers, session_headers.lower_items())
    }
    for name, value in headers.items():
        merged[name.lower()] = (name, value)
    for key in [key for key, (_name, value) in merged.items() if value is None]:
        del merged[key]
    for name, value in merged.values():
        # Repeating headers are checked once (cached); credentials and per-call
        # values are not kept in the cache.
        if (type(name) is str and type(value) is str
                and name.lower() not in _UNCACHED_HEADERS
                and not masking.is_sensitive_header(name)):
            _valid_header(name, value)
        else:
            check_header_validity((name, value))
    if data:
        merged["content-length"] = ("Content-Length", str(len(data)))
    elif method not in ("GET", "HEAD") and "content-length" not in merged:
        merged["content-length"] = ("Content-Length", "0")
    if auth is not None:
        merged["authorization"] = ("Authorization", auth)
    return dict(merged.values())


def _adapter_error(exc: BaseException) -> BaseException | None:
    """The requests exception ``HTTPAdapter.send`` raises for ``exc`` coming out
    of ``urlopen`` (None: it lets ``exc`` through), clause for clause."""
    errors = requests.exceptions
    if isinstance(exc, _u3.ProtocolError | OSError):
        return errors.ConnectionError(exc)
    if isinstance(exc, _u3.MaxRetryError):
        reason = exc.reason
        if isinstance(reason, _u3.ConnectTimeoutError) and not isinstance(
            reason, _u3.NewConnectionError
        ):
            return errors.ConnectTimeout(exc)
        if isinstance(reason, _u3.ResponseError):
            return errors.RetryError(exc)
        if isinstance(reason, _u3.ProxyError):
            return errors.ProxyError(exc)
        if isinstance(reason, _u3.SSLError):
            return errors.SSLError(exc)
        return errors.ConnectionError(exc)
    if isinstance(exc, _u3.ClosedPoolError):
        return errors.ConnectionError(exc)
    if isinstance(exc, _u3.ProxyError):
        return errors.ProxyError(exc)
    if isinstance(exc, _u3.SSLError):
        return errors.SSLError(exc)
    if isinstance(exc, _u3.ReadTimeoutError):
        return errors.ReadTimeout(exc)
    if _U3_INVALID_HEADER is not None and isinstance(exc, _U3_INVALID_HEADER):
        return errors.InvalidHeader(exc)
    return None


class InternalTargetRefused(_u3.NewConnectionError):
    """The connection reached an address on this machine or a private network."""

    def __init__(self, conn, message):
        """Keep ``message`` apart: urllib3 prefixes it with the connection's repr."""
        super().__init__(conn, message)
        self.message = message


def _refuse_internal_peer(conn):
    """Close ``conn`` and raise :class:`InternalTargetRefused` when its peer is not public.

    Checked on the connected socket, after the name was resolved for the
    connection itself: a name that pointed elsewhere when it was checked
    (DNS rebinding) is caught here, before a request byte is sent.
    """
    address = conn.sock.getpeername()[0]
    if url_guard.is_internal_address(address):
        conn.close()
        raise InternalTargetRefused(
            conn, f"{conn.host} resolved to {address}, an address on this server or a "
            "private network, which this delivery may not reach"
        )


class _GuardedHTTPConnection(HTTPConnection):
    """An HTTP connection that refuses a peer that is not public."""

    def connect(self):
        """Connect, then refuse an internal peer."""
        result = super().connect()
        _refuse_internal_peer(self)
        return result


class _GuardedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that refuses a peer that is not public."""

    def connect(self):
        """Connect (TLS included: no request byte is sent yet), then refuse an internal peer."""
        result = super().connect()
        _refuse_internal_peer(self)
        return result


def _refusal_in(exc):
    """The :class:`InternalTargetRefused` behind ``exc``, if any."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, InternalTargetRefused):
            return exc
        reason = getattr(exc, "reason", None)
        arg = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = reason if isinstance(reason, BaseException) else arg or exc.__cause__
        seen += 1
    return None


_POOLS_PER_SESSION = 16
_NO_RETRIES = _Retry(0, read=False)


def _tls_settings(verify, cert) -> dict:
    """The connection-pool TLS arguments for a session's ``verify`` and ``cert``,
    as ``HTTPAdapter.cert_verify`` derives them (a missing file is an OSError)."""
    if verify is False:
        settings = {"cert_reqs": "CERT_NONE"}
    else:
        location = verify if isinstance(verify, str) else requests.certs.where()
        if not location or not os.path.exists(location):
            raise OSError(
                f"Could not find a suitable TLS CA certificate bundle, invalid path: {location}"
            )
        settings = {"cert_reqs": "CERT_REQUIRED"}
        settings["ca_cert_dir" if os.path.isdir(location) else "ca_certs"] = location
    if cert:
        cert_file, key_file = (cert, None) if isinstance(cert, str) else (cert[0], cert[1])
        for path in (cert_file, key_file):
            if path and not os.path.exists(path):
                raise OSError(f"Could not find the TLS certificate or key file: {path}")
        settings["cert_file"] = cert_file
        if key_file:
            settings["key_file"] = key_file
    return settings


def _new_pool(origin, verify, cert, guarded=False):
    """A urllib3 connection pool for ``origin`` sized like the session's adapter
    (``guarded``: its connections refuse a peer that is not public)."""
    scheme, host, port = origin
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            host, port, maxsize=POOL_MAXSIZE, block=False, **_tls_settings(verify, cert)
        )
    else:
        pool = urllib3.HTTPConnectionPool(host, port, maxsize=POOL_MAXSIZE, block=False)
    if guarded:
        # ConnectionCls is the pool's documented hook for its connection class.
        pool.ConnectionCls = _GuardedHTTPSConnection if scheme == "https" \
            else _GuardedHTTPConnection
    return pool


def _pool(session, target: _Target, guarded=False):
    """The session's own urllib3 pool for ``target``'s origin and the session's TLS settings.

    Pools are built with urllib3's public constructors and kept on the session
    (at most ``_POOLS_PER_SESSION``, the oldest closed first), so keep-alive
    connections are reused across calls; :func:`close_session_pools` closes them.
    """
    cert = session.cert
    key = (target.origin, session.verify, tuple(cert) if type(cert) is list else cert, guarded)
    pools = session.__dict__.setdefault("_bj_api_sync_pools", {})
    pool = pools.get(key)
    if pool is None:
        pool = _new_pool(target.origin, session.verify, cert, guarded)
        if len(pools) >= _POOLS_PER_SESSION:
            pools.pop(next(iter(pools))).close()
        pools[key] = pool
    return pool


def close_session_pools(session) -> None:
    """Close the connection pools the direct path keeps on ``session``."""
    for pool in session.__dict__.pop("_bj_api_sync_pools", {}).values():
        pool.close()


def _urlopen(session, target: _Target, method, headers, data, timeout, guarded=False):
    """Send through the session's pool for ``target``, as ``HTTPAdapter.send()`` would."""
    pool = _pool(session, target, guarded)
    try:
        return pool.urlopen(
            method,
            target.path_url,
            body=data,
            headers=headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            # As the adapter's Retry(0, read=False): failed connects come
            # wrapped in MaxRetryError, read errors bare, nothing is retried.
            retries=_NO_RETRIES,
            timeout=_timeout(*timeout),
        )
    except Exception as exc:
        mapped = _adapter_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _read_capped_raw(response, cap: int) -> tuple[bytes, bool, bool]:
    """:func:`_read_capped` on a urllib3 response, with the exceptions
    ``Response.iter_content`` raises; returns ``(bytes, truncated, complete)``."""
    try:
        raw, truncated = _read_capped(response.stream(_READ_CHUNK, decode_content=True), cap)
    except _u3.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except _u3.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except _u3.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except _BODY_SSL_ERRORS as exc:
        raise requests.exceptions.SSLError(exc) from exc
    return raw, truncated, not truncated


def _send_direct(session, request, headers, data, timeout, result, cap):
    """Send ``request`` through the session's own urllib3 pool; fill ``result``.

    Returns ``(status, reason, response headers, body bytes)``, or None when
    the URL's adapter is not a plain HTTPAdapter (the caller then uses requests).
    """
    target = _target(request.url, request.params)
    data = data or None  # an empty body is no body (PreparedRequest.prepare_body)
    wire = _wire_headers(session, headers, request.method, data, target.auth)
    # get_adapter() raises requests' InvalidSchema for a URL no adapter serves.
    if type(session.get_adapter(target.url)) is not HTTPAdapter:
        return None  # a custom transport: leave it to requests
    response = _urlopen(session, target, request.method, wire, data, timeout,
                        request.refuse_internal)
    result.url = target.url
    result.sent_headers = wire
    complete = False
    try:
        status = result.status_code = response.status
        response_headers = response.headers
        # One entry per name, repeated headers joined, as requests' CaseInsensitiveDict.
        result.response_headers = {name: response_headers[name] for name in response_headers}
        result.retry_after = policy.parse_retry_after(response_headers.get("Retry-After"))
        raw, result.response_truncated, complete = _read_capped_raw(response, cap)
    finally:
        # As requests.Response.close(): a body not read to its end closes the
        # connection (never back to the pool half-read); then the pool gets its slot back.
        if not complete:
            response.close()
        response.release_conn()
    return status, response.reason, response_headers, raw


def _send_requests(session, request, headers, data, timeout, result, cap):
    """Send ``request`` through ``session.send()`` (proxies, auth, hooks, cookies)."""
    prepared = session.prepare_request(
        requests.Request(
            request.method, request.url, params=request.params, headers=headers, data=data,
        )
    )
    # session.send() skips the environment lookup session.request() does; do
    # it here so proxy / CA settings behave as with requests.
    settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
    settings["stream"] = True
    response = session.send(prepared, timeout=timeout, allow_redirects=False, **settings)
    result.url = prepared.url
    result.sent_headers = dict(prepared.headers)
    try:
        result.status_code = response.status_code
        result.response_headers = dict(response.headers)
        result.retry_after = policy.parse_retry_after(response.headers.get("Retry-After"))
        raw, result.response_truncated = _read_capped(
            response.iter_content(chunk_size=_READ_CHUNK), cap
        )
    finally:
        response.close()
    return response.status_code, response.reason, response.headers, raw


def _sign(request: OutboundRequest, headers: dict, data: bytes | None) -> str | None:
    """Add the Standard Webhooks headers of this attempt to ``headers`` (in place),
    signed over ``data``, the exact body bytes sent; return an error message
    (the secret is not in it) when the secret is unusable, else None.

    The message id is the Idempotency-Key sent (the same on every retry);
    headers of the same names set by the caller are replaced.
    """
    msg_id = next((value for name, value in headers.items()
                   if name.lower() == "idempotency-key"), None)
    if not msg_id:
        msg_id = "msg_" + uuid.uuid4().hex
    try:
        signed = signing.sign(request.signing_secret, msg_id, time.time(), data)
    except signing.SigningSecretError as exc:
        _logger.warning("outbound %s %s not sent: %s", request.method,
                        _host_of(request.url), exc)
        return f"Not sent: {exc}"
    for name in [name for name in headers if name.lower() in signing.HEADERS]:
        del headers[name]
    headers.update(signed)
    return None


def send_once(
    request: OutboundRequest,
    *,
    session: requests.Session | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> AttemptResult:
    """Send one attempt of ``request`` and return a classified :class:`AttemptResult`.

    Never raises for network or HTTP errors (they become ``"retry"`` or
    ``"fail"`` results); an invalid ``request.timeout`` raises ``ValueError``.
    Redirects are not followed (a 3xx is reported as a failure naming the
    target): following them would turn a POST into a GET on 301/302. The
    body is streamed and cut at ``max_response_bytes`` so a huge response
    cannot exhaust memory. ``session`` defaults to :func:`get_session`
    (``"default"``); duration is measured with ``time.monotonic``.
    """
    timeout = normalise_timeout(request.timeout)
    headers, body = prepare(request)
    data = body.encode("utf-8") if body is not None else None
    signing_error = None
    if request.signing_secret:
        signing_error = _sign(request, headers, data)
    result = AttemptResult(
        outcome=policy.FAIL, sent_headers=dict(headers), sent_body=body, url=request.url
    )
    if signing_error:
        result.error = signing_error
        return result
    if session is None:
        session = get_session("default")
    cap = max(int(max_response_bytes), 0)
    start = time.monotonic()
    try:
        answer = None
        if _direct_ok(session):
            answer = _send_direct(session, request, headers, data, timeout, result, cap)
        if answer is None:
            answer = _send_requests(session, request, headers, data, timeout, result, cap)
        status, reason, response_headers, raw = answer
        result.response_text = _decode(raw, response_headers.get("Content-Type"))
        result.outcome = policy.classify_status(status)
        if result.outcome != policy.SUCCESS:
            result.error = _status_error(status, reason, response_headers, result.response_text)
    except _CAUGHT as exc:
        refused = _refusal_in(exc)
        if refused is not None:  # a target we may not reach: not worth a retry
            result.outcome = policy.FAIL
            result.error = f"Delivery refused, nothing was sent: {refused.message}"
        else:
            result.outcome = policy.classify_exception(exc)
            result.error = describe_exception(exc, result.url, timeout)
        _logger.debug(
            "outbound %s %s failed: %s", request.method, _host_of(result.url), result.error
        )
    result.duration_ms = (time.monotonic() - start) * 1000.0
    if _logger.isEnabledFor(logging.DEBUG):  # spares _host_of() on every call
        _logger.debug(
            "outbound %s %s -> %s (%s) in %.1f ms",
            request.method,
            _host_of(result.url),
            result.status_code,
            result.outcome,
            result.duration_ms,
        )
    return result
