"""Tests of the row fast path (bj_api_sync.engine.row_mapping), no Odoo needed.

The reference is the generic builder (engine.mapping_out.build_payloads) over fake
records that convert database values the way Odoo's ORM does (NULL char ->
False, NULL integer -> 0, many2one id -> record ...): for every plan the row
path must give the very same payloads from the raw column values.
"""
import datetime as dt
import random

import pytest

from bj_api_sync.engine import mapping_out, row_mapping
from bj_api_sync.engine.mapping_out import LineSpec

SCHEMA = {
    "partner": {
        "id": ("integer", None), "name": ("char", None), "note": ("html", None),
        "active": ("boolean", None), "color": ("integer", None), "credit": ("float", None),
        "amount": ("monetary", None), "birthday": ("date", None), "seen": ("datetime", None),
        "kind": ("selection", None), "parent_id": ("many2one", "partner"),
        "country_id": ("many2one", "country"), "tag_ids": ("many2many", "tag"),
        "photo": ("binary", None),
    },
    "country": {"id": ("integer", None), "name": ("char", None), "code": ("char", None),
                "zone_id": ("many2one", "zone")},
    "zone": {"id": ("integer", None), "name": ("char", None), "rank": ("integer", None)},
}
ROW_TYPES = row_mapping.ROW_TYPES


def schema(model, name):
    info = SCHEMA[model].get(name)
    return info if info and info[0] in ROW_TYPES else None


def random_value(rng, ftype, ids):
    if rng.random() < 0.25:
        return None  # SQL NULL
    return {
        "char": lambda: rng.choice(["Alice", "", "Ünïcode ✓", "a.b"]),
        "html": lambda: "<p>hi</p>",
        "boolean": lambda: rng.random() < 0.5,
        "integer": lambda: rng.randint(-5, 5),
        "float": lambda: rng.choice([0.0, 1.5, -2.25]),
        "monetary": lambda: rng.choice([0.0, 10.01]),
        "date": lambda: dt.date(2024, 2, rng.randint(1, 28)),
        "datetime": lambda: dt.datetime(2024, 2, 3, 4, 5, 6, 789),
        "selection": lambda: rng.choice(["contact", "invoice"]),
        "many2one": lambda: rng.choice(ids),
    }[ftype]()


def make_db(rng, size=12):
    """{model: {id: {field: raw column value}}} with links between the models."""
    ids = {model: list(range(1, size + 1)) for model in SCHEMA}
    db = {}
    for model, fields in SCHEMA.items():
        db[model] = {}
        for rid in ids[model]:
            row = {"id": rid}
            for name, (ftype, comodel) in fields.items():
                if name != "id" and ftype in ROW_TYPES:
                    row[name] = random_value(rng, ftype, ids.get(comodel))
            db[model][rid] = row
    return db


class Rec:
    def __init__(self, db, model, rid):
        self.db, self.model, self.id = db, model, rid

    def __bool__(self):
        return self.id is not None


class OrmLikeAccess:
    """Reads fake rows converting NULLs and ids as Odoo's ORM does."""

    EMPTY = {"char": False, "html": False, "selection": False, "date": False,
             "datetime": False, "integer": 0, "float": 0.0, "monetary": 0.0,
             "boolean": False}

    def field_type(self, record, name):
        return SCHEMA[record.model][name][0]

    def read(self, record, name):  # pylint: disable=method-required-super
        ftype, comodel = SCHEMA[record.model][name]
        raw = record.db[record.model][record.id][name] if name != "id" else record.id
        if ftype == "many2one":
            return Rec(record.db, comodel, raw)
        return self.EMPTY[ftype] if raw is None else raw

    def ident(self, record):
        return record.id

    def iterate(self, records):
        return list(records)

    def ref(self, record):
        return f"{record.model}({record.id})"


def rows_for(row_plan, db, ids):
    """Read a plan's sources from the fake db as the Odoo layer reads tables."""
    tables = {}
    for source in row_plan.sources:
        wanted = ids if source.parent is None else row_plan.referenced_ids(source, tables)
        tables[source.path] = {
            rid: tuple(db[source.model][rid][c] for c in source.columns) for rid in wanted
        }
    return tables


def both(lines, db, ids):
    lines = tuple(lines)
    row_plan = row_mapping.plan(lines, "partner", schema)
    assert row_plan is not None
    fast = row_plan.build(ids, rows_for(row_plan, db, ids))
    records = [Rec(db, "partner", rid) for rid in ids]
    slow = mapping_out.build_payloads(records, lines, OrmLikeAccess())
    return fast, slow


def random_line(rng, n):
    key = rng.choice(["a", "b", "c", "x.y", "x.z", "deep.er.key", "id"]) + str(rng.randint(0, 2))
    if rng.random() < 0.5:
        name = rng.choice([f for f, (t, _c) in SCHEMA["partner"].items() if t in ROW_TYPES])
        return LineSpec(external_key=key, field_name=name, label=f"line {n}")
    # a relational path of 1 to 3 hops through many2one fields
    model, path = "partner", []
    for _hop in range(rng.randint(1, 3)):
        m2o = [f for f, (t, _c) in SCHEMA[model].items() if t == "many2one"]
        if not m2o:
            break
        hop = rng.choice(m2o)
        path.append(hop)
        model = SCHEMA[model if model else "partner"][hop][1]
    last = rng.choice([f for f, (t, _c) in SCHEMA[model].items() if t in ROW_TYPES])
    path.append(last)
    return LineSpec(external_key=key, field_name=path[0], value_type="relational",
                    related_path=".".join(path[1:]) or None, label=f"line {n}")


