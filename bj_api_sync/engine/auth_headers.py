"""Authentication headers: building them for outbound calls, reading them inbound.

Outbound, a config's ``auth_type`` (``none`` / ``basic`` / ``bearer`` /
``custom`` / ``oauth2``) becomes an ``Authorization`` header (for ``oauth2``,
the Bearer header of the access token obtained by :mod:`.oauth2`). Inbound, an ``Authorization``
header is parsed back into its parts, and secrets are compared in constant time.
"""

import base64
import binascii
import hashlib
import hmac
import logging
import re

_logger = logging.getLogger(__name__)

AUTH_TYPES = ("none", "basic", "bearer", "custom", "oauth2")

# Header values must not contain control characters: a CR/LF in a secret would
# let a stored credential inject extra headers into the request.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BEARER_PREFIX = re.compile(r"^\s*bearer\s+", re.IGNORECASE)


class AuthConfigError(ValueError):
    """The authentication settings of a config cannot produce a valid header."""


def _text(value) -> str:
    """Odoo Char fields are ``False`` when empty: turn None/False into ``""``."""
    if value is None or value is False:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def build_auth_headers(auth_type: str | None, *, login=None, password=None, token=None) -> dict:
    """Return the headers that authenticate an outbound request.

    ``"none"`` (or an empty value) and ``"custom"`` give ``{}`` (custom
    credentials travel in the config's Headers tab); ``"basic"`` gives
    ``Authorization: Basic base64(login:password)`` (UTF-8); ``"bearer"`` gives
    ``Authorization: Bearer <token>``; ``"oauth2"`` gives the Bearer header of
    ``token`` (the access token of the moment) and ``{}`` while there is none
    yet. Raises :class:`AuthConfigError` when basic has no login, bearer has no
    token, or the type is unknown.
    """
    kind = _text(auth_type).strip().lower() or "none"
    if kind in ("none", "custom"):
        return {}
    if kind == "oauth2":
        if not _text(token).strip():
            return {}
        kind = "bearer"
    if kind == "basic":
        login = _text(login)
        password = _text(password)
        if not login:
            raise AuthConfigError("Basic authentication needs a login (auth_login is empty).")
        if ":" in login:
            # RFC 7617: the user-id cannot contain a colon, the server would split it wrongly.
            raise AuthConfigError("Basic authentication login must not contain ':'.")
        if _CONTROL.search(login) or _CONTROL.search(password):
            raise AuthConfigError(
                "Basic authentication login/password must not contain control characters."
            )
        encoded = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}
    if kind == "bearer":
        # Pasting "Bearer xyz" instead of "xyz" is a common slip; do not send "Bearer Bearer xyz".
        token = _BEARER_PREFIX.sub("", _text(token)).strip()
        if not token:
            raise AuthConfigError("Bearer authentication needs a token (bearer_token is empty).")
        if _CONTROL.search(token) or " " in token:
            raise AuthConfigError("Bearer token must not contain spaces or control characters.")
        return {"Authorization": f"Bearer {token}"}
    raise AuthConfigError(
        f"Unknown authentication type {auth_type!r}; expected one of {', '.join(AUTH_TYPES)}."
    )


def parse_authorization(header_value: str | None) -> tuple[str, ...] | None:
    """Parse an inbound ``Authorization`` header.

    ``"Bearer abc"`` gives ``("bearer", "abc")``; ``"Basic <base64>"`` gives
    ``("basic", login, password)``. The scheme is case-insensitive. Anything
    else (other schemes, missing credentials, invalid base64, no colon) gives
    ``None``.
    """
    if not header_value or not isinstance(header_value, str):
        return None
    parts = header_value.strip().split()
    if len(parts) != 2:
        return None
    scheme, credentials = parts[0].lower(), parts[1]
    if scheme == "bearer":
        return ("bearer", credentials)
    if scheme != "basic":
        return None
    # Some clients drop the base64 padding; restore it rather than reject them.
    padded = credentials + "=" * (-len(credentials) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        # RFC 7617 leaves the charset open; legacy clients send ISO-8859-1.
        decoded = raw.decode("latin-1")
    if ":" not in decoded:
        return None
    login, password = decoded.split(":", 1)
    return ("basic", login, password)


def secrets_equal(a, b) -> bool:
    """Compare two secrets in constant time; ``False`` if either is None/empty.

    Both values are hashed (SHA-256 of their UTF-8 bytes) before
    ``hmac.compare_digest`` so that not even the length of the stored secret
    leaks through timing.
    """
    if not a or not b:
        return False
    a_bytes = a if isinstance(a, bytes) else str(a).encode("utf-8")
    b_bytes = b if isinstance(b, bytes) else str(b).encode("utf-8")
    return hmac.compare_digest(hashlib.sha256(a_bytes).digest(), hashlib.sha256(b_bytes).digest())
