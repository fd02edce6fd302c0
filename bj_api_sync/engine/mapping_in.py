"""JSON bodies mapped in: validation and conversion of inbound values for the ORM.

JSON values are checked against the ``fields_get()`` description of the target
field and turned into what the ORM expects (``convert_value``). Dates travel as
ISO 8601; naive datetimes are UTC, as in Odoo. Nothing here trusts the client:
wrong types, unknown keys, read-only fields and disallowed x2many commands are
``VALIDATION_ERROR``. Answers go the other way in :mod:`.serialize`, batch
bodies are parsed in :mod:`.batch_request`, and records are mapped out to JSON
by config lines in :mod:`.mapping_out`.
"""
import base64
import binascii
import datetime as dt
import json
import math
import re

from .errors import ApiError

ALL_COMMANDS = frozenset({0, 1, 2, 3, 4, 5, 6})
#: Range of PostgreSQL int4 columns (integer fields, record ids).
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
_INT4_MIN, _INT4_MAX = INT4_MIN, INT4_MAX
_TEXT_TYPES = ("char", "text", "html")
_X2MANY = ("one2many", "many2many")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?"
)
_B64_WS_RE = re.compile(r"\s+")


# -- helpers -------------------------------------------------------------------


def _short(value, limit=80):
    """Return a short JSON-like text of ``value`` for error details."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _invalid(name, value, expected, message=None):
    return ApiError.validation(
        message or f"Field {name!r} expects {expected}, got {_short(value)}",
        field=name, value=_short(value), expected=expected,
    )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_record_id(value):
    return _is_int(value) and 0 < value <= _INT4_MAX


def _parse_datetime(text):
    """Parse ISO 8601 text; return a naive UTC datetime or ``None`` if not valid."""
    match = _DATETIME_RE.fullmatch(text.strip())
    if not match:
        return None
    # Odoo datetime columns have no sub-second precision: the fraction is dropped.
    year, month, day, hour, minute, second = match.groups()[:6]
    try:
        value = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
        )
        if match["sign"]:
            hours, minutes = int(match["oh"]), int(match["om"] or 0)
            if hours > 23 or minutes > 59:
                return None
            offset = dt.timedelta(hours=hours, minutes=minutes)
            # "+02:00" means local time is ahead of UTC: subtract to get UTC.
            value = value - offset if match["sign"] == "+" else value + offset
    except (ValueError, OverflowError):
        return None
    return value


def _parse_date(text):
    """Parse ``YYYY-MM-DD`` or an ISO datetime; return a date or ``None``.

    A datetime keeps the calendar date as written: date fields have no time
    zone, so shifting it to UTC would move it to another day.
    """
    match = _DATE_RE.fullmatch(text.strip())
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            return None
    match = _DATETIME_RE.fullmatch(text.strip())
    if not match or _parse_datetime(text) is None:
        return None
    return dt.date(*(int(g) for g in match.groups()[:3]))


# -- request structure -------------------------------------------------------------


def require_object(body, name="body"):
    """Return ``body`` if it is a JSON object (dict); else raise ``VALIDATION_ERROR``.

    The message is ``"The request body must be a JSON object"`` for ``name ==
    "body"`` and ``"'<name>' must be a JSON object"`` otherwise; details carry
    ``parameter`` (the name) and ``received`` (the JSON type received).
    """
    if isinstance(body, dict):
        return body
    message = (
        "The request body must be a JSON object"
        if name == "body"
        else f"{name!r} must be a JSON object"
    )
    raise ApiError(
        "VALIDATION_ERROR", message, {"parameter": name, "received": _json_type(body)}
    )


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def require_top_level_keys(body, allowed, shape):
    """Refuse an object ``body`` with top-level keys outside ``allowed``; ``shape``
    shows the client what the body should look like."""
    require_object(body)
    extra = sorted(k for k in body if k not in allowed)
    if extra:
        raise ApiError.validation(
            "Unknown top-level key(s) " + ", ".join(map(repr, extra))
            + f": the request body is {shape}",
            parameter="body", unknown=extra,
        )


def split_request(body):
    """Split ``{"data": {...}, "options": {...}}`` into ``(data, options)``.

    ``data`` is required and must be an object; ``options`` is optional (``{}``
    when absent or null) and must be an object. Other top-level keys are
    refused, so that a client who forgot the ``data`` wrapper or misspelled
    ``options`` hears about it.
    """
    require_top_level_keys(body, ("data", "options"), '{"data": {...}, "options": {...}}')
    if body.get("data") is None:
        raise ApiError(
            "VALIDATION_ERROR",
            "The request body must contain a 'data' object",
            {"parameter": "data"},
        )
    data = require_object(body["data"], "data")
    options = body.get("options")
    options = {} if options is None else require_object(options, "options")
    return data, options


def _walk(data, allowed, prefix=""):
    """Yield ``(dotted key, value)`` pairs, descending only into allowed prefixes."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if (
            path not in allowed
            and isinstance(value, dict)
            and any(a.startswith(path + ".") for a in allowed)
        ):
            yield from _walk(value, allowed, path + ".")
        else:
            yield path, value


