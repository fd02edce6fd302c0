"""Error envelope, trace ids and the ``ApiError`` exception of the inbound API.

Every answer of ``/api/sync/v1`` is JSON. Failures are raised anywhere in the
engine as :class:`ApiError` and turned into the envelope below by the
controller, which also sets the HTTP status and the extra headers carried by
the exception::

    {"success": false,
     "error": {"code": "...", "message": "...", "details": {...}, "trace_id": "req_..."}}
"""
import enum
import re
import secrets


class ErrorCode(str, enum.Enum):
    """The error codes of the contract, each with its HTTP status.

    A code that is not one of these cannot make an :class:`ApiError` (it raises
    ``ValueError``), and the pure tier checks every literal code in the addon.
    """

    AUTHENTICATION_ERROR = ("AUTHENTICATION_ERROR", 401)
    PERMISSION_DENIED = ("PERMISSION_DENIED", 403)
    NOT_FOUND = ("NOT_FOUND", 404)
    METHOD_NOT_ALLOWED = ("METHOD_NOT_ALLOWED", 405)
    VALIDATION_ERROR = ("VALIDATION_ERROR", 400)
    DUPLICATE_RECORD = ("DUPLICATE_RECORD", 409)
    PAYLOAD_TOO_LARGE = ("PAYLOAD_TOO_LARGE", 413)
    RATE_LIMIT_EXCEEDED = ("RATE_LIMIT_EXCEEDED", 429)
    INTERNAL_ERROR = ("INTERNAL_ERROR", 500)
    # Inbound Idempotency-Key (CONTRACT section 5); after the others, so that
    # 409 still reads DUPLICATE_RECORD first where a status names one code.
    IDEMPOTENCY_KEY_REUSED = ("IDEMPOTENCY_KEY_REUSED", 422)
    IDEMPOTENCY_KEY_IN_USE = ("IDEMPOTENCY_KEY_IN_USE", 409)

    def __new__(cls, code, status):
        """Members are their code (a str); ``status`` is the HTTP status."""
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        return member


#: The HTTP status of each code.
STATUS_BY_CODE = {member.value: member.status for member in ErrorCode}

# A client-supplied X-Request-Id ends up in logs and response headers: only a
# short, header-safe token with our prefix is trusted.
_TRACE_ID_RE = re.compile(r"req_[A-Za-z0-9_-]{8,64}")


class ApiError(Exception):
    """An API failure that maps to one error code, HTTP status and envelope.

    ``code`` is an :class:`ErrorCode` or its name (anything else raises
    ``ValueError``); ``status`` defaults to the code's. ``headers`` are extra response headers,
    e.g. ``{"Allow": "GET, POST"}``, ``{"Retry-After": "30"}`` or
    ``{"WWW-Authenticate": 'Bearer realm="bj_api_sync"'}``.
    """

    def __init__(self, code, message, details=None, status=None, headers=None):
        """Store the error code, human message, details dict, status and headers."""
        super().__init__(message)
        member = ErrorCode(code)
        self.code = member.value
        self.message = message
        self.details = dict(details or {})
        self.status = status if status is not None else member.status
        self.headers = dict(headers or {})

    def __repr__(self):
        """Return a debugging representation with code, status and message."""
        return f"ApiError({self.code!r}, {self.message!r}, status={self.status})"

    @classmethod
    def validation(cls, message, **details):
        """A ``VALIDATION_ERROR`` (400) with ``details`` as given."""
        return cls(ErrorCode.VALIDATION_ERROR, message, details)

    def to_body(self, trace_id):
        """Return the JSON error envelope of this error for ``trace_id``."""
        return error_body(self.code, self.message, self.details, trace_id)


def new_trace_id():
    """Return a fresh random trace id: ``"req_"`` followed by 24 lowercase hex chars."""
    return "req_" + secrets.token_hex(12)


def is_valid_trace_id(value):
    """Tell whether ``value`` may be reused as trace id (client ``X-Request-Id``).

    Valid: a ``str`` made of ``"req_"`` and 8 to 64 characters among
    ``A-Z a-z 0-9 _ -``.
    """
    return isinstance(value, str) and _TRACE_ID_RE.fullmatch(value) is not None


def error_body(code, message, details=None, trace_id=""):
    """Return the error envelope; ``details`` is always a dict (``{}`` when none)."""
    return {
        "success": False,
        "error": {
            "code": code,
            "message": message,
            "details": dict(details or {}),
            "trace_id": trace_id,
        },
    }

