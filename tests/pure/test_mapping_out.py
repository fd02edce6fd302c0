"""Tests of records mapped out to JSON by config lines (bj_api_sync.engine.mapping_out), no Odoo needed."""
import datetime as dt
import pathlib
from decimal import Decimal

import pytest

from bj_api_sync.engine import mapping_out
from bj_api_sync.engine.mapping_out import (
    LineSpec,
    MappingError,
    build_payloads,
    get_dotted,
    set_dotted,
)
from bj_api_sync.engine.serialize import to_json_value

# --------------------------------------------------------------------------
# fakes: a record is a Rec, a relational value is a RecSet (falsy when empty)
# --------------------------------------------------------------------------

TYPES = {
    "res.partner": {
        "name": "char", "email": "char", "comment": "html", "active": "boolean",
        "is_company": "boolean", "color": "integer", "credit_limit": "float",
        "balance": "monetary", "birthday": "date", "write_date": "datetime",
        "type": "selection", "parent_id": "many2one", "country_id": "many2one",
        "category_id": "many2many", "child_ids": "one2many", "image": "binary",
        "data": "json", "ref_doc": "reference", "res_id": "many2one_reference",
        "order_ids": "one2many",
    },
    "res.country": {"name": "char", "code": "char", "state_ids": "one2many"},
    "res.country.state": {"name": "char", "code": "char"},
    "res.partner.category": {"name": "char", "color": "integer"},
    "sale.order": {"name": "char", "line_ids": "one2many", "tag_ids": "many2many",
                   "partner_id": "many2one"},
    "sale.order.line": {"name": "char", "product_id": "many2one", "qty": "float"},
    "product.product": {"name": "char", "default_code": "char"},
}


def build_payload(record, lines, access, **kwargs):
    """One record's payload, through the engine's one entry point."""
    [payload] = build_payloads([record], lines, access, **kwargs)
    return payload


class Rec:
    """A single fake record."""

    def __init__(self, model, rid, **values):
        self.model = model
        self.id = rid
        self.values = values

    def __bool__(self):
        return True


class RecSet:
    """A fake relational value: zero or more records of one model."""

    def __init__(self, model, *records):
        self.model = model
        self.records = list(records)

    def __bool__(self):
        return bool(self.records)

    def __iter__(self):
        return iter(self.records)


def one(model, rid, **values):
    """A many2one value pointing at a new fake record."""
    return RecSet(model, Rec(model, rid, **values))


class FakeAccess:
    """RecordAccess over Rec / RecSet, counting reads."""

    def __init__(self):
        self.reads = 0

    @staticmethod
    def _single(record):
        if isinstance(record, RecSet):
            assert len(record.records) == 1, "expected a single record"
            return record.records[0]
        return record

    def field_type(self, record, field_name):
        rec = self._single(record)
        return TYPES[rec.model][field_name]

    def read(self, record, field_name):
        self.reads += 1
        rec = self._single(record)
        if field_name in rec.values:
            return rec.values[field_name]
        ftype = TYPES[rec.model][field_name]
        return RecSet("x") if ftype in ("many2one", "one2many", "many2many") else False

    def ident(self, record):
        return self._single(record).id

    def iterate(self, records):
        if isinstance(records, Rec):
            return [records]
        return list(records)

    def ref(self, record):
        rec = self._single(record)
        return f"{rec.model}({rec.id})"


ACCESS = FakeAccess()


def run_script(code, mode, ctx):
    """Test stand-in for safe_eval: expression, else statements setting `result`."""
    if mode == "evaluate":
        try:
            return eval(code, {}, ctx)
        except SyntaxError:
            pass
    exec(code, {}, ctx)
    return None


def partner(rid=42, **values):
    return Rec("res.partner", rid, **values)


def build(record, *lines, **kwargs):
    return build_payload(record, tuple(lines), ACCESS, **kwargs)


# --------------------------------------------------------------------------
# to_json_value
# --------------------------------------------------------------------------

