"""The outbound mapping sends each Odoo field type as its own JSON type.

A record's value need not have the Python type of its field: a computed or
related integer may hold ``3.0`` or ``Decimal("3")``, a float field an ``int``,
either a ``bool``. Python finds ``3 == 3.0 == Decimal(3)`` and ``1 == True``,
so a test comparing values cannot see a dropped coercion; these compare the
JSON text the outbox would send (``json.dumps`` also refuses a ``Decimal``).
"""
import json
from decimal import Decimal

import pytest

from bj_api_sync.engine.mapping_out import LineSpec, build_payloads

TYPES = {"count": "integer", "ratio": "float", "amount": "monetary",
         "country_id": "many2one"}


class Record:
    """A fake record: a dict of raw values; ``country_id`` points at another one."""

    def __init__(self, rid, **values):
        self.id = rid
        self.values = values


class Access:
    """The mapping engine's RecordAccess over :class:`Record`."""

    def field_type(self, record, field_name):
        return TYPES[field_name]

    def read(self, record, field_name):  # pylint: disable=method-required-super
        return record.values.get(field_name, False)

    def ident(self, record):
        return record.id

    def iterate(self, records):
        return list(records)

    def ref(self, record):
        return f"x({record.id})"

    def display_name(self, record):
        return ""


def sent(record, *lines):
    """The JSON text of one record's outbound body."""
    [payload] = build_payloads([record], tuple(lines), Access())
    return json.dumps(payload)


@pytest.mark.parametrize("value, text", [
    (3, "3"),
    (3.0, "3"),
    (Decimal("4"), "4"),
    (True, "1"),
    (False, "0"),
])
def test_an_integer_field_is_sent_as_a_json_integer(value, text):
    assert sent(Record(1, count=value), LineSpec("n", "count")) == f'{{"n": {text}}}'


def test_an_integer_reached_through_a_relation_is_coerced_too():
    country = Record(7, count=2.0)
    record = Record(1, country_id=country)
    line = LineSpec("rank", "country_id", "relational", related_path="count")
    assert sent(record, line) == '{"rank": 2}'


@pytest.mark.parametrize("field", ["ratio", "amount"])
@pytest.mark.parametrize("value, text", [
    (3, "3.0"),
    (Decimal("1.25"), "1.25"),
    (True, "1.0"),
    (False, "0.0"),
])
def test_a_float_field_is_sent_as_a_json_number_with_a_fraction(field, value, text):
    assert sent(Record(1, **{field: value}), LineSpec("x", field)) == f'{{"x": {text}}}'