def flatten(data, allowed_keys):
    """Return ``data`` with nested objects read out into dotted allowed keys.

    ``{"address": {"city": "X"}}`` gives ``{"address.city": "X"}`` when
    ``"address.city"`` is allowed; keys that are allowed as they are (even
    holding an object) and unknown keys are kept untouched. A key given both
    flat and nested raises ``VALIDATION_ERROR``.
    """
    allowed = set(allowed_keys)
    flat = {}
    for path, value in _walk(data, allowed):
        if path in flat:
            raise ApiError(
                "VALIDATION_ERROR",
                f"Key {path!r} is given twice (flat and nested)",
                {"field": path},
            )
        flat[path] = value
    return flat


# -- values ----------------------------------------------------------------------


def convert_value(name, value, desc, resolve=None, *, allowed_commands=None,
                  convert_nested=None):
    """Convert one JSON ``value`` for the field described by ``desc`` to an ORM value.

    ``name`` is only used in messages. Rules by ``desc["type"]``:

    - char/text/html: a string; ``null``/``false`` -> ``False``.
    - selection: one of the selection keys; ``null``/``false`` -> ``False``.
    - integer: an int in int4 range (not a boolean; integral floats accepted).
    - float/monetary: a finite number (not a boolean) -> ``float``.
    - boolean: ``true``/``false`` only.
    - date: ``YYYY-MM-DD`` or an ISO datetime -> ``"YYYY-MM-DD"``.
    - datetime: ISO 8601 with optional ``Z``/offset (naive = UTC) -> naive UTC
      ``"YYYY-MM-DD HH:MM:SS"`` (fractions of a second are dropped).
    - many2one: a positive id, ``{"id": id, ...}``, ``null``/``false`` ->
      ``False``; any other value goes to ``resolve(desc, value)`` when given
      (it returns a positive id, or raises), else it is refused.
    - one2many/many2many: a list of ids -> ``[(6, 0, ids)]``, or a list of ORM
      commands ``[0,0,{}]``, ``[1,id,{}]``, ``[2,id]``, ``[3,id]``, ``[4,id]``,
      ``[5]``, ``[6,0,[ids]]`` (a trailing third item ignored for 2-5) whose
      codes are in ``allowed_commands`` (default all of 0-6), returned as
      Odoo's canonical 3-tuples (``(2, id, 0)``, ``(5, 0, 0)``...). The values
      of create/update commands go through ``convert_nested(desc, vals)`` when
      given, so the caller can validate them against the comodel.
    - binary: base64 text (whitespace removed); ``null``/``false`` -> ``False``.
    - json and unknown types: unchanged.

    ``null`` and ``false`` mean "empty" (-> ``False``) for every type but
    boolean, json and x2many. Text holding a NUL character is refused for
    every type (PostgreSQL cannot store it).
    Errors are ``VALIDATION_ERROR`` with ``details == {"field": name,
    "value": <short JSON text>, "expected": <what was expected>}``.
    """
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL text cannot hold NUL: refused here rather than by the driver.
        raise _invalid(name, value, "text without NUL (\\u0000) characters")
    ftype = desc.get("type")
    convert = _WITH_EMPTY.get(ftype)
    if convert is None:
        # Odoo's "empty" is False; JSON clients say null (or false, as read() does).
        if value is None or value is False:
            return False
        convert = _CONVERTERS.get(ftype)
        if convert is None:
            return value  # types this module does not know go to the ORM as they are
    return convert(name, value, desc, (resolve, allowed_commands, convert_nested))


# Each converter is ``(name, value, desc, (resolve, allowed_commands,
# convert_nested)) -> ORM value``; it raises ``_invalid(...)`` for a bad value.


def _to_boolean(name, value, _desc, _opts):
    if not isinstance(value, bool):
        raise _invalid(name, value, "a boolean (true or false)")
    return value