@pytest.mark.parametrize("seed", range(300))
def test_same_payloads_as_the_generic_builder(seed):
    rng = random.Random(seed)
    db = make_db(rng)
    lines = [random_line(rng, n) for n in range(1, rng.randint(1, 8) + 1)]
    try:
        mapping_out.compile_lines(lines)
    except mapping_out.MappingError:
        # "x" both a value and an object: the row path declines, the generic
        # builder reports the conflict.
        assert row_mapping.plan(lines, "partner", schema) is None
        return
    ids = [rng.randint(1, 12) for _i in range(rng.randint(1, 15))]
    fast, slow = both(lines, db, ids)
    assert fast == slow
    # Same key order too: the JSON text sent is the same.
    assert [list(p) for p in fast] == [list(p) for p in slow]


def test_values_nulls_and_empty_links():
    db = {
        "partner": {1: {"id": 1, "name": None, "color": None, "credit": None, "active": None,
                        "birthday": dt.date(2024, 1, 2), "seen": dt.datetime(2024, 1, 2, 3, 4, 5),
                        "kind": None, "parent_id": None, "country_id": 7, "note": "<b>x</b>",
                        "amount": 2.5}},
        "country": {7: {"id": 7, "name": "Belgium", "code": "BE", "zone_id": None}},
        "zone": {},
    }
    lines = [
        LineSpec("name", "name"), LineSpec("color", "color"), LineSpec("credit", "credit"),
        LineSpec("active", "active"), LineSpec("when.day", "birthday"),
        LineSpec("when.at", "seen"), LineSpec("kind", "kind"), LineSpec("parent", "parent_id"),
        LineSpec("country", "country_id", "relational", "code"),
        LineSpec("zone", "country_id", "relational", "zone_id.name"),
        LineSpec("parent_country", "parent_id", "relational", "country_id.code"),
        LineSpec("note", "note"), LineSpec("amount", "amount"), LineSpec("id", "id"),
    ]
    fast, slow = both(lines, db, [1])
    assert fast == slow == [{
        "name": None, "color": 0, "credit": 0.0, "active": False,
        "when": {"day": "2024-01-02", "at": "2024-01-02T03:04:05Z"}, "kind": None,
        "parent": None, "country": "BE", "zone": None, "parent_country": None,
        "note": "<b>x</b>", "amount": 2.5, "id": 1,
    }]


def test_sources_read_in_order_of_their_links():
    lines = (LineSpec("zone", "country_id", "relational", "zone_id.rank"),
             LineSpec("p", "parent_id", "relational", "country_id.code"))
    row_plan = row_mapping.plan(lines, "partner", schema)
    paths = [s.path for s in row_plan.sources]
    assert paths[0] == ()
    for source in row_plan.sources[1:]:
        assert paths.index(source.parent) < paths.index(source.path)
    by_path = {s.path: s for s in row_plan.sources}
    assert by_path[()].columns == ("id", "country_id", "parent_id")
    assert by_path[("country_id", "zone_id")].columns == ("id", "rank")
    assert by_path[("parent_id", "country_id")].model == "country"


@pytest.mark.parametrize("line", [
    LineSpec("t", "tag_ids"),  # x2many
    LineSpec("p", "photo"),  # binary
    LineSpec("s", "name", "python", python_code="value"),
    LineSpec("s", "name", "relational_python", python_code="value"),
    LineSpec("c", "country_id", "relational", "code.more"),  # path past a char
    LineSpec("c", "country_id", "relational", "nope"),  # unknown field
    LineSpec("c", "country_id", "relational",
             sub_lines=(LineSpec("code", "code"),)),  # nested mapping
    LineSpec("x", None, "python", python_code="1"),
])
def test_lines_the_row_path_leaves_to_the_generic_builder(line):
    assert row_mapping.plan((LineSpec("name", "name"), line), "partner", schema) is None


def test_inconsistent_lines_are_left_to_the_generic_builder():
    lines = (LineSpec("a", "name"), LineSpec("a.b", "color"))
    assert row_mapping.plan(lines, "partner", schema) is None
    with pytest.raises(mapping_out.MappingError, match='needs "a" to be an object'):
        mapping_out.build_payloads([], lines, OrmLikeAccess())


def test_duplicates_and_order_follow_the_ids():
    db = make_db(random.Random(1))
    fast, slow = both([LineSpec("id", "id"), LineSpec("n", "name")], db, [3, 1, 3])
    assert [p["id"] for p in fast] == [3, 1, 3]
    assert fast == slow


def test_no_lines_gives_empty_objects():
    db = make_db(random.Random(2))
    fast, slow = both([], db, [1, 2])
    assert fast == slow == [{}, {}]


def test_one_line_and_duplicate_keys_keep_the_generic_order():
    db = make_db(random.Random(3))
    fast, slow = both([LineSpec("n", "name")], db, [1, 2])
    assert fast == slow
    lines = [LineSpec("a", "name"), LineSpec("b", "color"), LineSpec("a", "id")]
    fast, slow = both(lines, db, [4, 5])
    assert fast == slow and [list(p) for p in fast] == [["a", "b"]] * 2
    assert [p["a"] for p in fast] == [4, 5]
