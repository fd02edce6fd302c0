"""Routing rules of the inbound API that need no database.

Which operation a verb means on which path shape, the ``Allow`` header of a
405, record ids from the URL, query-string values for parameter filters and
truthy option values. The controller and the services use these; nothing here
imports Odoo.
"""
import re

from .errors import ApiError

#: Path shapes under ``/api/sync/v1/{resource}`` and the operation of each verb.
OPERATIONS = {
    "collection": {"POST": "create"},
    "search": {"GET": "search", "HEAD": "search"},
    "batch": {"POST": "batch"},
    "record": {"GET": "read", "HEAD": "read", "PUT": "update", "DELETE": "delete"},
}
#: The config verb (bj.http.method name) that enables each operation.
VERB_OF_OPERATION = {
    "search": "GET",
    "read": "GET",
    "create": "POST",
    "batch": "POST",
    "update": "PUT",
    "delete": "DELETE",
}
_VERB_ORDER = ("GET", "HEAD", "POST", "PUT", "DELETE")
_INT4_MAX = 2**31 - 1
# ASCII digits only: str.isdigit() also accepts other scripts' digits.
_ID_RE = re.compile(r"[0-9]{1,10}")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_NUMERIC_TYPES = ("integer", "many2one", "many2one_reference")


def split_path(subpath):
    """Split the path below ``/api/sync/v1/`` into ``(resource, shape, record_id_text)``.

    ``"res.partner"`` -> ``("res.partner", "collection", None)``,
    ``"res.partner/search"`` -> ``(..., "search", None)``, ``".../batch"`` ->
    ``"batch"``, ``"res.partner/42"`` -> ``(..., "record", "42")``. Anything
    deeper, or an empty resource, gives ``None``.
    """
    parts = (subpath or "").strip("/").split("/")
    if not parts or not parts[0]:
        return None
    resource = parts[0]
    if len(parts) == 1:
        return (resource, "collection", None)
    if len(parts) != 2 or not parts[1]:
        return None
    if parts[1] in ("search", "batch"):
        return (resource, parts[1], None)
    return (resource, "record", parts[1])


def resolve_operation(shape, verb, enabled_methods):
    """Return ``(operation, allow)`` for ``verb`` on a path ``shape``.

    ``operation`` is ``None`` when the verb is not valid on that path or not
    enabled on the config (``enabled_methods``: upper-case verb names);
    ``allow`` lists, in a stable order, the verbs that are valid there and
    enabled (``HEAD`` comes with ``GET``).
    """
    enabled = {m.upper() for m in enabled_methods}
    if "GET" in enabled:
        enabled.add("HEAD")
    table = OPERATIONS.get(shape, {})
    allow = [v for v in _VERB_ORDER if v in table and v in enabled]
    verb = (verb or "").upper()
    if verb in table and verb in enabled:
        return table[verb], allow
    return None, allow


def method_not_allowed(verb, allow):
    """Return the ``METHOD_NOT_ALLOWED`` error for ``verb`` with its ``Allow`` header."""
    return ApiError(
        "METHOD_NOT_ALLOWED",
        f"Method {verb} is not allowed here"
        + (f" (allowed: {', '.join(allow)})" if allow else " (no method is enabled here)"),
        {"method": verb, "allowed": list(allow)},
        headers={"Allow": ", ".join(allow)},
    )


def check_batch_verbs(operations, enabled_methods):
    """Raise ``METHOD_NOT_ALLOWED`` when an operation of a batch needs a verb the
    config does not enable (a batch only needs POST, its operations their own)."""
    enabled = {m.upper() for m in enabled_methods}
    for operation in operations:
        verb = VERB_OF_OPERATION[operation["method"]]
        if verb not in enabled:
            index = operation["index"]
            raise ApiError(
                "METHOD_NOT_ALLOWED",
                f"Operation {index} ({operation['method']}) needs {verb}, "
                f"which this resource does not allow",
                {"method": verb, "index": index,
                 "allowed": [v for v in _VERB_ORDER if v in enabled]},
            )


def parse_record_id(text):
    """Return the positive int4 record id written in ``text``, or ``None``."""
    if not isinstance(text, str) or not _ID_RE.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= _INT4_MAX else None


def parse_flag(value, name):
    """Read an option that must be a boolean: JSON booleans or query text.

    ``None`` gives ``False``; ``"true"``/``"1"``/``"yes"``/``"on"`` and the
    opposites are accepted from query strings. Anything else is a
    ``VALIDATION_ERROR`` naming the option.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ApiError(
        "VALIDATION_ERROR",
        f"Option {name!r} must be a boolean",
        {"parameter": name},
    )


def param_term(field_name, field_type, operator, raw, key):
    """Turn ``?key=raw`` of a parameter filter into a domain term.

    ``in`` splits ``raw`` on commas. Integer-like fields (integer, many2one)
    need integers, float/monetary need numbers and booleans accept
    true/false; other types take the text as is (without NUL characters). A
    value that does not fit is a ``VALIDATION_ERROR`` naming ``key``.
    """
    operator = operator or "="
    values = [v.strip() for v in raw.split(",")] if operator == "in" else [raw]
    converted = [_param_value(field_type, value, key) for value in values]
    return (field_name, operator, converted if operator == "in" else converted[0])


def _param_value(field_type, value, key):
    try:
        if "\x00" in value:
            raise ValueError(value)  # PostgreSQL text cannot hold NUL
        if field_type in _NUMERIC_TYPES:
            number = int(value.strip())
            if abs(number) > _INT4_MAX:
                raise ValueError(value)
            return number
        if field_type in ("float", "monetary"):
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(value)
            return number
        if field_type == "boolean":
            low = value.strip().lower()
            if low not in _TRUE + _FALSE or not low:
                raise ValueError(value)
            return low in _TRUE
    except ValueError:
        raise ApiError(
            "VALIDATION_ERROR",
            f"Parameter {key!r} has an invalid value for a {field_type} field",
            {"parameter": key, "value": value[:100]},
        ) from None
    return value
