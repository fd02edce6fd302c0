"""Keep secrets out of ``bj.api.log`` and cap what is stored there.

Every header, URL and body written to the log goes through these functions.
Masking is by name (sensitive headers, JSON / query / form keys) and by value
(the config's own secrets, passed as ``secrets``). All functions return new
objects and never modify their input; all are idempotent (masking twice gives
the same text).
"""
from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

_logger = logging.getLogger(__name__)

MASK = "********"

#: Header names (lower-case) whose values are always masked.
SENSITIVE_HEADERS = frozenset({
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-apikey",
    "x-auth-token",
    "x-access-token",
    "x-refresh-token",
    "x-odoo-api-key",
    "x-client-secret",
    "x-csrf-token",
    "x-xsrf-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "ocp-apim-subscription-key",
    "private-token",
    "x-shopify-access-token",
})

#: JSON / query / form keys (lower-case) whose values are always masked.
SENSITIVE_KEYS = frozenset({
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "api-key",
    "client_secret",
    "bearer_token",
    "auth_password",
    "authorization",
    "private_key",
    "header_value",  # the webhook API's custom authentication header value
    "x-api-key",
})

# Name fragments that make any key / header sensitive even when it is not in
# the lists above ("new_password", "webhook_secret", "X-Vendor-Token" ...).
_KEY_FRAGMENTS = ("password", "passwd", "secret", "apikey", "api_key")
_KEY_SUFFIXES = ("_token", "token")
_HEADER_FRAGMENTS = ("token", "secret", "passw", "apikey", "api-key", "api_key")

# A key can only be sensitive if one of these words appears in it
# (case-insensitive): one scan of a large body then spares the per-pair checks
# below. Words that contain another word add nothing and are left out.
_KEY_HINTS = frozenset(SENSITIVE_KEYS) | frozenset(_KEY_FRAGMENTS) | {
    "token", "pwd", "api-key", "apikey"}
# Likewise for header names (``Name: value`` lines in free text).
_HEADER_HINTS = SENSITIVE_HEADERS | frozenset(_HEADER_FRAGMENTS)


def _minimal_words(words) -> tuple:
    kept: list = []
    for word in sorted(words, key=lambda w: (len(w), w)):
        if not any(shorter in word for shorter in kept):
            kept.append(word)
    return tuple(kept)


# "passw" stands for "passwd" and "password" (a hint may be broader than the
# words: it only decides whether the exact checks run). Each gate's words are
# a subset of the shared list, so one scan per word serves both gates.
_KEY_HINT_WORDS = _minimal_words(_KEY_HINTS | {"passw"})
_HEADER_HINT_WORDS = _minimal_words(_HEADER_HINTS)
_HINT_WORDS = _minimal_words(_KEY_HINT_WORDS + _HEADER_HINT_WORDS)
_KEY_HINT_SET = frozenset(_KEY_HINT_WORDS)
_HEADER_HINT_SET = frozenset(_HEADER_HINT_WORDS)


def _fold(text: str) -> str:
    """``text`` case-folded so that a plain substring test of a lower-case ASCII
    word finds at least what ``re.IGNORECASE`` would: casefold() maps every
    other character re equates with an ASCII letter (K, ſ ...) to that letter,
    except the Turkish dotted and dotless I."""
    folded = text.casefold()
    if not folded.isascii():
        if "\u0131" in folded:  # dotless i stays itself under casefold()
            folded = folded.replace("\u0131", "i")
        if "\u0307" in folded:  # capital dotted I folds to "i" + combining dot
            folded = folded.replace("i\u0307", "i")
    return folded


# Secrets shorter than this are only masked where they are a whole value:
# replacing e.g. "abc" everywhere would shred the log.
_MIN_SECRET_LEN = 4

# A value such as "Bearer abc" keeps its scheme word ("Bearer ********").
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9._-]{0,39})[ \t]+\S")

