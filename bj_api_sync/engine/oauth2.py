"""OAuth2 client credentials (RFC 6749 section 4.4) for outbound configurations.

What is pure about getting a token: the token request (``grant_type=
client_credentials`` and the scope, the client authenticated with
``client_secret_basic`` or ``client_secret_post``, RFC 6749 section 2.3.1), the
reading of the answer (``access_token``, ``token_type``, ``expires_in``,
``scope``; the error answer of section 5.2), the fallback from one client
authentication method to the other, and the token's lifetime. The HTTP goes
through :func:`.http_client.send_once`; where the token is kept (a table shared
by all workers) is the services' business.

Neither the client secret nor a token ever appears in an error message, a
``repr()`` or a log line of this module.
"""
import base64
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlsplit

from . import http_client, masking, policy

_logger = logging.getLogger(__name__)

BASIC = "client_secret_basic"
POST = "client_secret_post"
METHODS = (BASIC, POST)

#: A token is taken as expired this many seconds before the server says.
EARLY_SECONDS = 30.0
#: Lifetime assumed when the answer has no (usable) ``expires_in``: short, so
#: that a token whose lifetime nobody knows is not used for long; a 401 before
#: then fetches a new one anyway.
DEFAULT_EXPIRES_IN = 300
#: The one token type sent (RFC 6750).
BEARER = "Bearer"
#: Longest excerpt of the token server's words kept in a message.
_EXCERPT = 200

# RFC 6750 b64token: what an access token may hold to travel in a header.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
# Errors of a refused client authentication: the other method is worth a try.
_CLIENT_AUTH_ERRORS = frozenset({"invalid_client", "invalid_request", "unauthorized_client"})


