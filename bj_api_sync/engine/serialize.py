"""ORM values to JSON: the one serialiser, for both directions.

Every record value that leaves Odoo as JSON goes through this module: outbound
request bodies (config lines, :mod:`.mapping_out`, and its row fast path
:mod:`.row_mapping`), inbound API answers with or without lines, and webhook
payloads. One table of converters per Odoo field type; two named profiles that
differ in one type only:

* :data:`OUTBOUND` (what an outbound request carries): a many2one is the bare
  id (or a sub-object built by a Mapping Model line);
* :data:`ANSWER` (what the inbound API answers and what a webhook delivers): a
  many2one is ``{"id": 3, "name": "France"}`` (``name`` is the display name,
  or null), as Odoo's ``read()`` gives ``(id, name)`` and as the contract
  documents it; the API takes both forms back in.

Common to both: date ``"YYYY-MM-DD"``; datetime (naive means UTC)
``"YYYY-MM-DDTHH:MM:SSZ"``; empty values null, except boolean (``false``),
integer (``0``), float/monetary (``0.0``) and x2many (``[]``); x2many a list
of ids; binary base64 text; reference ``"model,id"``; Decimal a float; json as
it is. Values may be ORM values of a record (recordsets, through a
:class:`.mapping_out.RecordAccess`) or ``read()`` values (``(id, name)``
pairs, id lists). Nothing here imports Odoo.
"""
from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

#: Profile of outbound request bodies: many2one as the bare id.
OUTBOUND = "outbound"
#: Profile of inbound answers and webhook payloads: many2one as ``{"id", "name"}``.
ANSWER = "answer"

# datetime.UTC only exists from Python 3.11; Odoo 17 still runs on 3.10.
_UTC = _dt.timezone.utc

__all__ = [
    "ANSWER",
    "OUTBOUND",
    "converter",
    "date_text",
    "datetime_text",
    "jsonable",
    "serialize_record",
    "serialize_value",
    "to_json_value",
]


def date_text(value):
    """``"YYYY-MM-DD"`` of a date (or datetime, or Odoo's date string); None when empty."""
    if not value:
        return None
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def datetime_text(value):
    """``"YYYY-MM-DDTHH:MM:SSZ"`` of a datetime (naive means UTC; aware ones are
    converted), of a date (midnight) or of Odoo's datetime string; None when empty."""
    if not value:
        return None
    if isinstance(value, str):
        # Some callers hand over Odoo's string form ("2024-01-02 10:00:00").
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_UTC).replace(tzinfo=None)
        # isoformat is implemented in C and much cheaper than strftime.
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, _dt.date):
        return value.isoformat() + "T00:00:00Z"
    return str(value)


def jsonable(value):
    """Turn the non-JSON standard types a script may return into JSON ones.

    Anything else (including ORM objects the engine cannot know) is left as is.
    """
    if isinstance(value, _dt.datetime):
        return datetime_text(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _binary_text(value):
    if not value:
        return None
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        try:
            # The ORM returns binary fields already base64-encoded.
            return value.decode("ascii")
        except UnicodeDecodeError:
            # Raw content (e.g. read with bin_size tricks): encode it ourselves
            # rather than emitting undecodable bytes.
            return base64.b64encode(value).decode("ascii")
    return str(value)


def _ident(value, access):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, tuple | list):
        # (id, display_name) pairs, as read() returns them.
        return value[0] if value else None
    if access is not None:
        return access.ident(value)
    return getattr(value, "id", None) or None


def _conv_char(value, access):
    if not value:
        return None
    # str() turns str subclasses (markupsafe.Markup for html) into plain str.
    return value if type(value) is str else str(value)


def _conv_boolean(value, access):
    return bool(value)


def _conv_integer(value, access):
    if value is None or value is False:
        return 0
    return value if type(value) is int else int(value)


def _conv_float(value, access):
    if value is None or value is False:
        return 0.0
    return value if type(value) is float else float(value)


def _conv_selection(value, access):
    if value is None or value is False or value == "":
        return None
    return value


def _conv_many2one(value, access):
    if not value:
        return None
    return _ident(value, access)


