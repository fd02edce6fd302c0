"""Tests of bj_api_sync.engine.query: domain, order, fields and paging validation."""
from urllib.parse import parse_qsl, urlsplit

import pytest

from bj_api_sync.engine.errors import ApiError
from bj_api_sync.engine.query import (
    DOMAIN_OPERATORS,
    MAX_DOMAIN_TERMS,
    pagination_block,
    parse_domain,
    parse_fields,
    parse_order,
    parse_paging,
)

FIELDS = {
    "name": {"type": "char", "string": "Name", "store": True},
    "email": {"type": "char", "string": "Email", "store": True},
    "customer_rank": {"type": "integer", "store": True},
    "active": {"type": "boolean", "store": True},
    "partner_id": {"type": "many2one", "relation": "res.partner", "store": True},
    "child_ids": {"type": "one2many", "relation": "res.partner", "store": True},
    "category_id": {"type": "many2many", "relation": "res.partner.category", "store": True},
    "image_1920": {"type": "binary", "store": True},
    "properties": {"type": "json", "store": True},
    "comment": {"type": "html", "store": True},
    "display_name": {"type": "char", "store": False},
    "write_date": {"type": "datetime", "store": True},
    "note": {"type": "text"},  # no "store" key: counts as stored
}


def _error(func, *args, **kwargs):
    with pytest.raises(ApiError) as info:
        func(*args, **kwargs)
    exc = info.value
    assert exc.code == "VALIDATION_ERROR"
    assert exc.status == 400
    return exc


# -- parse_domain ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", [], "[]", ()])
def test_domain_empty(raw):
    assert parse_domain(raw, FIELDS) == []


def test_domain_json_text():
    assert parse_domain('[["customer_rank",">",0]]', FIELDS) == [("customer_rank", ">", 0)]


def test_domain_terms_become_tuples_and_list_values_lists():
    result = parse_domain([["name", "in", ("a", "b")], ("id", "=", 3)], FIELDS)
    assert result == [("name", "in", ["a", "b"]), ("id", "=", 3)]
    assert all(isinstance(t, tuple) for t in result)
    assert isinstance(result[0][2], list)


def test_domain_python_literal_fallback():
    raw = "[('active', '=', True), '|', ('name', 'ilike', 'x'), ('email', '=', None)]"
    assert parse_domain(raw, FIELDS) == [
        ("active", "=", True), "|", ("name", "ilike", "x"), ("email", "=", None),
    ]


def test_domain_python_literal_tuple_top_level():
    assert parse_domain("(('name', '=', 'x'),)", FIELDS) == [("name", "=", "x")]


def test_domain_json_booleans_and_null():
    assert parse_domain('[["active","=",true],["email","!=",null]]', FIELDS) == [
        ("active", "=", True), ("email", "!=", None),
    ]


@pytest.mark.parametrize("raw", [
    "__import__('os')",
    "__import__('os').system('true')",
    "[('name', '=', __import__('os').getcwd())]",
    "[('name', '=', open('/etc/passwd').read())]",
    "[(lambda: 1)()]",
    "[x for x in ()]",
    "[('name', '=', 2**100000)]",
    "[('name', '=', 'a' * 10)]",
])
def test_domain_never_evaluates_code(raw, monkeypatch):
    import builtins
    import os

    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda *a, **k: called.append(a) or real_import(*a, **k))
    exc = _error(parse_domain, raw, FIELDS)
    assert "neither valid JSON nor a Python literal" in exc.message
    assert exc.details == {"parameter": "domain"}
    assert not [c for c in called if c and c[0] == "os"]


def test_domain_invalid_text():
    exc = _error(parse_domain, "[[name = x]]", FIELDS)
    assert exc.details["parameter"] == "domain"


@pytest.mark.parametrize("raw,kind", [
    ('{"name": "x"}', "dict"),
    ({"name": "x"}, "dict"),
    ('"name"', "str"),
    ("42", "int"),
    (42, "int"),
])
def test_domain_must_be_a_list(raw, kind):
    exc = _error(parse_domain, raw, FIELDS)
    assert exc.message == f"The domain must be a list of terms, got {kind}"
    assert exc.details == {"parameter": "domain"}


def test_domain_item_dict_rejected():
    exc = _error(parse_domain, [{"field": "name"}], FIELDS)
    assert exc.message.startswith("domain[0]: expected a term")
    assert "dict" in exc.message
    assert exc.details == {"parameter": "domain", "index": 0}