class TokenError(Exception):
    """A token could not be obtained; ``str()`` is a message fit for a log.

    ``retryable`` is True when trying again later may help (token server
    unreachable, 5xx, 429, 408), like a connection error of the API itself;
    ``retry_after`` is the token server's ``Retry-After`` in seconds, if any.
    ``status`` is the token server's HTTP status (None: no answer), ``error``
    its OAuth2 error code.
    """

    def __init__(self, message, *, retryable=False, status=None, error=None, retry_after=None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.error = error
        self.retry_after = retry_after

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class ClientCredentials:
    """Where and how a config asks for tokens; the secret is kept out of ``repr()``."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = ""


@dataclass
class Token:
    """A token as the server answered it, with what :func:`describe` tells of it.

    ``expires_in`` and ``scope`` are as the server said (None when it did not
    say); ``lifetime`` is the seconds the token is counted valid from
    ``obtained_at`` (``expires_in`` or :data:`DEFAULT_EXPIRES_IN`);
    ``method`` the client authentication that worked.
    """

    access_token: str = field(repr=False)
    token_type: str = BEARER
    expires_in: int | None = None
    scope: str | None = None
    method: str = BASIC
    status: int = 200
    obtained_at: float = 0.0
    lifetime: float = DEFAULT_EXPIRES_IN
    fallback_from: str | None = None

    @property
    def expires_at(self) -> float:
        """Epoch seconds from which the token is no longer used (early, see :func:`expiry`)."""
        return expiry(self.obtained_at, self.lifetime)

    def describe(self) -> str:
        """What the token server answered, without the token: status, type, lifetime,
        scope and the client authentication used."""
        if self.expires_in is None:
            lifetime = f"no expires_in (kept {int(self.lifetime)} s)"
        else:
            lifetime = f"expires_in {self.expires_in} s"
        scope = f"scope {self.scope!r}" if self.scope else "no scope in the answer"
        method = self.method
        if self.fallback_from:
            method = f"{self.method}, after {self.fallback_from} was refused"
        return f"HTTP {self.status}, token_type {self.token_type}, {lifetime}, {scope} ({method})"


# --------------------------------------------------------------------- arithmetic
MAX_LIFETIME_SECONDS = 365 * 86400


def margin(lifetime: float) -> float:
    """Seconds before the server's expiry at which a token is dropped: 30, or half the
    lifetime for tokens living a minute or less (so a short token is still used)."""
    return min(EARLY_SECONDS, max(float(lifetime), 0.0) / 2.0)


def expiry(obtained_at: float, lifetime: float) -> float:
    """Epoch seconds until which a token obtained at ``obtained_at`` is used."""
    return obtained_at + float(lifetime) - margin(lifetime)


def parse_expires_in(value) -> int | None:
    """``expires_in`` of an answer as whole seconds, or None when absent or unusable
    (not a number, or not positive). RFC 6749 says a number; strings of digits
    are accepted, as some servers send them."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"\d+(\.\d+)?", value):
            return None
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    # A server's "forever" (1e12 s) would make an expiry past the year 9999,
    # which no datetime holds: a year is as good as forever for a cache.
    return min(int(value), MAX_LIFETIME_SECONDS)


# ------------------------------------------------------------------ the request
def form_encode(value: str) -> str:
    """``application/x-www-form-urlencoded`` encoding of one value (RFC 6749 appendix B),
    as client_secret_basic requires before the id and secret are joined."""
    return quote_plus(value or "", safe="")


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of client_secret_basic (RFC 6749 section 2.3.1):
    Basic over the form-urlencoded id and secret, so a ``:`` in the id survives."""
    pair = f"{form_encode(client_id)}:{form_encode(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def token_request(credentials: ClientCredentials, method: str = BASIC):
    """Return ``(headers, form)`` of the token request with client authentication
    ``method``: ``grant_type=client_credentials``, the scope when there is one, and
    the client's id and secret in the Authorization header (basic) or in the form
    (post)."""
    if method not in METHODS:
        raise ValueError(f"unknown client authentication {method!r}; expected one of "
                         f"{', '.join(METHODS)}")
    form = [("grant_type", "client_credentials")]
    scope = (credentials.scope or "").strip()
    if scope:
        form.append(("scope", scope))
    headers = {"Accept": "application/json"}
    if method == BASIC:
        headers["Authorization"] = basic_authorization(credentials.client_id,
                                                       credentials.client_secret)
    else:
        form += [("client_id", credentials.client_id),
                 ("client_secret", credentials.client_secret)]
    return headers, form


def safe_url(url: str) -> str:
    """The token URL for messages: no userinfo, query parameters masked."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return "?"
    netloc = parts.netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else (url or "")
    if parts.query:
        shown += "?" + masking.mask_url("http://x/?" + parts.query).partition("?")[2]
    return shown


# ------------------------------------------------------------------- the answer
def _excerpt(text) -> str:
    return " ".join(str(text or "").split())[:_EXCERPT]


def _failure(url, text, secrets, **kw) -> TokenError:
    message = f"OAuth2 token request to {safe_url(url)} failed: {text}"
    return TokenError(masking.mask_text(message, secrets), **kw)


def parse_token_response(status, body: str, *, url="", method=BASIC, secrets=(), now=None,
                         retry_after=None) -> Token:
    """Read the token server's answer ``status`` / ``body`` (text); return the Token.

    A non-2xx answer, an ``error`` in the answer, no ``access_token``, an
    access token that cannot travel in a header or a ``token_type`` other than
    Bearer raise :class:`TokenError`, whose message names the URL, the status
    and the server's ``error`` / ``error_description`` (masked with
    ``secrets``: never the client secret). 408, 425, 429 and 5xx are retryable.
    A missing ``token_type`` is taken as Bearer; a missing or unusable
    ``expires_in`` gives :data:`DEFAULT_EXPIRES_IN`.
    """
    now = time.time() if now is None else now
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = None
    error = data.get("error") if data else None
    ok = 200 <= (status or 0) < 300
    if not ok or error:
        # As the API's own answers: 408, 425, 429 and 5xx are worth another try,
        # and so is the one OAuth2 error that says so.
        retryable = ((not ok and policy.classify_status(status) == policy.RETRY)
                     or error == "temporarily_unavailable")
        if error:
            description = data.get("error_description") or ""
            text = f"{status} {_excerpt(error)}"
            if description:
                text += f": {_excerpt(description)}"
        else:
            text = f"HTTP {status}"
            if body:
                text += f" - {_excerpt(body)}"
        if status in (400, 401) and method:
            text += f" ({method})"
        raise _failure(url, text, secrets, retryable=retryable, status=status,
                       error=str(error) if error else None, retry_after=retry_after)
    if data is None:
        raise _failure(url, f"HTTP {status}, but the answer is not a JSON object: "
                       f"{_excerpt(body) or '(empty)'}", secrets, status=status)
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise _failure(url, f"HTTP {status}, but the answer has no access_token "
                       f"(keys: {', '.join(sorted(map(str, data))) or 'none'})",
                       secrets, status=status)
    token = token.strip()
    if not _B64TOKEN.match(token):
        raise _failure(url, "the access_token holds characters a header cannot carry",
                       (*_as_tuple(secrets), token), status=status)
    token_type = data.get("token_type")
    token_type = token_type.strip() if isinstance(token_type, str) and token_type.strip() \
        else BEARER
    if token_type.lower() != "bearer":
        raise _failure(url, f"token_type {_excerpt(token_type)!r} is not supported (only "
                       "Bearer)", (*_as_tuple(secrets), token), status=status)
    expires_in = parse_expires_in(data.get("expires_in"))
    scope = data.get("scope")
    scope = scope if isinstance(scope, str) and scope else None
    return Token(
        access_token=token, token_type=BEARER, expires_in=expires_in, scope=scope,
        method=method, status=status, obtained_at=now,
        lifetime=float(expires_in if expires_in is not None else DEFAULT_EXPIRES_IN),
    )


def _as_tuple(secrets) -> tuple:
    if isinstance(secrets, str | bytes):
        return (secrets,)
    return tuple(secrets or ())


def refused_client(exc: TokenError) -> bool:
    """Whether a token error says the client authentication was refused, so that the
    other method is worth one try: 401, or 400 with ``invalid_client`` /
    ``invalid_request`` / ``unauthorized_client`` (servers that only read the id
    from the form answer "missing client_id" to client_secret_basic)."""
    if exc.status == 401:
        return True
    return exc.status == 400 and (exc.error or "") in _CLIENT_AUTH_ERRORS


def _basic_values(headers: dict) -> list[str]:
    """The Authorization header's value and its base64 part, if any."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    return [value, value.split(" ", 1)[-1]] if value else []


def other_method(method: str) -> str:
    """The client authentication method that is not ``method``."""
    return POST if method == BASIC else BASIC


# -------------------------------------------------------------------- fetching
def request_once(credentials: ClientCredentials, method=BASIC, *, session=None,
                 timeout=None, refuse_internal=False, now=None) -> Token:
    """Ask the token server once with client authentication ``method``; return the
    Token or raise :class:`TokenError` (an unreachable server is retryable)."""
    headers, form = token_request(credentials, method)
    request = http_client.OutboundRequest(
        method="POST", url=credentials.token_url, headers=headers, form_body=form,
        timeout=timeout or http_client.DEFAULT_TIMEOUT, refuse_internal=refuse_internal,
    )
    # A server may echo what it got: the secret, its form encoding, the Basic value.
    secrets = tuple(value for value in {credentials.client_secret,
                                        form_encode(credentials.client_secret or ""),
                                        *_basic_values(headers)} if value)
    start = time.time() if now is None else now
    result = http_client.send_once(request, session=session)
    if result.status_code is None:
        raise _failure(credentials.token_url, result.error or "no answer", secrets,
                       retryable=result.outcome == policy.RETRY)
    return parse_token_response(result.status_code, result.response_text,
                                url=credentials.token_url, method=method, secrets=secrets,
                                now=start, retry_after=result.retry_after)


def fetch_token(credentials: ClientCredentials, method=None, *, session=None, timeout=None,
                refuse_internal=False, now=None) -> Token:
    """Obtain a token, starting with client authentication ``method`` (default
    client_secret_basic, RFC 6749's must-support); when the server refuses the
    client that way (see :func:`refused_client`), try the other method once.
    The Token's ``method`` says which one worked (the caller remembers it).
    Raises :class:`TokenError`; after two refusals its message is the second
    answer, saying both methods were tried.
    """
    method = method if method in METHODS else BASIC
    try:
        return request_once(credentials, method, session=session, timeout=timeout,
                            refuse_internal=refuse_internal, now=now)
    except TokenError as exc:
        if not refused_client(exc):
            raise
        first = exc
    second = other_method(method)
    _logger.info("OAuth2 token server %s refused %s (HTTP %s); trying %s",
                 safe_url(credentials.token_url), method, first.status, second)
    try:
        token = request_once(credentials, second, session=session, timeout=timeout,
                             refuse_internal=refuse_internal, now=now)
    except TokenError as exc:
        if refused_client(exc):
            exc.message = f"{exc.message}; {method} was refused too (HTTP {first.status})"
        raise
    token.fallback_from = method
    return token
