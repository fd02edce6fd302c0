"""Turn exceptions raised while serving an inbound call into ``ApiError``.

``ApiError`` passes through. Odoo's exceptions map to the contract's codes:
AccessError -> 403, MissingError -> 404, ValidationError/UserError -> 400;
PostgreSQL unique violations -> 409, other integrity or data errors -> 400.
Concurrency errors (serialization failures, deadlocks...) are *not* mapped:
:func:`is_retryable` tells the caller to re-raise them so that Odoo retries
the whole request. Anything else is a 500 whose details stay in the server
log.
"""
import logging

import psycopg2
from psycopg2 import errorcodes

from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY

from ..engine import mapping
from ..engine.errors import ApiError

_logger = logging.getLogger(__name__)


def is_retryable(exc):
    """Whether ``exc`` is a PostgreSQL concurrency error Odoo retries."""
    return (
        isinstance(exc, psycopg2.OperationalError)
        and getattr(exc, "pgcode", None) in PG_CONCURRENCY_ERRORS_TO_RETRY
    )


def _pg_message(exc):
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc).splitlines()[0]
    return primary


def to_api_error(exc, trace_id=""):
    """Return the ``ApiError`` for ``exc`` (logging unexpected ones with their traceback)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (AccessError, AccessDenied)):
        return ApiError("PERMISSION_DENIED", str(exc.args[0]) if exc.args else "Access denied")
    if isinstance(exc, MissingError):
        return ApiError("NOT_FOUND", str(exc.args[0]) if exc.args else "Record not found")
    if isinstance(exc, UserError):  # ValidationError is a UserError
        return ApiError("VALIDATION_ERROR", str(exc.args[0]) if exc.args else str(exc))
    if isinstance(exc, mapping.MappingError):
        cause = exc.cause
        if isinstance(cause, Exception) and not isinstance(cause, mapping.MappingError):
            inner = to_api_error(cause, trace_id)
            if inner.code != "INTERNAL_ERROR":
                return inner
        return ApiError("VALIDATION_ERROR", str(exc))
    if isinstance(exc, psycopg2.IntegrityError):
        diag = getattr(exc, "diag", None)
        details = {"constraint": getattr(diag, "constraint_name", None) or ""}
        if getattr(exc, "pgcode", None) == errorcodes.UNIQUE_VIOLATION:
            return ApiError(
                "DUPLICATE_RECORD", "The record already exists: " + _pg_message(exc), details
            )
        return ApiError("VALIDATION_ERROR", _pg_message(exc), details)
    if isinstance(exc, psycopg2.DataError):
        return ApiError("VALIDATION_ERROR", "Invalid value: " + _pg_message(exc))
    _logger.error("Inbound API internal error (trace %s)", trace_id, exc_info=exc)
    return ApiError("INTERNAL_ERROR", "Internal server error", {})