@pytest.mark.parametrize("ftype, value, expected", [
    ("char", "Alice", "Alice"),
    ("char", False, None),
    ("char", "", None),
    ("char", None, None),
    ("text", "line1\nline2", "line1\nline2"),
    ("html", "<p>x</p>", "<p>x</p>"),
    ("html", False, None),
    ("boolean", True, True),
    ("boolean", False, False),
    ("boolean", None, False),
    ("integer", 7, 7),
    ("integer", 0, 0),
    ("integer", False, 0),
    ("float", 2.5, 2.5),
    ("float", 0.0, 0.0),
    ("float", False, 0.0),
    ("float", Decimal("1.25"), 1.25),
    ("monetary", Decimal("10.10"), 10.1),
    ("monetary", False, 0.0),
    ("date", dt.date(2024, 2, 29), "2024-02-29"),
    ("date", dt.datetime(2024, 2, 29, 23, 1), "2024-02-29"),
    ("date", False, None),
    ("datetime", dt.datetime(2024, 1, 2, 3, 4, 5, 678), "2024-01-02T03:04:05Z"),
    ("datetime", dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "2024-01-02T03:04:05Z"),
    ("datetime", "2024-01-02 03:04:05", "2024-01-02T03:04:05Z"),
    ("datetime", False, None),
    ("selection", "delivery", "delivery"),
    ("selection", False, None),
    ("binary", b"aGVsbG8=", "aGVsbG8="),
    ("binary", b"\xff\xfe", "//4="),
    ("binary", False, None),
    ("json", {"a": [1, 2]}, {"a": [1, 2]}),
    ("many2one_reference", 12, 12),
    ("many2one_reference", 0, None),
    ("unknown_type", Decimal("3.5"), 3.5),
    ("unknown_type", False, None),
])
def test_to_json_value_scalars(ftype, value, expected):
    result = to_json_value(ftype, value)
    assert result == expected
    assert type(result) is type(expected)


def test_to_json_value_relational_with_access():
    assert to_json_value("many2one", one("res.country", 5), ACCESS) == 5
    assert to_json_value("many2one", RecSet("res.country"), ACCESS) is None
    tags = RecSet("res.partner.category", Rec("res.partner.category", 1),
                  Rec("res.partner.category", 3))
    assert to_json_value("many2many", tags, ACCESS) == [1, 3]
    assert to_json_value("one2many", RecSet("res.partner"), ACCESS) == []
    assert to_json_value("reference", one("sale.order", 9), ACCESS) == "sale.order,9"
    assert to_json_value("reference", "sale.order,9", ACCESS) == "sale.order,9"
    assert to_json_value("reference", False, ACCESS) is None


def test_to_json_value_relational_without_access():
    assert to_json_value("many2one", (7, "Belgium")) == 7
    assert to_json_value("many2one", 7) == 7
    assert to_json_value("many2many", [1, 2]) == [1, 2]
    assert to_json_value("many2one", Rec("res.country", 8)) == 8


def test_to_json_value_markup_becomes_plain_str():
    class Markup(str):
        pass

    result = to_json_value("html", Markup("<b>x</b>"))
    assert result == "<b>x</b>" and type(result) is str


# --------------------------------------------------------------------------
# plain lines
# --------------------------------------------------------------------------

def test_plain_lines_all_field_types():
    rec = partner(
        name="Alice", email=False, comment="<p>hi</p>", active=True, is_company=False,
        color=0, credit_limit=False, balance=Decimal("12.5"),
        birthday=dt.date(1990, 5, 17), write_date=dt.datetime(2024, 3, 1, 8, 30),
        type="invoice", parent_id=one("res.partner", 7),
        category_id=RecSet("res.partner.category", Rec("res.partner.category", 2),
                           Rec("res.partner.category", 4)),
        image=b"aGk=", data={"k": 1}, res_id=3,
    )
    lines = [LineSpec(key, field) for key, field in [
        ("full_name", "name"), ("email", "email"), ("comment", "comment"),
        ("active", "active"), ("is_company", "is_company"), ("color", "color"),
        ("credit_limit", "credit_limit"), ("balance", "balance"),
        ("birthday", "birthday"), ("updated", "write_date"), ("type", "type"),
        ("parent", "parent_id"), ("country", "country_id"), ("tags", "category_id"),
        ("children", "child_ids"), ("image", "image"), ("data", "data"),
        ("res_id", "res_id"),
    ]]
    assert build(rec, *lines) == {
        "full_name": "Alice", "email": None, "comment": "<p>hi</p>", "active": True,
        "is_company": False, "color": 0, "credit_limit": 0.0, "balance": 12.5,
        "birthday": "1990-05-17", "updated": "2024-03-01T08:30:00Z", "type": "invoice",
        "parent": 7, "country": None, "tags": [2, 4], "children": [], "image": "aGk=",
        "data": {"k": 1}, "res_id": 3,
    }