def _conv_many2one_ref(value, access):
    """The :data:`ANSWER` many2one: ``{"id", "name"}`` (name: display name or None)."""
    if not value:
        return None
    if isinstance(value, tuple | list):
        # read()'s (id, display_name); a record without a name reads (id, False).
        return {"id": value[0], "name": (value[1] if len(value) > 1 else None) or None}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"id": value, "name": None}
    if access is not None:
        return {"id": access.ident(value), "name": access.display_name(value) or None}
    return {"id": getattr(value, "id", None), "name": getattr(value, "display_name", None) or None}


def _conv_x2many(value, access):
    if not value:
        # An empty relation stays an (empty) array so that consumers always
        # get the same JSON type for the key.
        return []
    if isinstance(value, list | tuple):
        return [_ident(v, access) for v in value]
    if access is not None:
        return [access.ident(r) for r in access.iterate(value)]
    ids = getattr(value, "ids", None)
    if ids is not None:
        return list(ids)
    return [getattr(r, "id", None) for r in value]


def _conv_json(value, access):
    return value


def _conv_reference(value, access):
    if not value:
        return None
    if isinstance(value, str):
        return value
    if access is not None:
        # "res.partner(42)" -> "res.partner,42", Odoo's own reference format.
        model, _sep, rest = access.ref(value).partition("(")
        return f"{model},{rest.rstrip(')')}"
    return f"{getattr(value, '_name', '')},{getattr(value, 'id', '')}"


def _conv_many2one_reference(value, access):
    if not value:
        return None
    return int(value)


def _conv_generic(value, access):
    if value is None or value is False:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return _binary_text(value)
    return jsonable(value)


_OUTBOUND_CONVERTERS = {
    "char": _conv_char,
    "text": _conv_char,
    "html": _conv_char,
    "boolean": _conv_boolean,
    "integer": _conv_integer,
    "float": _conv_float,
    "monetary": _conv_float,
    "date": lambda value, access: date_text(value),
    "datetime": lambda value, access: datetime_text(value),
    "selection": _conv_selection,
    "many2one": _conv_many2one,
    "one2many": _conv_x2many,
    "many2many": _conv_x2many,
    "binary": lambda value, access: _binary_text(value),
    "json": _conv_json,
    "reference": _conv_reference,
    "many2one_reference": _conv_many2one_reference,
}

#: ``profile -> {field type -> (value, access) -> JSON value}``.
PROFILES = {
    OUTBOUND: _OUTBOUND_CONVERTERS,
    ANSWER: {**_OUTBOUND_CONVERTERS, "many2one": _conv_many2one_ref},
}


def converter(field_type: str, profile: str = OUTBOUND) -> Callable[[Any, Any], Any]:
    """Return the ``(value, access)`` function converting values of ``field_type``
    in ``profile`` (:data:`OUTBOUND` or :data:`ANSWER`)."""
    return PROFILES[profile].get(field_type, _conv_generic)


def to_json_value(field_type: str, value, access=None, profile: str = OUTBOUND) -> Any:
    """Convert a raw ORM value of an Odoo field type into a JSON-ready value.

    See the module docstring for the rules of each type and ``profile``.
    ``access`` (a :class:`.mapping_out.RecordAccess`) is used to get ids (and,
    in :data:`ANSWER`, display names) of records; without it, ``.id`` and
    ``.display_name`` attributes are read.
    """
    return converter(field_type, profile)(value, access)


def serialize_value(value, desc):
    """Convert one ORM ``read()`` value of the field described by ``desc`` (its
    ``type``) to JSON, in the :data:`ANSWER` profile."""
    return converter(desc.get("type"), ANSWER)(value, None)


def serialize_record(values, fields):
    """Serialise a ``read()`` dict with :func:`serialize_value` field by field.

    Keys missing from ``fields`` (``id`` for instance) are serialised by the
    value's own Python type.
    """
    table = PROFILES[ANSWER]
    return {
        key: table.get(fields.get(key, {}).get("type"), _conv_generic)(value, None)
        for key, value in values.items()
    }