def test_domain_item_number_rejected():
    exc = _error(parse_domain, [["name", "=", "x"], 1], FIELDS)
    assert exc.details == {"parameter": "domain", "index": 1}


@pytest.mark.parametrize("term,size", [
    (["name", "="], 2),
    (["name", "=", "x", "y"], 4),
    ([], 0),
    (["&"], 1),
])
def test_domain_term_arity(term, size):
    exc = _error(parse_domain, [term], FIELDS)
    assert exc.message == (
        f"domain[0]: a term must have exactly 3 elements [field, operator, value], got {size}"
    )
    assert exc.details == {"parameter": "domain", "index": 0}


def test_domain_unknown_string_item():
    exc = _error(parse_domain, ["AND", ["name", "=", "x"], ["id", "=", 1]], FIELDS)
    assert "'AND' is not a logical operator" in exc.message
    assert exc.details == {"parameter": "domain", "index": 0}


@pytest.mark.parametrize("operator", ["==", "regex", "~", "SIMILAR TO", "; DROP", "any", ""])
def test_domain_bad_operator(operator):
    exc = _error(parse_domain, [["name", operator, "x"]], FIELDS)
    assert exc.message.startswith(f"domain[0]: operator {operator!r} is not allowed")
    assert exc.details == {"parameter": "domain", "index": 0, "operator": operator}


def test_domain_non_string_operator():
    exc = _error(parse_domain, [["name", 1, "x"]], FIELDS)
    assert exc.details == {"parameter": "domain", "index": 0, "operator": "1"}


@pytest.mark.parametrize("operator", DOMAIN_OPERATORS)
def test_domain_every_operator_allowed(operator):
    value = [1, 2] if operator in ("in", "not in") else 1
    assert parse_domain([["customer_rank", operator, value]], FIELDS) == [
        ("customer_rank", operator, value)
    ]


def test_domain_operator_case_normalised():
    assert parse_domain([["name", "ILIKE", "x"], ["id", "Not In", [1]]], FIELDS) == [
        ("name", "ilike", "x"), ("id", "not in", [1]),
    ]


def test_domain_field_not_in_allowlist():
    exc = _error(parse_domain, '[["password","=","x"]]', FIELDS)
    assert exc.message == "domain[0]: field 'password' is not available on this resource"
    assert exc.details == {"parameter": "domain", "index": 0, "field": "password"}


def test_domain_dotted_path_checks_first_segment():
    assert parse_domain([["partner_id.name", "ilike", "x"]], FIELDS) == [
        ("partner_id.name", "ilike", "x")
    ]
    exc = _error(parse_domain, [["name", "=", "x"], ["user_id.login", "=", "admin"]], FIELDS)
    assert exc.message == "domain[1]: field 'user_id' is not available on this resource"
    assert exc.details == {"parameter": "domain", "index": 1, "field": "user_id"}


def test_domain_id_always_allowed():
    assert parse_domain([["id", ">", 5]], {}) == [("id", ">", 5)]


@pytest.mark.parametrize("path", [
    "Name", "name;drop", "name--", "partner_id..name", ".name", "name.", "1name",
    "name)", "name OR 1=1", "", "partner_id.Name", "na me",
])
def test_domain_field_path_syntax(path):
    exc = _error(parse_domain, [[path, "=", "x"]], FIELDS)
    assert exc.message == f"domain[0]: {path!r} is not a valid field path"
    assert exc.details == {"parameter": "domain", "index": 0, "field": path}


def test_domain_field_must_be_string():
    exc = _error(parse_domain, [[1, "=", 1]], FIELDS)
    assert exc.message == "domain[0]: the field of a term must be a string"


@pytest.mark.parametrize("value", [{"a": 1}, [{"a": 1}], [[1, 2]], float("nan"),
                                   float("inf"), {1, 2}, b"x", 1j])
def test_domain_bad_values(value):
    operator = "in" if isinstance(value, list) else "="
    exc = _error(parse_domain, [["name", operator, value]], FIELDS)
    assert "domain[0]: the value" in exc.message
    assert "'name'" in exc.message
    assert exc.details == {"parameter": "domain", "index": 0, "field": "name"}


def test_domain_nan_from_json_text_rejected():
    exc = _error(parse_domain, '[["customer_rank", ">", NaN]]', FIELDS)
    assert exc.details["field"] == "customer_rank"


