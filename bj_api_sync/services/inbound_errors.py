"""Turn exceptions raised while serving an inbound call into ``ApiError``.

``ApiError`` passes through. Odoo's business exceptions map to the contract's
codes with Odoo's message: AccessError/AccessDenied -> 403, MissingError ->
404, ValidationError/UserError/RedirectWarning -> 400 (RedirectWarning, raised
for instance when a contact linked to a user is deleted, is no UserError);
PostgreSQL unique violations -> 409, other integrity or data errors -> 400.
Concurrency errors (serialization failures, deadlocks...) are *not* mapped:
:func:`is_retryable` tells the caller to re-raise them so that Odoo retries
the whole request. Anything else is a 500 whose details stay in the server
log.
"""
import logging

import psycopg2
from psycopg2 import errorcodes

from odoo.exceptions import (
    AccessDenied,
    AccessError,
    MissingError,
    RedirectWarning,
    UserError,
)
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY

from ..engine import mapping_out
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


def _odoo_message(exc, default):
    return str(exc.args[0]) if exc.args and exc.args[0] else default


def business_error(exc):
    """Return the ``ApiError`` of an Odoo business exception, or None for any other."""
    if isinstance(exc, (AccessError, AccessDenied)):
        return ApiError("PERMISSION_DENIED", _odoo_message(exc, "Access denied"))
    if isinstance(exc, MissingError):
        return ApiError("NOT_FOUND", _odoo_message(exc, "Record not found"))
    if isinstance(exc, (UserError, RedirectWarning)):  # ValidationError is a UserError
        return ApiError("VALIDATION_ERROR", _odoo_message(exc, "Invalid operation"))
    return None


def to_api_error(exc, trace_id=""):
    """Return the ``ApiError`` for ``exc`` (logging unexpected ones with their traceback)."""
    if isinstance(exc, ApiError):
        return exc
    error = business_error(exc)
    if error is not None:
        return error
    if isinstance(exc, mapping_out.MappingError):
        # Mapping errors of the config's lines are turned into typed errors
        # by inbound_crud; one reaching here still names config and line.
        error = business_error(exc.cause) if isinstance(exc.cause, Exception) else None
        return error or ApiError("VALIDATION_ERROR", str(exc))
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