# Structural patterns for free text (form bodies, error messages, python
# reprs, header dumps). Compiled once; masking runs per request, not per record.
_FORM_RE = re.compile(r"(?P<k>[A-Za-z0-9_.\-\[\]]+)=(?P<v>[^&\s\"'<>;]*)")
_QUOTED_RE = re.compile(
    r"""(?P<q>["'])(?P<k>[A-Za-z0-9_.\- ]{1,100})(?P=q)\s*:\s*"""
    r"""(?P<v>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,}\]\s]+)"""
)
_HEADER_LINE_RE = re.compile(r"(?m)^(?P<k>[A-Za-z0-9_\-]+)[ \t]*:[ \t]*(?P<v>[^\r\n]*)$")
_AUTH_RE = re.compile(r"(?i)\b(?P<s>bearer|basic)[ \t]+(?P<v>[A-Za-z0-9\-._~+/]{8,}=*)")


def is_sensitive_key(name) -> bool:
    """Whether a JSON / query / form key names a secret (case-insensitive)."""
    if not isinstance(name, str):
        return False
    return _sensitive_key(name)


# Payload keys repeat across thousands of records: remember the verdicts.
@functools.lru_cache(maxsize=4096)
def _sensitive_key(name: str) -> bool:
    low = name.lower()
    if low in SENSITIVE_KEYS:
        return True
    low = low.replace("-", "_")
    return (
        low in SENSITIVE_KEYS
        or any(f in low for f in _KEY_FRAGMENTS)
        or low.endswith(_KEY_SUFFIXES)
    )


def is_sensitive_header(name) -> bool:
    """Whether an HTTP header name carries credentials (case-insensitive)."""
    if not isinstance(name, str):
        return False
    return _sensitive_header(name)


# Header names repeat on every request: remember the verdicts.
@functools.lru_cache(maxsize=1024)
def _sensitive_header(name: str) -> bool:
    low = name.strip().lower()
    return low in SENSITIVE_HEADERS or any(f in low for f in _HEADER_FRAGMENTS)


class _Secrets:
    """Secrets normalised once per call: long ones for substring replacement."""

    __slots__ = ("all", "long")

    def __init__(self, secrets):
        if isinstance(secrets, _Secrets):
            self.long, self.all = secrets.long, secrets.all
            return
        if isinstance(secrets, str | bytes):
            # A single secret, not an iterable of characters.
            secrets = (secrets,)
        values = set()
        for secret in secrets or ():
            if isinstance(secret, bytes):
                secret = secret.decode("utf-8", errors="replace")
            if isinstance(secret, str) and secret and secret != MASK:
                values.add(secret)
        self.all = frozenset(values)
        # Longest first so that a secret containing another is masked whole.
        self.long = tuple(sorted((s for s in values if len(s) >= _MIN_SECRET_LEN),
                                 key=len, reverse=True))


# Secret types whose tuples are hashed for the cache below (the same config
# secrets come with every log line of a run).
_SECRET_CONTAINERS = (tuple, str, bytes, frozenset)


def _secrets(secrets) -> _Secrets:
    """``_Secrets(secrets)``, built once per distinct tuple of secrets."""
    if isinstance(secrets, _Secrets):
        return secrets
    if type(secrets) in _SECRET_CONTAINERS:
        try:
            return _cached_secrets(secrets)
        except TypeError:  # an unhashable item: built below, not cached
            _logger.debug("secrets not cacheable, built for this call")
    return _Secrets(secrets)


@functools.lru_cache(maxsize=64)
def _cached_secrets(secrets) -> _Secrets:
    return _Secrets(secrets)


def _mask_scheme(value: str) -> str:
    """Mask a credential value, keeping a leading scheme word (Bearer, Basic ...)."""
    match = _SCHEME_RE.match(value)
    if match:
        return f"{match.group(1)} {MASK}"
    return MASK


def _contains_secret(value: str, secrets: _Secrets) -> bool:
    if value in secrets.all:
        return True
    return any(s in value for s in secrets.long)


def _header_items(headers):
    if type(headers) is dict:
        return headers.items()
    if headers is None:
        return []
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        return list(headers.items())
    return [tuple(pair) for pair in headers]


def _header_value(value) -> str:
    if isinstance(value, bytes):
        # HTTP header bytes are latin-1 by definition.
        return value.decode("latin-1")
    return "" if value is None else str(value)