@pytest.mark.parametrize("operator", ["in", "not in"])
def test_domain_in_needs_a_list(operator):
    exc = _error(parse_domain, [["id", operator, 5]], FIELDS)
    assert exc.message == f"domain[0]: operator {operator!r} needs a list of values"
    assert exc.details == {"parameter": "domain", "index": 0, "field": "id",
                           "operator": operator}


@pytest.mark.parametrize("operator", ["=", "ilike", "<", "=?"])
def test_domain_scalar_operators_refuse_lists(operator):
    exc = _error(parse_domain, [["name", operator, ["a", "b"]]], FIELDS)
    assert exc.message == f"domain[0]: operator {operator!r} takes a single value, not a list"


@pytest.mark.parametrize("operator", ["child_of", "parent_of"])
def test_domain_hierarchy_operators_take_scalar_or_list(operator):
    assert parse_domain([["partner_id", operator, 3]], FIELDS) == [("partner_id", operator, 3)]
    assert parse_domain([["partner_id", operator, [3, 4]]], FIELDS) == [
        ("partner_id", operator, [3, 4])
    ]


@pytest.mark.parametrize("domain", [
    ["|", ["name", "=", "a"], ["name", "=", "b"]],
    ["!", ["name", "=", "a"]],
    ["&", "|", ["name", "=", "a"], ["name", "=", "b"], ["id", ">", 1]],
    ["|", "!", ["name", "=", "a"], ["id", ">", 1]],
    # implicit '&' between top-level expressions
    [["name", "=", "a"], ["id", ">", 1], "|", ["id", "=", 1], ["id", "=", 2]],
    ["!", "!", ["name", "=", "a"], ["id", "=", 1]],
])
def test_domain_well_formed_polish_notation(domain):
    result = parse_domain(domain, FIELDS)
    assert len(result) == len(domain)


@pytest.mark.parametrize("domain,index,operator,arity,found", [
    (["|", ["name", "=", "a"]], 0, "|", 2, 1),
    (["&"], 0, "&", 2, 0),
    (["!"], 0, "!", 1, 0),
    ([["name", "=", "a"], "|"], 1, "|", 2, 0),
    (["|", "|", ["name", "=", "a"], ["name", "=", "b"]], 0, "|", 2, 1),
    ([["name", "=", "a"], "!"], 1, "!", 1, 0),
])
def test_domain_operator_without_operands(domain, index, operator, arity, found):
    exc = _error(parse_domain, domain, FIELDS)
    assert exc.message == (
        f"domain[{index}]: operator {operator!r} needs {arity} operand(s) after it, "
        f"found {found}"
    )
    assert exc.details == {"parameter": "domain", "index": index, "operator": operator}


def test_domain_max_terms():
    domain = [["id", ">", i] for i in range(MAX_DOMAIN_TERMS)]
    assert len(parse_domain(domain, FIELDS)) == MAX_DOMAIN_TERMS
    exc = _error(parse_domain, domain + [["id", ">", 0]], FIELDS)
    assert exc.message == f"The domain has {MAX_DOMAIN_TERMS + 1} items; at most 100 are allowed"
    assert exc.details == {"parameter": "domain", "max_terms": 100}


def test_domain_custom_max_terms():
    exc = _error(parse_domain, [["id", ">", 1], ["id", "<", 9]], FIELDS, max_terms=1)
    assert exc.details["max_terms"] == 1


def test_domain_deep_nesting_rejected_cleanly():
    raw = "[" * 100000 + "]" * 100000
    exc = _error(parse_domain, raw, FIELDS)
    assert exc.details["parameter"] == "domain"


# -- parse_order -------------------------------------------------------------------------


@pytest.mark.parametrize("raw,expected", [
    ("name", "name asc"),
    ("name desc", "name desc"),
    ("name DESC, id", "name desc, id asc"),
    ("  name   asc ,id   desc  ", "name asc, id desc"),
    ("write_date desc nulls last", "write_date desc nulls last"),
    ("name NULLS FIRST", "name asc nulls first"),
    ("partner_id, customer_rank desc", "partner_id asc, customer_rank desc"),
    ("note", "note asc"),
    ("id", "id asc"),
])
def test_order_normalised(raw, expected):
    assert parse_order(raw, FIELDS) == expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_order_default(raw):
    assert parse_order(raw, FIELDS) == "id"
    assert parse_order(raw, FIELDS, default="name desc") == "name desc"


def test_order_id_allowed_without_fields():
    assert parse_order("id desc", {}) == "id desc"


