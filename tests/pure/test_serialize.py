"""Tests of the one serialiser of ORM values to JSON (bj_api_sync.engine.serialize), no Odoo.

Its two profiles differ in the many2one only: OUTBOUND (request bodies) gives
the bare id, ANSWER (inbound answers, webhook payloads) ``{"id", "name"}``.
Records mapped by config lines (mapping_out) and ``read()`` values
(serialize_record) answer the same in the ANSWER profile.
"""
import datetime as dt
import pathlib

import pytest

from bj_api_sync.engine import mapping_out, row_mapping, serialize
from bj_api_sync.engine.mapping_out import LineSpec, build_payloads
from bj_api_sync.engine.serialize import (
    ANSWER,
    OUTBOUND,
    converter,
    serialize_record,
    serialize_value,
    to_json_value,
)

TYPES = {
    "res.partner": {"name": "char", "country_id": "many2one", "parent_id": "many2one",
                    "birthday": "date", "write_date": "datetime", "category_id": "many2many",
                    "color": "integer", "active": "boolean", "comment": "html"},
    "res.country": {"name": "char", "display_name": "char"},
}


class Rec:
    """A fake record (its own one-record set); ``display_name`` from ``name``."""

    def __init__(self, model, rid, **values):
        self.model, self.id, self.values = model, rid, values

    def __bool__(self):
        return self.id is not None


EMPTY = Rec("res.country", None)


class Access:
    """RecordAccess over :class:`Rec`."""

    def field_type(self, record, field_name):
        return TYPES[record.model][field_name]

    def read(self, record, field_name):
        value = record.values.get(field_name, False)
        if value is False and TYPES[record.model][field_name] == "many2one":
            return EMPTY
        return value

    def ident(self, record):
        return record.id

    def iterate(self, records):
        return records if isinstance(records, list) else [records]

    def ref(self, record):
        return f"{record.model}({record.id})"

    def display_name(self, record):
        return record.values.get("name")


ACCESS = Access()
FRANCE = Rec("res.country", 3, name="France")
NAMELESS = Rec("res.country", 4)
PARTNER = Rec(
    "res.partner", 7, name="Alice", country_id=FRANCE, parent_id=EMPTY,
    birthday=dt.date(1990, 5, 17), write_date=dt.datetime(2024, 1, 15, 10, 30, 0, 123),
    category_id=[Rec("res.partner.category", 1), Rec("res.partner.category", 2)],
    color=0, active=True, comment="",
)
# What read() gives for the same record.
READ = {"id": 7, "name": "Alice", "country_id": (3, "France"), "parent_id": False,
        "birthday": dt.date(1990, 5, 17), "write_date": dt.datetime(2024, 1, 15, 10, 30, 0, 123),
        "category_id": [1, 2], "color": 0, "active": True, "comment": ""}
DESCS = {name: {"type": ftype} for name, ftype in TYPES["res.partner"].items()}
LINES = tuple(LineSpec(name, name) for name in TYPES["res.partner"])


@pytest.mark.parametrize("value,expected", [
    (FRANCE, {"id": 3, "name": "France"}),
    (NAMELESS, {"id": 4, "name": None}),
    ((3, "France"), {"id": 3, "name": "France"}),
    ((4, False), {"id": 4, "name": None}),
    (3, {"id": 3, "name": None}),
    (EMPTY, None),
    (False, None),
])
def test_answer_many2one_is_id_and_name(value, expected):
    assert to_json_value("many2one", value, ACCESS, profile=ANSWER) == expected


@pytest.mark.parametrize("value", [FRANCE, (3, "France"), 3])
def test_outbound_many2one_is_the_id(value):
    assert to_json_value("many2one", value, ACCESS) == 3
    assert to_json_value("many2one", value, ACCESS, profile=OUTBOUND) == 3


def test_profiles_differ_in_many2one_only():
    outbound, answer = serialize.PROFILES[OUTBOUND], serialize.PROFILES[ANSWER]
    assert set(outbound) == set(answer)
    assert [t for t in outbound if outbound[t] is not answer[t]] == ["many2one"]


def test_lines_and_read_answer_the_same():
    """The same record, mapped by identity lines (an inbound config with lines)
    and serialised from read() (a config without lines, a webhook): one answer."""
    [mapped] = build_payloads([PARTNER], LINES, ACCESS, profile=ANSWER)
    read = serialize_record(READ, DESCS)
    assert read == {"id": 7, **mapped}
    assert mapped == {
        "name": "Alice", "country_id": {"id": 3, "name": "France"}, "parent_id": None,
        "birthday": "1990-05-17", "write_date": "2024-01-15T10:30:00Z",
        "category_id": [1, 2], "color": 0, "active": True, "comment": None,
    }


def test_outbound_body_differs_from_the_answer_in_many2one_only():
    [body] = build_payloads([PARTNER], LINES, ACCESS)
    [answer] = build_payloads([PARTNER], LINES, ACCESS, profile=ANSWER)
    assert body == {**answer, "country_id": 3}


def test_row_fast_path_is_the_outbound_profile():
    """row_mapping (outbound rows) converts with the OUTBOUND profile's functions."""
    row_plan = row_mapping.plan(
        (LineSpec("country", "country_id"), LineSpec("day", "birthday")), "res.partner",
        lambda model, name: (TYPES[model][name], None) if name != "id" else ("integer", None),
    )
    tables = {(): {7: (7, 3, dt.date(1990, 5, 17))}}
    assert row_plan.build([7], tables) == [{"country": 3, "day": "1990-05-17"}]


def test_script_value_stays_outbound_in_answers():
    """A python line's ``value`` is the OUTBOUND value in every profile: scripts
    written against the bare id keep working in inbound answers."""
    seen = []

    def run_script(code, mode, ctx):
        seen.append(ctx["value"])
        return ctx["value"]

    line = LineSpec("c", "country_id", "python", python_code="value")
    [answer] = build_payloads([PARTNER], (line,), ACCESS, run_script=run_script,
                              profile=ANSWER)
    assert seen == [3] and answer == {"c": 3}


def test_empty_text_is_null_on_every_path():
    """An empty string answers null, from read() as from lines (it used to be
    "" from read() and null from lines)."""
    assert serialize_value("", {"type": "char"}) is None
    assert serialize_value("", {"type": "selection"}) is None
    assert to_json_value("char", "", ACCESS, profile=ANSWER) is None


def test_one_date_helper():
    """The engine formats dates in serialize only (mapping_out has no copy)."""
    source = pathlib.Path(mapping_out.__file__).read_text(encoding="utf-8")
    for needle in ("isoformat", "strftime", "b64encode", "import odoo", "from odoo"):
        assert needle not in source
    source = pathlib.Path(serialize.__file__).read_text(encoding="utf-8")
    assert "import odoo" not in source and "from odoo" not in source


def test_converter_defaults_to_outbound_and_generic():
    assert converter("many2one")(FRANCE, ACCESS) == 3
    assert converter("unknown")(dt.date(2024, 1, 2), None) == "2024-01-02"