def mask_headers(headers, secrets=()) -> dict:
    """Return a masked copy of ``headers`` (dict, list of pairs or CaseInsensitiveDict).

    Sensitive header values become ``MASK`` (``"Bearer ********"`` when the
    value starts with a scheme word); so does any header whose value equals or
    contains one of ``secrets``. Repeated names in a list of pairs are joined
    with ``", "``. Original key spelling is kept.
    """
    sec = _secrets(secrets)
    any_secret = bool(sec.all)  # sec.long is a subset of sec.all
    out: dict = {}
    for name, value in _header_items(headers):
        if type(name) is not str:
            name = _header_value(name)
        text = value if type(value) is str else _header_value(value)
        if text and (
            _sensitive_header(name) or (any_secret and _contains_secret(text, sec))
        ):
            text = _mask_scheme(text)
        out[name] = f"{out[name]}, {text}" if name in out else text
    return out


def dumps_headers(headers, secrets=()) -> str:
    """Render headers as ``"Key: value"`` lines for the log, masked.

    Masking happens here (with ``secrets`` as in :func:`mask_headers`), so a
    caller cannot forget it; masking already-masked headers changes nothing.
    """
    return "\n".join(f"{k}: {v}" for k, v in mask_headers(headers, secrets).items())


def mask_url(url, secrets=()) -> str:
    """Mask credentials in a URL.

    Query parameters with sensitive names or whose (decoded) value is one of
    ``secrets`` get ``MASK`` as value, a password in the userinfo
    (``https://user:pw@host``) is masked, and secrets anywhere else in the URL
    are replaced. The rest of the URL is kept byte for byte.
    """
    if not url:
        return ""
    url = str(url)
    sec = _secrets(secrets)
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url, sec)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _sep, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        if user and unquote_plus(user) in sec.all:
            user = MASK
        netloc = f"{user}:{MASK}@{host}" if colon else f"{user}@{host}"
    query = parts.query
    if query:
        pieces = []
        for piece in query.split("&"):
            name, eq, value = piece.partition("=")
            if eq and value and (is_sensitive_key(unquote_plus(name))
                                 or unquote_plus(value) in sec.all):
                value = MASK
            pieces.append(f"{name}{eq}{value}")
        query = "&".join(pieces)
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    # urlunsplit drops an empty "?" or "#"; keep the original when nothing
    # changed so the log shows exactly what was sent.
    if netloc == parts.netloc and query == parts.query:
        rebuilt = url
    return _replace_secrets(rebuilt, sec)


def _replace_secrets(text: str, sec: _Secrets) -> str:
    if text in sec.all:
        return MASK
    for secret in sec.long:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _sub_sensitive(pattern, text: str, sensitive, repl) -> str:
    """``pattern.sub(repl, text)`` for a ``repl`` that keeps every match whose
    ``k`` group is not ``sensitive``: the same scan, but Python code runs only
    for the (few) sensitive matches, not for every key of a large body."""
    parts = []
    last = 0
    for match in pattern.finditer(text):
        if sensitive(match.group("k")):
            parts.append(text[last:match.start()])
            parts.append(repl(match))
            last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _form_sub(match):
    if match.group("v") and is_sensitive_key(match.group("k")):
        return f"{match.group('k')}={MASK}"
    return match.group(0)


def _quoted_sub(match):
    if not is_sensitive_key(match.group("k")):
        return match.group(0)
    value = match.group("v")
    if value in ('""', "''", "null", "None", "false", "False"):
        return match.group(0)
    quote = value[0] if value[0] in "\"'" else ""
    head = match.group(0)[: match.start("v") - match.start(0)]
    return f"{head}{quote}{MASK}{quote}"


def _header_line_sub(match):
    if match.group("v") and is_sensitive_header(match.group("k")):
        head = match.group(0)[: match.start("v") - match.start(0)]
        return f"{head}{_mask_scheme(match.group('v'))}"
    return match.group(0)