def test_key_order_follows_lines():
    rec = partner(name="A", email="a@x")
    assert list(build(rec, LineSpec("z", "email"), LineSpec("a", "name"))) == ["z", "a"]


# --------------------------------------------------------------------------
# relational lines
# --------------------------------------------------------------------------

def test_relational_without_path_or_sub_lines_is_like_plain():
    rec = partner(country_id=one("res.country", 21), name="A")
    assert build(rec, LineSpec("country", "country_id", "relational"),
                 LineSpec("name", "name", "relational")) == {"country": 21, "name": "A"}


def test_relational_related_path_through_many2one():
    rec = partner(parent_id=one("res.partner", 7, name="Parent Co",
                                country_id=one("res.country", 21, code="BE")))
    lines = (
        LineSpec("company_name", "parent_id", "relational", related_path="name"),
        LineSpec("company_country", "parent_id", "relational", related_path="country_id.code"),
        LineSpec("company_country_id", "parent_id", "relational", related_path="country_id"),
    )
    assert build(rec, *lines) == {
        "company_name": "Parent Co", "company_country": "BE", "company_country_id": 21,
    }


def test_relational_path_leading_field_name_repeat_is_ignored():
    rec = partner(parent_id=one("res.partner", 7, name="Parent Co"))
    line = LineSpec("company_name", "parent_id", "relational", related_path="parent_id.name")
    assert build(rec, line) == {"company_name": "Parent Co"}
    only_field = LineSpec("company", "parent_id", "relational", related_path="parent_id")
    assert build(rec, only_field) == {"company": 7}


def test_relational_path_with_empty_many2one_hop_gives_null():
    rec = partner(parent_id=one("res.partner", 7, name="P"))
    line = LineSpec("code", "parent_id", "relational", related_path="country_id.code")
    assert build(rec, line) == {"code": None}
    name = LineSpec("n", "parent_id", "relational", related_path="name")
    assert build(partner(), name) == {"n": None}


def test_relational_path_through_x2many_gives_list():
    tags = RecSet("res.partner.category", Rec("res.partner.category", 1, name="VIP"),
                  Rec("res.partner.category", 2, name="EU"))
    rec = partner(category_id=tags)
    line = LineSpec("tag_names", "category_id", "relational", related_path="name")
    assert build(rec, line) == {"tag_names": ["VIP", "EU"]}
    empty = partner(category_id=RecSet("res.partner.category"))
    assert build(empty, line) == {"tag_names": []}


def test_relational_path_through_two_x2many_flattens_one_level_each():
    def order(rid, *products):
        lines = [Rec("sale.order.line", rid * 10 + i,
                     product_id=one("product.product", pid, default_code=code))
                 for i, (pid, code) in enumerate(products)]
        return Rec("sale.order", rid, line_ids=RecSet("sale.order.line", *lines))

    rec = partner(order_ids=RecSet("sale.order", order(1, (5, "A"), (6, "B")), order(2, (5, "A"))))
    line = LineSpec("codes", "order_ids", "relational",
                    related_path="line_ids.product_id.default_code")
    assert build(rec, line) == {"codes": ["A", "B", "A"]}
    ids = LineSpec("product_ids", "order_ids", "relational", related_path="line_ids.product_id")
    assert build(rec, ids) == {"product_ids": [5, 6, 5]}


def test_relational_path_x2many_leaf_ids_are_flattened():
    o1 = Rec("sale.order", 1, tag_ids=RecSet("t", Rec("t", 3), Rec("t", 4)))
    o2 = Rec("sale.order", 2, tag_ids=RecSet("t", Rec("t", 5)))
    rec = partner(order_ids=RecSet("sale.order", o1, o2))
    line = LineSpec("tags", "order_ids", "relational", related_path="tag_ids")
    assert build(rec, line) == {"tags": [3, 4, 5]}


def test_relational_path_json_leaf_list_is_not_flattened():
    # A list *value* at the leaf is one element, not something to merge.
    c1 = Rec("res.partner", 2, data=[1, 2])
    c2 = Rec("res.partner", 3, data=[3])
    rec = partner(child_ids=RecSet("res.partner", c1, c2))
    line = LineSpec("data", "child_ids", "relational", related_path="data")
    assert build(rec, line) == {"data": [[1, 2], [3]]}