def _to_x2many(name, value, desc, opts):
    _resolve, allowed_commands, convert_nested = opts
    return _convert_x2many(name, value, desc, allowed_commands, convert_nested)


def _to_json(_name, value, _desc, _opts):
    return value


def _to_text(name, value, _desc, _opts):
    if not isinstance(value, str):
        raise _invalid(name, value, "a string")
    return value


def _to_selection(name, value, desc, _opts):
    return _convert_selection(name, value, desc)


def _to_integer(name, value, _desc, _opts):
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not _is_int(value):
        raise _invalid(name, value, "an integer")
    if not _INT4_MIN <= value <= _INT4_MAX:
        raise _invalid(
            name, value, f"an integer between {_INT4_MIN} and {_INT4_MAX}"
        )
    return value


def _to_float(name, value, _desc, _opts):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(name, value, "a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _invalid(name, value, "a finite number")
    return number


def _to_date(name, value, _desc, _opts):
    parsed = _parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise _invalid(name, value, "a date (YYYY-MM-DD)")
    return parsed.isoformat()


def _to_datetime(name, value, _desc, _opts):
    parsed = _parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _invalid(name, value, "an ISO 8601 datetime (YYYY-MM-DDTHH:MM:SSZ)")
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def _to_many2one(name, value, desc, opts):
    return _convert_many2one(name, value, desc, opts[0])


def _to_binary(name, value, _desc, _opts):
    if not isinstance(value, str):
        raise _invalid(name, value, "base64-encoded text")
    cleaned = _B64_WS_RE.sub("", value)
    try:
        base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(name, value, "base64-encoded text") from None
    return cleaned


#: Types whose converter also decides what null/false mean (boolean refuses
#: them, json keeps them, x2many refuses them as not a list).
_WITH_EMPTY = {
    "boolean": _to_boolean,
    "one2many": _to_x2many,
    "many2many": _to_x2many,
    "json": _to_json,
}
#: The other types: null/false is False (empty) before these run.
_CONVERTERS = {
    **dict.fromkeys(_TEXT_TYPES, _to_text),
    "selection": _to_selection,
    "integer": _to_integer,
    "float": _to_float,
    "monetary": _to_float,
    "date": _to_date,
    "datetime": _to_datetime,
    "many2one": _to_many2one,
    "binary": _to_binary,
}


def _convert_selection(name, value, desc):
    keys = [item[0] for item in desc.get("selection") or []]
    expected = "one of: " + ", ".join(map(str, keys))
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _invalid(name, value, expected if keys else "a string")
    # A selection computed at run time may come without its keys: the ORM
    # checks the value then.
    if keys and value not in keys:
        raise _invalid(name, value, expected)
    return value


def _convert_many2one(name, value, desc, resolve):
    expected = "a record id (positive integer) or {\"id\": <positive integer>}"
    if _is_int(value):
        if not _is_record_id(value):
            raise _invalid(name, value, expected)
        return value
    if isinstance(value, dict) and "id" in value:
        if not _is_record_id(value["id"]):
            raise _invalid(name, value, expected)
        return value["id"]
    if resolve is None or value is True:
        raise _invalid(name, value, expected)
    resolved = resolve(desc, value)
    if not _is_record_id(resolved):
        raise _invalid(
            name, value, "a value that identifies an existing record",
            message=f"Field {name!r}: no record matches {_short(value)}",
        )
    return resolved


def _convert_x2many(name, value, desc, allowed_commands, convert_nested):
    allowed = ALL_COMMANDS if allowed_commands is None else frozenset(allowed_commands)
    expected = "a list of record ids or a list of ORM commands"
    if not isinstance(value, (list, tuple)):
        raise _invalid(name, value, expected)
    if all(_is_int(item) for item in value):
        if 6 not in allowed:
            raise _invalid(
                name, value, "ORM commands " + _codes(allowed),
                message=f"Field {name!r}: replacing the whole list of ids is not allowed",
            )
        if not all(_is_record_id(item) for item in value):
            raise _invalid(name, value, "positive record ids")
        return [(6, 0, list(value))]
    if not all(isinstance(item, (list, tuple)) for item in value):
        raise _invalid(name, value, expected)
    return [
        _convert_command(name, index, command, desc, allowed, convert_nested)
        for index, command in enumerate(value)
    ]


def _codes(allowed):
    return "[" + ", ".join(str(c) for c in sorted(allowed)) + "]"


def _convert_command(name, index, command, desc, allowed, convert_nested):
    """Validate one x2many command; return Odoo's canonical 3-tuple."""
    shapes = {
        0: "[0, 0, {values}]",
        1: "[1, id, {values}]",
        2: "[2, id]",
        3: "[3, id]",
        4: "[4, id]",
        5: "[5]",
        6: "[6, 0, [ids]]",
    }
    code = command[0] if command else None
    if not _is_int(code) or code not in shapes:
        raise _invalid(
            name, command, "an ORM command with code 0 to 6",
            message=f"Field {name!r}, command #{index}: unknown command {_short(command)}",
        )
    if code not in allowed:
        raise _invalid(
            name, command, "ORM commands " + _codes(allowed),
            message=f"Field {name!r}, command #{index}: command {code} is not allowed "
            f"here (allowed: {_codes(allowed)})",
        )

    def bad():
        return _invalid(
            name, command, shapes[code],
            message=f"Field {name!r}, command #{index}: expected {shapes[code]}, "
            f"got {_short(command)}",
        )

    size = len(command)
    if code in (0, 1):
        if size != 3 or not isinstance(command[2], dict):
            raise bad()
        if code == 0 and command[1] != 0:
            raise bad()
        if code == 1 and not _is_record_id(command[1]):
            raise bad()
        vals = dict(command[2])
        if convert_nested is not None:
            vals = convert_nested(desc, vals)
        return (code, command[1], vals)
    if code in (2, 3, 4):
        if size not in (2, 3) or not _is_record_id(command[1]):
            raise bad()
        return (code, command[1], 0)
    if code == 5:
        if size > 3:
            raise bad()
        return (5, 0, 0)
    # code 6
    ids = command[2] if size == 3 else None
    if (
        command[1] != 0
        or not isinstance(ids, (list, tuple))
        or not all(_is_record_id(i) for i in ids)
    ):
        raise bad()
    return (6, 0, list(ids))


def convert_values(data, fields, key_to_field=None, resolve=None, *,
                   allowed_commands=None, convert_nested=None):
    """Convert a whole ``data`` object to ORM values ``{field name: value}``.

    Keys are mapped to field names by ``key_to_field`` (external key -> field
    name) or, when it is ``None``, are field names themselves; ``fields`` holds
    the descriptions by field name. Unknown keys (not mapped, or mapped to a
    field missing from ``fields``) raise ``VALIDATION_ERROR`` with
    ``details == {"unknown_fields": [sorted keys]}``. Otherwise every value is
    converted with :func:`convert_value` and *all* problems (wrong values,
    read-only fields, two keys for one field) are raised together as one
    ``VALIDATION_ERROR`` with ``details == {"errors": [{"field": key,
    "message": ...}, ...]}``. Errors other than ``VALIDATION_ERROR`` raised by
    ``resolve``/``convert_nested`` propagate at once.
    """
    require_object(data, "data")
    unknown = []
    targets = {}
    for key in data:
        field = key if key_to_field is None else key_to_field.get(key)
        if field is None or field not in fields:
            unknown.append(key)
        else:
            targets[key] = field
    raise_unknown_fields(unknown)
    values = {}
    source = {}
    errors = []
    for key, field in targets.items():
        desc = fields[field]
        if desc.get("readonly"):
            errors.append({"field": key, "message": f"Field {key!r} is read-only"})
            continue
        if field in source:
            errors.append({
                "field": key,
                "message": f"Keys {source[field]!r} and {key!r} both set field {field!r}",
            })
            continue
        try:
            values[field] = convert_value(
                key, data[key], desc, resolve,
                allowed_commands=allowed_commands, convert_nested=convert_nested,
            )
        except ApiError as exc:
            if exc.code != "VALIDATION_ERROR":
                raise
            errors.append({"field": key, "message": exc.message})
            continue
        source[field] = key
    raise_field_errors(errors)
    return values


def raise_unknown_fields(unknown):
    """Raise one VALIDATION_ERROR listing the ``unknown`` keys (sorted), if any."""
    if unknown:
        unknown = sorted(unknown)
        raise ApiError(
            "VALIDATION_ERROR",
            "Unknown field(s): " + ", ".join(unknown),
            {"unknown_fields": unknown},
        )


def raise_field_errors(errors):
    """Raise one VALIDATION_ERROR listing ``errors`` ({"field", "message"} dicts), if any."""
    if not errors:
        return
    message = (
        errors[0]["message"]
        if len(errors) == 1
        else f"{len(errors)} fields are invalid: " + "; ".join(e["message"] for e in errors)
    )
    raise ApiError("VALIDATION_ERROR", message, {"errors": errors})