def mask_text(text, secrets=()) -> str:
    """Mask secrets in free text (non-JSON bodies, error messages).

    Every occurrence of a secret of 4+ characters is replaced by ``MASK``
    (longest first); a text that *is* a secret is masked whatever its length.
    Values of sensitive keys in ``key=value`` (form / query), ``"key": value``
    (JSON fragments, python reprs) and ``Header: value`` lines, and
    ``Bearer`` / ``Basic`` credentials, are masked too.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    return _mask_text(text, _secrets(secrets))


def _mask_text(text: str, sec: _Secrets) -> str:
    text = _replace_secrets(text, sec)
    if text == MASK:
        return text
    # Cheap membership tests first: most strings have none of these shapes.
    # The patterns below only change a value whose key / header name is
    # sensitive, and such a name contains one of the hint words.
    folded = _fold(text)
    equals = "=" in text
    colon = ":" in text
    if equals or colon:
        found = [word for word in _HINT_WORDS if word in folded]
        if found:
            key_hint = not _KEY_HINT_SET.isdisjoint(found)
            if key_hint and equals:
                text = _sub_sensitive(_FORM_RE, text, _sensitive_key, _form_sub)
            if colon:
                if key_hint and ('"' in text or "'" in text):
                    text = _sub_sensitive(_QUOTED_RE, text, _sensitive_key, _quoted_sub)
                if not _HEADER_HINT_SET.isdisjoint(found):
                    text = _sub_sensitive(
                        _HEADER_LINE_RE, text, _sensitive_header, _header_line_sub
                    )
    # Credentials after a scheme word, in any letter case ("BeArEr abc...").
    if "earer" in folded or "asic" in folded:
        text = _AUTH_RE.sub(lambda m: f"{m.group('s')} {MASK}", text)
    return text


def _mask_value(value, sec):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is not None and item != "" and is_sensitive_key(key):
                out[key] = MASK
            else:
                out[key] = _mask_value(item, sec)
        return out
    if isinstance(value, list | tuple):
        return [_mask_value(item, sec) for item in value]
    if isinstance(value, str):
        return _mask_text(value, sec)
    return value


def mask_json(value, secrets=()) -> Any:
    """Return a deep copy of a JSON value with secrets masked.

    Non-empty values under sensitive keys (at any depth, whatever their type)
    become ``MASK``; strings elsewhere go through :func:`mask_text`. Tuples
    come back as lists; other scalars are returned as they are.
    """
    return _mask_value(value, _secrets(secrets))


def _looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample boundary is not binary.
        return exc.start < len(sample) - 4
    return False


def mask_body(body, secrets=(), limit=None) -> str:
    """Render a request / response body for the log: masked, then truncated.

    ``body`` may be str, bytes, dict, list or None. JSON (a dict/list, or text
    that parses as a JSON object/array) is masked with :func:`mask_json` and
    dumped compactly; other text goes through :func:`mask_text`. Bytes are
    decoded as UTF-8 (errors replaced); binary content is replaced by a
    ``<binary data: N bytes>`` note. NUL characters, which PostgreSQL text
    columns reject, are removed. Masking happens before truncation so a
    secret is never cut in half.
    """
    if body is None:
        return ""
    sec = _secrets(secrets)
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if isinstance(body, bytes):
        if _looks_binary(body):
            return f"<binary data: {len(body)} bytes>"
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, dict | list | tuple):
        text = _dump(mask_json(body, sec))
    elif isinstance(body, str):
        text = None
        stripped = body.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            else:
                text = _dump(mask_json(parsed, sec))
        if text is None:
            text = mask_text(body, sec)
    else:
        text = mask_text(str(body), sec)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return truncate(text, limit)


def _dump(value) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError) as exc:
        # Circular or otherwise undumpable structures: still log something.
        _logger.debug("body not JSON-serialisable for the log: %s", exc)
        return str(value)


def truncate(text, limit) -> str:
    """Cut ``text`` to ``limit`` characters, noting how many were dropped.

    ``limit`` None or <= 0 means unlimited. The note is
    ``"\\n… [truncated N characters]"``.
    """
    if text is None:
        return ""
    if not limit or limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [truncated {len(text) - limit} characters]"