def test_relational_many2one_sub_object():
    sub = (LineSpec("code", "code"), LineSpec("label", "name"))
    rec = partner(country_id=one("res.country", 21, code="BE", name="Belgium"))
    line = LineSpec("country", "country_id", "relational", sub_lines=sub)
    assert build(rec, line) == {"country": {"code": "BE", "label": "Belgium"}}
    assert build(partner(), line) == {"country": None}


def test_relational_x2many_array_of_sub_objects():
    sub = (LineSpec("id", "name"), LineSpec("color", "color"))
    tags = RecSet("res.partner.category", Rec("res.partner.category", 1, name="VIP", color=3),
                  Rec("res.partner.category", 2, name="EU"))
    line = LineSpec("tags", "category_id", "relational", sub_lines=sub)
    assert build(partner(category_id=tags), line) == {
        "tags": [{"id": "VIP", "color": 3}, {"id": "EU", "color": 0}],
    }
    assert build(partner(), line) == {"tags": []}


def test_relational_nested_sub_mappings_recurse():
    state_sub = (LineSpec("code", "code"),)
    country_sub = (LineSpec("code", "code"),
                   LineSpec("states", "state_ids", "relational", sub_lines=state_sub))
    country = one("res.country", 21, code="US", state_ids=RecSet(
        "res.country.state", Rec("res.country.state", 1, code="NY"),
        Rec("res.country.state", 2, code="CA")))
    line = LineSpec("country", "country_id", "relational", sub_lines=country_sub)
    assert build(partner(country_id=country), line) == {
        "country": {"code": "US", "states": [{"code": "NY"}, {"code": "CA"}]},
    }


def test_relational_path_then_sub_lines():
    sub = (LineSpec("iso", "code"),)
    rec = partner(parent_id=one("res.partner", 7, country_id=one("res.country", 21, code="BE")))
    line = LineSpec("parent_country", "parent_id", "relational",
                    related_path="country_id", sub_lines=sub)
    assert build(rec, line) == {"parent_country": {"iso": "BE"}}


def test_relational_path_past_scalar_field_is_an_error():
    line = LineSpec("x", "parent_id", "relational", related_path="name.first", label="line 2 (x)")
    rec = partner(parent_id=one("res.partner", 7, name="P"))
    with pytest.raises(MappingError) as info:
        build(rec, line, config_name="Cfg")
    assert str(info.value) == (
        'Mapping failed for config "Cfg", line 2 (x), record res.partner(42): '
        'related path "name.first" cannot continue past "parent_id.name": '
        "it is a char field, not a relational one"
    )


def test_sub_lines_on_scalar_field_is_an_error():
    line = LineSpec("x", "name", "relational", sub_lines=(LineSpec("a", "name"),))
    message = "needs a many2one, one2many or many2many field, not char"
    with pytest.raises(MappingError, match=message):
        build(partner(name="A"), line)


def test_recursion_guard():
    spec = LineSpec("leaf", "name")
    for _ in range(mapping_out.MAX_DEPTH):
        spec = LineSpec("parent", "parent_id", "relational", sub_lines=(spec,), label="L")
    with pytest.raises(MappingError) as info:
        build(partner(), spec, config_name="Loop")
    assert f"nested mappings deeper than {mapping_out.MAX_DEPTH} levels" in str(info.value)
    assert "cycle" in str(info.value)
    assert info.value.config_name == "Loop"
    assert info.value.line_label == " > ".join(["L"] * mapping_out.MAX_DEPTH)


def test_recursion_at_max_depth_is_allowed():
    spec = LineSpec("name", "name")
    rec = partner(name="root")
    for i in range(mapping_out.MAX_DEPTH - 1):
        spec = LineSpec("parent", "parent_id", "relational", sub_lines=(spec,))
        rec = partner(100 + i, parent_id=RecSet("res.partner", rec))
    payload = build(rec, spec)
    for _ in range(mapping_out.MAX_DEPTH - 1):
        payload = payload["parent"]
    assert payload == {"name": "root"}


def test_nested_error_names_outer_line_and_inner_record():
    class Boom(FakeAccess):
        def read(self, record, field_name):
            if field_name == "code":
                raise KeyError("code")
            return super().read(record, field_name)

    sub = (LineSpec("code", "code", label="line 1 (code)"),)
    line = LineSpec("country", "country_id", "relational", sub_lines=sub, label="line 4 (country)")
    rec = partner(country_id=one("res.country", 21))
    with pytest.raises(MappingError) as info:
        build_payload(rec, (line,), Boom(), config_name="C")
    assert str(info.value) == (
        'Mapping failed for config "C", line 4 (country) > line 1 (code), '
        "record res.country(21): KeyError: 'code'"
    )
    assert isinstance(info.value.__cause__, KeyError)