@pytest.mark.parametrize("raw", [
    "name; DROP TABLE res_partner",
    "name desc, (select 1)",
    "name desc; --",
    "name asc asc",
    "-name",
    "name,",
    ",name",
    "name,,id",
    "name nulls",
    "name desc nulls middle",
    "lower(name)",
    "partner_id.name",
    "name collate \"C\"",
    "Name",
    "name/**/desc",
    "name\x00",
])
def test_order_syntax_rejected(raw):
    exc = _error(parse_order, raw, FIELDS)
    assert exc.message.startswith("Invalid order item ")
    assert "expected 'field [asc|desc] [nulls first|nulls last]'" in exc.message
    assert exc.details["parameter"] == "order"
    assert "item" in exc.details and "index" in exc.details


def test_order_sql_item_reported_with_its_position():
    exc = _error(parse_order, "name desc, (select 1)", FIELDS)
    assert exc.details == {"parameter": "order", "item": "(select 1)", "index": 1}


def test_order_unknown_field():
    exc = _error(parse_order, "name, password desc", FIELDS)
    assert exc.message == "Cannot sort on 'password': no such field on this resource"
    assert exc.details == {"parameter": "order", "field": "password"}


@pytest.mark.parametrize("field", ["child_ids", "category_id", "image_1920", "properties",
                                   "comment", "display_name"])
def test_order_unsortable_fields(field):
    exc = _error(parse_order, f"{field} desc", FIELDS)
    assert exc.message == f"Cannot sort on field {field!r}"
    assert exc.details == {"parameter": "order", "field": field}


def test_order_max_five_items():
    assert parse_order("name, email, customer_rank, active, id", FIELDS).count(",") == 4
    exc = _error(parse_order, "name, email, customer_rank, active, id, write_date", FIELDS)
    assert exc.message == "The order has 6 items; at most 5 are allowed"
    assert exc.details == {"parameter": "order", "max_items": 5}


def test_order_duplicate_field():
    exc = _error(parse_order, "name asc, name desc", FIELDS)
    assert exc.message == "Field 'name' appears twice in the order"
    assert exc.details == {"parameter": "order", "field": "name"}


def test_order_must_be_string():
    exc = _error(parse_order, ["name"], FIELDS)
    assert exc.message == "The order must be a string, got list"
    assert exc.details == {"parameter": "order"}


# -- parse_fields ------------------------------------------------------------------------


def test_fields_comma_list():
    assert parse_fields("name,email", FIELDS) == ["name", "email"]


def test_fields_strips_blanks_and_dedupes():
    assert parse_fields(" name , ,email,name,, id ,id", FIELDS) == ["name", "email", "id"]


def test_fields_json_list():
    assert parse_fields('["email", "name", "email"]', FIELDS) == ["email", "name"]


def test_fields_list_input():
    assert parse_fields(["name", " id "], FIELDS) == ["name", "id"]


def test_fields_id_always_allowed():
    assert parse_fields("id", {}) == ["id"]


@pytest.mark.parametrize("raw", [None, "", " ", " , ,", "[]", []])
def test_fields_empty_gives_default(raw):
    assert parse_fields(raw, FIELDS) == list(FIELDS)
    assert parse_fields(raw, FIELDS, default=["id", "name"]) == ["id", "name"]


def test_fields_default_is_a_copy():
    default = ["name"]
    result = parse_fields(None, FIELDS, default=default)
    result.append("x")
    assert default == ["name"]


def test_fields_unknown_lists_all():
    exc = _error(parse_fields, "name,password,email,login,password", FIELDS)
    assert exc.message == "Unknown field(s): password, login"
    assert exc.details == {"parameter": "fields", "unknown": ["password", "login"]}


def test_fields_dotted_names_are_unknown():
    exc = _error(parse_fields, "partner_id.name", FIELDS)
    assert exc.details["unknown"] == ["partner_id.name"]


@pytest.mark.parametrize("raw", ['["name", 1]', '[["name"]]', "[broken", 5, {"name": 1}])
def test_fields_bad_shapes(raw):
    exc = _error(parse_fields, raw, FIELDS)
    assert exc.details == {"parameter": "fields"}


# -- parse_paging -------------------------------------------------------------------------


def test_paging_defaults():
    assert parse_paging({}) == {"limit": 100, "offset": 0, "page": 1, "per_page": 100}
    assert parse_paging({}, default_limit=20) == {
        "limit": 20, "offset": 0, "page": 1, "per_page": 20,
    }


