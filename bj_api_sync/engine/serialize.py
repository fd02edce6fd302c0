"""Answers serialised: ORM ``read()`` values turned into JSON.

Dates become ``"YYYY-MM-DD"``, datetimes ``"YYYY-MM-DDTHH:MM:SSZ"`` (naive means
UTC, as in Odoo). Used by the inbound API's answers and by webhook payloads.
"""
import datetime as dt

from .mapping_in import _X2MANY, _parse_datetime


def serialize_value(value, desc):
    """Convert one ORM ``read()`` value to JSON for the field described by ``desc``.

    Dates become ``"YYYY-MM-DD"`` and datetimes ``"YYYY-MM-DDTHH:MM:SSZ"``
    (date/datetime objects or Odoo strings; naive means UTC). A many2one
    ``(id, name)`` becomes ``{"id", "name"}`` (a bare id gives ``"name":
    None``); x2many gives a list of ids; bytes become text. ``False``/``None``
    become ``False`` for booleans, ``0``/``0.0`` for integer/float/monetary,
    ``[]`` for x2many and ``None`` otherwise.
    """
    ftype = desc.get("type")
    if ftype == "boolean":
        return bool(value)
    if value is False or value is None:
        if ftype == "integer":
            return 0
        if ftype in ("float", "monetary"):
            return 0.0
        if ftype in _X2MANY:
            return []
        return None
    if ftype == "date":
        return _serialize_date(value)
    if ftype == "datetime":
        return _serialize_datetime(value)
    if ftype == "many2one":
        if isinstance(value, (list, tuple)) and len(value) == 2:
            # A record without a display name reads as (id, False).
            return {"id": value[0], "name": value[1] or None}
        return {"id": value, "name": None}
    if ftype in _X2MANY:
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dt.datetime):
        return _serialize_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _serialize_date(value):
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _serialize_datetime(value):
    if isinstance(value, str):
        parsed = _parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    elif isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    elif isinstance(value, dt.date):
        value = dt.datetime.combine(value, dt.time())
    else:
        return value
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def serialize_record(values, fields):
    """Serialise a ``read()`` dict with :func:`serialize_value` field by field.

    Keys missing from ``fields`` (``id`` for instance) are serialised by the
    value's own Python type.
    """
    return {key: serialize_value(value, fields.get(key, {})) for key, value in values.items()}