# --------------------------------------------------------------------------
# python lines
# --------------------------------------------------------------------------

def test_python_evaluate_expression_with_value_and_record():
    rec = partner(name="alice")
    line = LineSpec("upper", "name", "python", python_code="value.upper() + str(record.id)")
    assert build(rec, line, run_script=run_script) == {"upper": "ALICE42"}


def test_python_evaluate_result_variable():
    code = "parts = value.split('@')\nresult = parts[1]"
    line = LineSpec("domain", "email", "python", python_code=code)
    payload = build(partner(email="a@example.com"), line, run_script=run_script)
    assert payload == {"domain": "example.com"}


def test_python_without_field_gets_value_none_and_script_context():
    seen = {}

    def runner(code, mode, ctx):
        seen.update(ctx)
        return run_script(code, mode, ctx)

    line = LineSpec("const", None, "python", python_code="prefix + str(value)")
    rec = partner()
    ctx = {"prefix": "v:", "result": "stale"}
    payload = build(rec, line, run_script=runner, script_context=ctx)
    assert payload == {"const": "v:None"}
    assert seen["record"] is rec and seen["records"] is rec and seen["value"] is None
    assert "result" not in seen


def test_python_value_is_plain_converted_value():
    line = LineSpec("d", "birthday", "python", python_code="value")
    rec = partner(birthday=dt.date(2000, 1, 2))
    assert build(rec, line, run_script=run_script) == {"d": "2000-01-02"}


def test_python_result_dates_and_decimals_become_json():
    line = LineSpec("r", None, "python",
                    python_code="[d, {'x': m}]")
    ctx = {"d": dt.datetime(2024, 5, 6, 7, 8, 9), "m": Decimal("1.5")}
    assert build(partner(), line, run_script=run_script, script_context=ctx) == {
        "r": ["2024-05-06T07:08:09Z", {"x": 1.5}],
    }


def test_python_execute_sets_no_key_but_runs():
    calls = []
    line = LineSpec("ignored", "name", "python", python_code="calls.append(value)",
                    python_mode="execute")
    payload = build(partner(name="A"), LineSpec("n", "name"), line,
                    run_script=run_script, script_context={"calls": calls})
    assert payload == {"n": "A"}
    assert calls == ["A"]


def test_relational_python_gets_relational_value():
    tags = RecSet("res.partner.category", Rec("res.partner.category", 1, name="VIP"),
                  Rec("res.partner.category", 2, name="EU"))
    line = LineSpec("tags", "category_id", "relational_python", related_path="name",
                    python_code="', '.join(value)")
    assert build(partner(category_id=tags), line, run_script=run_script) == {"tags": "VIP, EU"}
    sub = LineSpec("c", "country_id", "relational_python", sub_lines=(LineSpec("code", "code"),),
                   python_code="value and value['code'].lower()")
    rec = partner(country_id=one("res.country", 1, code="BE"))
    assert build(rec, sub, run_script=run_script) == {"c": "be"}


def test_script_error_names_config_line_and_record():
    line = LineSpec("email", "email", "python", python_code="1 / 0", label="line 3 (email)")
    with pytest.raises(MappingError) as info:
        build(partner(email="x"), line, run_script=run_script, config_name="Customer to CRM")
    err = info.value
    assert str(err) == (
        'Mapping failed for config "Customer to CRM", line 3 (email), '
        "record res.partner(42): ZeroDivisionError: division by zero"
    )
    assert (err.config_name, err.line_label, err.record_ref) == (
        "Customer to CRM", "line 3 (email)", "res.partner(42)")
    assert isinstance(err.cause, ZeroDivisionError)
    assert err.__cause__ is err.cause
    # the original traceback reaches the failing script frame
    tb = err.__cause__.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    assert tb.tb_frame.f_code.co_filename == "<string>"


def test_default_label_is_position_and_key():
    line = LineSpec("email", "email", "python", python_code="boom")
    with pytest.raises(MappingError) as info:
        build(partner(), LineSpec("n", "name"), line, run_script=run_script, config_name="C")
    assert info.value.line_label == "line 2 (email)"
    assert "NameError" in str(info.value)