def test_paging_default_limit_clamped_to_max():
    assert parse_paging({}, default_limit=5000, max_limit=1000)["limit"] == 1000


def test_paging_limit_offset():
    assert parse_paging({"limit": "10", "offset": "20"}) == {
        "limit": 10, "offset": 20, "page": 3, "per_page": 10,
    }


def test_paging_unaligned_offset():
    assert parse_paging({"limit": "10", "offset": "15"})["page"] == 2


def test_paging_page_per_page():
    assert parse_paging({"page": "3", "per_page": "25"}) == {
        "limit": 25, "offset": 50, "page": 3, "per_page": 25,
    }


def test_paging_page_alone_uses_default_size():
    assert parse_paging({"page": "2"}, default_limit=50) == {
        "limit": 50, "offset": 50, "page": 2, "per_page": 50,
    }


def test_paging_accepts_ints_and_whitespace_and_blank():
    assert parse_paging({"limit": 5, "offset": " 5 "})["offset"] == 5
    assert parse_paging({"limit": "", "offset": ""})["limit"] == 100


def test_paging_max_limit_allowed():
    assert parse_paging({"limit": "1000"})["limit"] == 1000


@pytest.mark.parametrize("name", ["limit", "offset", "page", "per_page"])
@pytest.mark.parametrize("value", ["abc", "1.5", "1e3", "0x10", "--1", True, "10; DROP"])
def test_paging_non_integers(name, value):
    exc = _error(parse_paging, {name: value})
    assert exc.message == f"Parameter {name!r} must be an integer"
    assert exc.details["parameter"] == name


@pytest.mark.parametrize("name,value,minimum", [
    ("limit", "0", 1), ("limit", "-5", 1), ("offset", "-1", 0),
    ("page", "0", 1), ("page", "-2", 1), ("per_page", "0", 1),
])
def test_paging_below_minimum(name, value, minimum):
    exc = _error(parse_paging, {name: value})
    assert exc.message == f"Parameter {name!r} must be at least {minimum}"
    assert exc.details == {"parameter": name, "minimum": minimum}


@pytest.mark.parametrize("name", ["limit", "per_page"])
def test_paging_above_max_limit(name):
    exc = _error(parse_paging, {name: "1001"})
    assert exc.message == f"Parameter {name!r} must be at most 1000"
    assert exc.details == {"parameter": name, "maximum": 1000}
    exc = _error(parse_paging, {name: "51"}, max_limit=50)
    assert exc.details == {"parameter": name, "maximum": 50}


def test_paging_huge_offset_and_page():
    exc = _error(parse_paging, {"offset": "9" * 30})
    assert exc.details == {"parameter": "offset", "maximum": 2**31 - 1}
    exc = _error(parse_paging, {"page": "9" * 30, "per_page": "10"})
    assert exc.details["parameter"] == "page"


@pytest.mark.parametrize("args", [
    {"limit": "10", "page": "2"},
    {"offset": "10", "per_page": "5"},
    {"limit": "10", "offset": "0", "page": "1", "per_page": "10"},
])
def test_paging_mixed_styles_rejected(args):
    exc = _error(parse_paging, args)
    assert exc.message.startswith("Use either limit/offset or page/per_page, not both")
    assert exc.details["parameter"] in ("page", "per_page")


# -- pagination_block ----------------------------------------------------------------------


def _query(url):
    return parse_qsl(urlsplit(url).query)


def test_pagination_middle_page():
    block = pagination_block(
        total=500, limit=50, offset=50, base_path="/api/sync/v1/res.partner/search",
        query={"domain": '[["id",">",1]]', "page": "2", "per_page": "50"},
    )
    assert block["total"] == 500
    assert block["page"] == 2
    assert block["per_page"] == 50
    assert block["pages"] == 10
    assert block["next"].startswith("/api/sync/v1/res.partner/search?")
    assert _query(block["next"]) == [
        ("domain", '[["id",">",1]]'), ("page", "3"), ("per_page", "50"),
    ]
    assert _query(block["previous"]) == [
        ("domain", '[["id",">",1]]'), ("page", "1"), ("per_page", "50"),
    ]


def test_pagination_first_page_has_no_previous():
    block = pagination_block(total=500, limit=50, offset=0, base_path="/p", query={})
    assert block["previous"] is None
    assert block["next"] == "/p?page=2&per_page=50"


def test_pagination_last_page_has_no_next():
    block = pagination_block(total=500, limit=50, offset=450, base_path="/p", query={})
    assert block["page"] == 10
    assert block["next"] is None
    assert block["previous"] == "/p?page=9&per_page=50"