def test_access_error_is_wrapped():
    class Broken(FakeAccess):
        def read(self, record, field_name):
            raise RuntimeError("db gone")

    with pytest.raises(MappingError) as info:
        build_payload(partner(), (LineSpec("n", "name", label="line 1 (n)"),), Broken(),
                      config_name="C")
    assert str(info.value) == (
        'Mapping failed for config "C", line 1 (n), record res.partner(42): '
        "RuntimeError: db gone"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_python_line_without_runner_is_an_error():
    line = LineSpec("x", None, "python", python_code="1", label="line 1 (x)")
    with pytest.raises(MappingError) as info:
        build(partner(), line, config_name="C")
    assert info.value.line_label == "line 1 (x)"
    assert "no script runner" in str(info.value)
    nested = LineSpec("c", "country_id", "relational", sub_lines=(line,), label="line 2 (c)")
    with pytest.raises(MappingError) as info:
        build(partner(), nested)
    assert info.value.line_label == "line 2 (c) > line 1 (x)"


@pytest.mark.parametrize("spec, message", [
    (LineSpec("x", "name", "weird"), 'unknown value type "weird"'),
    (LineSpec("x", None, "plain"), "a plain line needs a field"),
    (LineSpec("x", "name", "python"), "the line has no python code"),
    (LineSpec("x", "name", "python", python_code="1", python_mode="run"),
     'unknown python mode "run"'),
    (LineSpec("a..b", "name"), 'invalid external key "a..b"'),
    (LineSpec("", "name"), 'invalid external key ""'),
    (LineSpec("x", "parent_id", "relational", related_path="a..b"),
     'related path "a..b" has an empty segment'),
])
def test_invalid_lines(spec, message):
    with pytest.raises(MappingError) as info:
        build(partner(), spec, run_script=run_script)
    assert message in str(info.value)


# --------------------------------------------------------------------------
# dotted keys
# --------------------------------------------------------------------------

def test_dotted_keys_build_nested_objects():
    rec = partner(name="A", email="a@x", country_id=one("res.country", 3, code="BE"))
    lines = (
        LineSpec("contact.name", "name"),
        LineSpec("contact.address.country", "country_id", "relational", related_path="code"),
        LineSpec("contact.email", "email"),
        LineSpec("id", "name"),
    )
    assert build(rec, *lines) == {
        "contact": {"name": "A", "address": {"country": "BE"}, "email": "a@x"}, "id": "A",
    }


@pytest.mark.parametrize("first, second", [
    ("address", "address.city"),
    ("address.city", "address"),
])
def test_dotted_key_conflict(first, second):
    lines = (LineSpec(first, "name", label="L1"), LineSpec(second, "email", label="L2"))
    with pytest.raises(MappingError) as info:
        build(partner(), *lines, config_name="C")
    assert 'needs "address" to be an object, but L' in str(info.value)
    assert info.value.line_label in ("L1", "L2")


def test_execute_line_key_does_not_conflict():
    lines = (LineSpec("address", None, "python", python_code="0", python_mode="execute"),
             LineSpec("address.city", "name"))
    assert build(partner(name="X"), *lines, run_script=run_script) == {"address": {"city": "X"}}


def test_duplicate_leaf_key_last_wins():
    lines = (LineSpec("k", "name"), LineSpec("k", "email"))
    assert build(partner(name="A", email="e"), *lines) == {"k": "e"}


def test_set_dotted_and_conflicts():
    target = {}
    set_dotted(target, "a.b.c", 1)
    set_dotted(target, "a.b.d", 2)
    set_dotted(target, "x", 3)
    assert target == {"a": {"b": {"c": 1, "d": 2}}, "x": 3}
    with pytest.raises(MappingError, match='needs "x" to be an object'):
        set_dotted(target, "x.y", 4)
    with pytest.raises(MappingError, match="already the parent"):
        set_dotted(target, "a.b", 5)
    with pytest.raises(MappingError, match="invalid external key"):
        set_dotted(target, "a.", 5)
    assert target == {"a": {"b": {"c": 1, "d": 2}}, "x": 3}


def test_get_dotted():
    src = {"a": {"b": {"c": 1}, "n": None}, "flat.key": 2, "s": "str"}
    assert get_dotted(src, "a.b.c") == 1
    assert get_dotted(src, "a.b") == {"c": 1}
    assert get_dotted(src, "flat.key") == 2
    assert get_dotted(src, "a.n", "missing") is None
    assert get_dotted(src, "a.x", "missing") == "missing"
    assert get_dotted(src, "s.x", "missing") == "missing"
    assert get_dotted(src, "", "missing") == "missing"
    assert get_dotted(None, "a") is None


# --------------------------------------------------------------------------
# many records, plan caching, no mutation
# --------------------------------------------------------------------------

def test_build_payloads_many_records():
    records = RecSet("res.partner", *[
        partner(i, name=f"P{i}", parent_id=one("res.partner", i + 100000, name=f"Co{i}"))
        for i in range(1, 5001)
    ])
    lines = (LineSpec("id", "parent_id"), LineSpec("info.name", "name"),
             LineSpec("info.company", "parent_id", "relational", related_path="name"))
    payloads = build_payloads(records, lines, ACCESS, config_name="Bulk")
    assert len(payloads) == 5000
    assert payloads[0] == {"id": 100001, "info": {"name": "P1", "company": "Co1"}}
    assert payloads[-1] == {"id": 105000, "info": {"name": "P5000", "company": "Co5000"}}
    assert build_payloads(RecSet("res.partner"), lines, ACCESS) == []


def test_build_payloads_error_names_failing_record():
    records = RecSet("res.partner", partner(1, email="a"), partner(2, email=None))
    line = LineSpec("e", "email", "python", python_code="value.upper()", label="line 1 (e)")
    with pytest.raises(MappingError) as info:
        build_payloads(records, (line,), ACCESS, run_script=run_script, config_name="C")
    assert info.value.record_ref == "res.partner(2)"


def test_plan_is_compiled_once_per_lines():
    mapping_out._compile.cache_clear()
    lines = (LineSpec("n", "name"),)
    for i in range(50):
        build_payload(partner(i, name="x"), lines, ACCESS)
    build_payload(partner(name="x"), list(lines), ACCESS)
    info = mapping_out._compile.cache_info()
    assert (info.misses, info.hits) == (1, 50)


def test_inputs_not_mutated():
    data = {"k": [1]}
    ctx = {"extra": 1}
    rec = partner(data=data)
    assert build(rec, LineSpec("d", "data"), LineSpec("x", None, "python", python_code="extra"),
                 run_script=run_script, script_context=ctx) == {"d": {"k": [1]}, "x": 1}
    assert ctx == {"extra": 1}
    assert data == {"k": [1]}


def test_module_does_not_import_odoo():
    source = pathlib.Path(mapping_out.__file__).read_text(encoding="utf-8")
    assert "import odoo" not in source and "from odoo" not in source


# --------------------------------------------------------------------------
# line ids in errors
# --------------------------------------------------------------------------

def test_error_carries_the_failing_line_id():
    line = LineSpec("email", "email", "python", python_code="1 / 0", label="line 3 (email)",
                    line_id=77)
    with pytest.raises(MappingError) as info:
        build(partner(email="x"), line, run_script=run_script, config_name="C")
    assert info.value.line_id == 77
    assert info.value.details == {"config": "C", "line": "line 3 (email)", "line_id": 77,
                                  "record": "res.partner(42)"}


def test_nested_error_carries_the_inner_line_id():
    sub = (LineSpec("code", "code", "python", python_code="1 / 0", label="line 1 (code)",
                    line_id=5),)
    line = LineSpec("country", "country_id", "relational", sub_lines=sub,
                    label="line 4 (country)", line_id=9)
    rec = partner(country_id=one("res.country", 21))
    with pytest.raises(MappingError) as info:
        build_payload(rec, (line,), FakeAccess(), run_script=run_script, config_name="C")
    assert info.value.line_id == 5
    assert info.value.details["line"] == "line 4 (country) > line 1 (code)"


def test_inconsistent_lines_name_the_line_id():
    lines = (LineSpec("a", "name", line_id=1), LineSpec("a.b", "email", line_id=2))
    with pytest.raises(MappingError) as info:
        build_payload(partner(name="n", email="e"), lines, FakeAccess())
    assert info.value.line_id == 2
    bad_type = (LineSpec("x", "name", value_type="nope", line_id=3),)
    with pytest.raises(MappingError) as info:
        build_payload(partner(name="n"), bad_type, FakeAccess())
    assert info.value.line_id == 3


def test_details_leave_out_what_is_unknown():
    assert MappingError("boom").details == {}
    assert "line_id" not in MappingError("boom", line_label="line 1 (a)").details