def test_pagination_limit_offset_replaced_by_page_params():
    block = pagination_block(
        total=95, limit=10, offset=20, base_path="/p",
        query={"limit": "10", "fields": "name,email", "offset": "20", "order": "name desc"},
    )
    assert block["pages"] == 10
    assert block["page"] == 3
    assert block["next"] == "/p?fields=name%2Cemail&order=name+desc&page=4&per_page=10"
    assert block["previous"] == "/p?fields=name%2Cemail&order=name+desc&page=2&per_page=10"


def test_pagination_keeps_key_order_with_page_in_place():
    block = pagination_block(total=30, limit=10, offset=10, base_path="/p",
                             query={"per_page": "10", "a": "1", "page": "2", "b": "2"})
    assert block["next"] == "/p?per_page=10&a=1&page=3&b=2"


def test_pagination_empty_result():
    block = pagination_block(total=0, limit=100, offset=0, base_path="/p", query={})
    assert block == {"total": 0, "page": 1, "per_page": 100, "pages": 0,
                     "next": None, "previous": None}


def test_pagination_pages_ceil():
    assert pagination_block(total=101, limit=100, offset=0, base_path="/p",
                            query={})["pages"] == 2
    assert pagination_block(total=100, limit=100, offset=0, base_path="/p",
                            query={})["pages"] == 1
    block = pagination_block(total=1, limit=100, offset=0, base_path="/p", query={})
    assert block["pages"] == 1
    assert block["next"] is None and block["previous"] is None


def test_pagination_beyond_last_page_points_back_to_last():
    block = pagination_block(total=25, limit=10, offset=100, base_path="/p", query={})
    assert block["page"] == 11
    assert block["next"] is None
    assert block["previous"] == "/p?page=3&per_page=10"


def test_pagination_consistent_with_parse_paging():
    paging = parse_paging({"page": "4", "per_page": "7"})
    block = pagination_block(total=100, limit=paging["limit"], offset=paging["offset"],
                             base_path="/p", query={"page": "4", "per_page": "7"})
    assert (block["page"], block["per_page"]) == (paging["page"], paging["per_page"])


def test_pagination_unaligned_offset_links_do_not_overlap():
    # limit=2&offset=1 lists records 1-2: a page link (page 2 = records 2-3)
    # would list record 2 again.
    block = pagination_block(total=10, limit=2, offset=1, base_path="/p",
                             query={"fields": "name", "limit": "2", "offset": "1"})
    assert block["next"] == "/p?fields=name&limit=2&offset=3"
    assert block["previous"] == "/p?fields=name&limit=1&offset=0"
    block = pagination_block(total=10, limit=4, offset=7, base_path="/p",
                             query={"offset": "7", "limit": "4"})
    assert block["next"] is None
    assert block["previous"] == "/p?offset=3&limit=4"


def test_pagination_unaligned_offset_beyond_total_points_back_to_the_end():
    block = pagination_block(total=5, limit=3, offset=7, base_path="/p",
                             query={"limit": "3", "offset": "7"})
    assert block["next"] is None
    assert block["previous"] == "/p?limit=3&offset=2"


def test_pagination_unaligned_links_walk_every_record_once():
    total = 11
    url = "/p?limit=3&offset=1"
    seen = []
    while url:
        params = dict(_query(url))
        offset = int(params["offset"])
        seen += list(range(offset, min(offset + int(params["limit"]), total)))
        url = pagination_block(total=total, limit=int(params["limit"]), offset=offset,
                               base_path="/p", query=params)["next"]
    assert seen == list(range(1, total))


@pytest.mark.parametrize("raw", ['[["name", "=", "a\\u0000b"]]',
                                 '[["name", "in", ["ok", "\\u0000"]]]'])
def test_domain_values_with_nul_are_refused(raw):
    with pytest.raises(ApiError) as info:
        parse_domain(raw, FIELDS)
    assert info.value.details["parameter"] == "domain"


def test_page_bound_does_not_depend_on_per_page():
    # The OpenAPI document states one maximum for page: the server keeps to it.
    top = 2**31 // 1000 + 1
    assert parse_paging({"page": str(top)})["page"] == top
    for args in ({"page": str(top + 1)}, {"page": str(top + 1), "per_page": "10"}):
        with pytest.raises(ApiError) as info:
            parse_paging(args)
        assert info.value.details == {"parameter": "page", "maximum": top}
