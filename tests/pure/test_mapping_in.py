"""Tests of JSON bodies mapped in (engine.mapping_in), answers serialised
(engine.serialize) and batch requests parsed (engine.batch_request)."""
import base64
import datetime as dt

import pytest

from bj_api_sync.engine.batch_request import parse_batch
from bj_api_sync.engine.errors import ApiError
from bj_api_sync.engine.mapping_in import (
    convert_value,
    convert_values,
    flatten,
    require_object,
    split_request,
)
from bj_api_sync.engine.serialize import serialize_record, serialize_value

CHAR = {"type": "char"}
SEL = {"type": "selection", "selection": [["draft", "Draft"], ["sale", "Sale"]]}
INT = {"type": "integer"}
FLOAT = {"type": "float"}
MONEY = {"type": "monetary"}
BOOL = {"type": "boolean"}
DATE = {"type": "date"}
DATETIME = {"type": "datetime"}
M2O = {"type": "many2one", "relation": "res.country"}
O2M = {"type": "one2many", "relation": "sale.order.line"}
M2M = {"type": "many2many", "relation": "res.partner.category"}
BINARY = {"type": "binary"}
JSON = {"type": "json"}


def _error(func, *args, **kwargs):
    with pytest.raises(ApiError) as info:
        func(*args, **kwargs)
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.status == 400
    return info.value


# -- require_object / split_request ---------------------------------------------------


def test_require_object_returns_dict():
    body = {"a": 1}
    assert require_object(body) is body


@pytest.mark.parametrize("body,received", [
    ([], "array"), ("x", "string"), (None, "null"), (1, "number"), (True, "boolean"),
])
def test_require_object_rejects(body, received):
    exc = _error(require_object, body)
    assert exc.message == "The request body must be a JSON object"
    assert exc.details == {"parameter": "body", "received": received}


def test_require_object_named():
    exc = _error(require_object, [1], "options")
    assert exc.message == "'options' must be a JSON object"
    assert exc.details == {"parameter": "options", "received": "array"}


def test_split_request():
    assert split_request({"data": {"name": "x"}, "options": {"return_fields": ["id"]}}) == (
        {"name": "x"}, {"return_fields": ["id"]},
    )
    assert split_request({"data": {}}) == ({}, {})
    assert split_request({"data": {"a": 1}, "options": None}) == ({"a": 1}, {})


@pytest.mark.parametrize("body", [{}, {"options": {}}, {"data": None}])
def test_split_request_missing_data(body):
    exc = _error(split_request, body)
    assert exc.message == "The request body must contain a 'data' object"
    assert exc.details == {"parameter": "data"}


def test_split_request_data_not_object():
    exc = _error(split_request, {"data": [1]})
    assert exc.message == "'data' must be a JSON object"
    assert exc.details == {"parameter": "data", "received": "array"}


def test_split_request_options_not_object():
    exc = _error(split_request, {"data": {}, "options": "x"})
    assert exc.details == {"parameter": "options", "received": "string"}


def test_split_request_body_not_object():
    exc = _error(split_request, [{"data": {}}])
    assert exc.message == "The request body must be a JSON object"


def test_split_request_unknown_top_level_keys():
    exc = _error(split_request, {"name": "x", "data": {}, "option": {}})
    assert "Unknown top-level key(s) 'name', 'option'" in exc.message
    assert exc.details == {"parameter": "body", "unknown": ["name", "option"]}


# -- flatten ------------------------------------------------------------


ALLOWED = ["name", "email", "address.city", "address.zip", "address.geo.lat", "country_id"]












def test_flatten():
    data = {"name": "x", "address": {"city": "Paris", "geo": {"lat": 1.5}},
            "country_id": {"id": 3}}
    assert flatten(data, ALLOWED) == {
        "name": "x", "address.city": "Paris", "address.geo.lat": 1.5,
        "country_id": {"id": 3},
    }


def test_flatten_keeps_unknown_keys_for_later_reporting():
    assert flatten({"other": {"a": 1}, "address": {"street": "s"}}, ALLOWED) == {
        "other": {"a": 1}, "address.street": "s",
    }


def test_flatten_twice_given_key():
    exc = _error(flatten, {"address.city": "A", "address": {"city": "B"}}, ALLOWED)
    assert exc.message == "Key 'address.city' is given twice (flat and nested)"
    assert exc.details == {"field": "address.city"}


# -- convert_value: scalars --------------------------------------------------------------


@pytest.mark.parametrize("ftype", ["char", "text", "html"])
def test_convert_text(ftype):
    desc = {"type": ftype}
    assert convert_value("f", "héllo", desc) == "héllo"
    assert convert_value("f", "", desc) == ""
    assert convert_value("f", None, desc) is False
    assert convert_value("f", False, desc) is False


@pytest.mark.parametrize("value", [1, 1.5, True, ["a"], {"a": 1}])
def test_convert_text_rejects_non_strings(value):
    exc = _error(convert_value, "email", value, CHAR)
    assert exc.message.startswith("Field 'email' expects a string, got ")
    assert exc.details["field"] == "email"
    assert exc.details["expected"] == "a string"
    assert isinstance(exc.details["value"], str)


def test_convert_error_value_is_short():
    exc = _error(convert_value, "f", ["x" * 500], CHAR)
    assert len(exc.details["value"]) <= 80
    assert exc.details["value"].endswith("...")


def test_convert_selection():
    assert convert_value("state", "sale", SEL) == "sale"
    assert convert_value("state", None, SEL) is False
    assert convert_value("state", False, SEL) is False


@pytest.mark.parametrize("value", ["cancel", "Sale", 1, True])
def test_convert_selection_rejects(value):
    exc = _error(convert_value, "state", value, SEL)
    assert exc.details["expected"] == "one of: draft, sale"
    assert "Field 'state' expects one of: draft, sale" in exc.message


def test_convert_selection_without_keys_accepts_string():
    assert convert_value("s", "anything", {"type": "selection"}) == "anything"


def test_convert_selection_integer_keys():
    desc = {"type": "selection", "selection": [[1, "One"], [2, "Two"]]}
    assert convert_value("s", 2, desc) == 2
    assert _error(convert_value, "s", 3, desc).details["expected"] == "one of: 1, 2"


def test_convert_integer():
    assert convert_value("n", 42, INT) == 42
    assert convert_value("n", -3, INT) == -3
    assert convert_value("n", 5.0, INT) == 5
    assert type(convert_value("n", 5.0, INT)) is int
    assert convert_value("n", None, INT) is False


@pytest.mark.parametrize("value", [True, 1.5, "42", [1], float("nan"), float("inf")])
def test_convert_integer_rejects(value):
    exc = _error(convert_value, "qty", value, INT)
    assert exc.details["expected"] == "an integer"
    assert exc.details["field"] == "qty"


def test_convert_integer_range():
    assert convert_value("n", 2**31 - 1, INT) == 2**31 - 1
    exc = _error(convert_value, "n", 2**31, INT)
    assert exc.details["expected"] == "an integer between -2147483648 and 2147483647"
    _error(convert_value, "n", -(2**31) - 1, INT)


@pytest.mark.parametrize("desc", [FLOAT, MONEY])
def test_convert_float(desc):
    assert convert_value("p", 1.25, desc) == 1.25
    assert convert_value("p", 3, desc) == 3.0
    assert type(convert_value("p", 3, desc)) is float
    assert convert_value("p", None, desc) is False


def test_convert_false_is_empty_for_numbers():
    assert convert_value("price", False, FLOAT) is False
    assert convert_value("qty", False, INT) is False


@pytest.mark.parametrize("value", [True, "1.5", [1.0], {"v": 1}])
def test_convert_float_rejects(value):
    exc = _error(convert_value, "price", value, FLOAT)
    assert exc.details["expected"] == "a number"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10**400])
def test_convert_float_rejects_non_finite(value):
    exc = _error(convert_value, "price", value, MONEY)
    assert exc.details["expected"] == "a finite number"


def test_convert_boolean():
    assert convert_value("b", True, BOOL) is True
    assert convert_value("b", False, BOOL) is False


@pytest.mark.parametrize("value", [None, 0, 1, "true", "false", []])
def test_convert_boolean_rejects(value):
    exc = _error(convert_value, "active", value, BOOL)
    assert exc.details["expected"] == "a boolean (true or false)"


@pytest.mark.parametrize("value,expected", [
    ("2024-01-15", "2024-01-15"),
    ("2024-02-29", "2024-02-29"),
    ("2024-01-15T10:30:00Z", "2024-01-15"),
    ("2024-01-15T23:30:00-05:00", "2024-01-15"),  # the date as written, not shifted
    ("2024-01-15 10:30:00", "2024-01-15"),
    (" 2024-01-15 ", "2024-01-15"),
])
def test_convert_date(value, expected):
    assert convert_value("d", value, DATE) == expected


@pytest.mark.parametrize("value", [
    "2024-02-30", "2023-02-29", "15/01/2024", "2024-1-5", "20240115", "2024-01-15T25:00:00",
    "2024-01-15Tjunk", 20240115, True, "",
])
def test_convert_date_rejects(value):
    exc = _error(convert_value, "date_order", value, DATE)
    assert exc.details["expected"] == "a date (YYYY-MM-DD)"
    assert exc.message.startswith("Field 'date_order' expects a date")


def test_convert_date_empty():
    assert convert_value("d", None, DATE) is False


@pytest.mark.parametrize("value,expected", [
    ("2024-01-15T10:30:00Z", "2024-01-15 10:30:00"),
    ("2024-01-15T10:30:00z", "2024-01-15 10:30:00"),
    ("2024-01-15T10:30:00", "2024-01-15 10:30:00"),  # naive = UTC
    ("2024-01-15 10:30:00", "2024-01-15 10:30:00"),
    ("2024-01-15T10:30", "2024-01-15 10:30:00"),
    ("2024-01-15T10:30:00.123456Z", "2024-01-15 10:30:00"),
    ("2024-01-15T12:30:00+02:00", "2024-01-15 10:30:00"),
    ("2024-01-15T12:30:00+0200", "2024-01-15 10:30:00"),
    ("2024-01-15T12:30:00+02", "2024-01-15 10:30:00"),
    ("2024-01-15T12:30:00.5-00:00", "2024-01-15 12:30:00"),
    ("2024-01-15T01:00:00+02:00", "2024-01-14 23:00:00"),
    ("2024-01-15T22:00:00-05:30", "2024-01-16 03:30:00"),
    ("2024-12-31T23:59:59-01:00", "2025-01-01 00:59:59"),
])
def test_convert_datetime(value, expected):
    assert convert_value("dt", value, DATETIME) == expected


@pytest.mark.parametrize("value", [
    "2024-01-15", "2024-01-15T24:00:00Z", "2024-13-01T00:00:00Z", "2024-01-15T10:30:00+25:00",
    "2024-01-15T10:30:00 UTC", "yesterday", 1705314600, True, "2024-01-15T10:30:00+02:60",
    "2024-01-15T10:30:00+2", "2024-01-15T10:30:00+02:0", "2024-01-15T10:30:00Z+01:00",
])
def test_convert_datetime_rejects(value):
    exc = _error(convert_value, "date_order", value, DATETIME)
    assert exc.details["expected"] == "an ISO 8601 datetime (YYYY-MM-DDTHH:MM:SSZ)"


def test_convert_binary():
    encoded = base64.b64encode(b"hello world").decode()
    assert convert_value("img", encoded, BINARY) == encoded
    assert convert_value("img", encoded[:8] + "\n" + encoded[8:], BINARY) == encoded
    assert convert_value("img", None, BINARY) is False
    assert convert_value("img", False, BINARY) is False


@pytest.mark.parametrize("value", ["not base64!", "abc", "data:image/png;base64,AAAA", 5, True])
def test_convert_binary_rejects(value):
    exc = _error(convert_value, "img", value, BINARY)
    assert exc.details["expected"] == "base64-encoded text"


@pytest.mark.parametrize("value", [{"a": [1, 2]}, [1, "x"], "s", 1, None, False, True])
def test_convert_json_as_is(value):
    assert convert_value("j", value, JSON) == value


def test_convert_unknown_type_as_is():
    assert convert_value("r", "res.partner,4", {"type": "reference"}) == "res.partner,4"
    assert convert_value("r", "x", {}) == "x"


# -- convert_value: many2one -------------------------------------------------------------


def test_convert_many2one():
    assert convert_value("country_id", 235, M2O) == 235
    assert convert_value("country_id", {"id": 235}, M2O) == 235
    assert convert_value("country_id", {"id": 235, "name": "United States"}, M2O) == 235
    assert convert_value("country_id", None, M2O) is False
    assert convert_value("country_id", False, M2O) is False


@pytest.mark.parametrize("value", [0, -1, 2**31, True, 1.0, "235", {"id": "235"},
                                   {"id": 0}, {"name": "US"}, [235]])
def test_convert_many2one_rejects_without_resolver(value):
    exc = _error(convert_value, "country_id", value, M2O)
    assert exc.details["expected"] == (
        'a record id (positive integer) or {"id": <positive integer>}'
    )
    assert exc.details["field"] == "country_id"


def test_convert_many2one_resolver():
    calls = []

    def resolve(desc, value):
        calls.append((desc, value))
        return 7

    assert convert_value("country_id", "US", M2O, resolve) == 7
    assert convert_value("country_id", {"code": "US"}, M2O, resolve) == 7
    assert calls == [(M2O, "US"), (M2O, {"code": "US"})]
    # ids and {"id"} never reach the resolver
    assert convert_value("country_id", 3, M2O, resolve) == 3
    assert convert_value("country_id", {"id": 4}, M2O, resolve) == 4
    assert len(calls) == 2


@pytest.mark.parametrize("result", [None, False, 0, "7", True])
def test_convert_many2one_resolver_no_match(result):
    exc = _error(convert_value, "country_id", "XX", M2O, lambda d, v: result)
    assert exc.message == "Field 'country_id': no record matches \"XX\""
    assert exc.details["expected"] == "a value that identifies an existing record"


def test_convert_many2one_resolver_errors_propagate():
    def resolve(desc, value):
        raise ApiError("PERMISSION_DENIED", "no access")

    with pytest.raises(ApiError) as info:
        convert_value("country_id", "US", M2O, resolve)
    assert info.value.code == "PERMISSION_DENIED"


def test_convert_many2one_true_never_resolved():
    exc = _error(convert_value, "country_id", True, M2O, lambda d, v: 1)
    assert exc.details["field"] == "country_id"


# -- convert_value: x2many ---------------------------------------------------------------


@pytest.mark.parametrize("desc", [O2M, M2M])
def test_convert_x2many_ids(desc):
    assert convert_value("tag_ids", [1, 2, 3], desc) == [(6, 0, [1, 2, 3])]
    assert convert_value("tag_ids", [], desc) == [(6, 0, [])]


def test_convert_x2many_commands():
    value = [
        [0, 0, {"product_id": 1, "quantity": 10}],
        [1, 42, {"quantity": 20}],
        [2, 43, False],
        [2, 44],
        [3, 45],
        [4, 46, 0],
        [5],
        [5, 0, 0],
        [6, 0, [1, 2]],
    ]
    assert convert_value("order_line", value, O2M) == [
        (0, 0, {"product_id": 1, "quantity": 10}),
        (1, 42, {"quantity": 20}),
        (2, 43, 0),
        (2, 44, 0),
        (3, 45, 0),
        (4, 46, 0),
        (5, 0, 0),
        (5, 0, 0),
        (6, 0, [1, 2]),
    ]


def test_convert_x2many_seed_many2many_example():
    assert convert_value("tag_ids", [[6, 0, [1, 2, 3]]], M2M) == [(6, 0, [1, 2, 3])]


@pytest.mark.parametrize("command,shape", [
    ([0, 0, "x"], "[0, 0, {values}]"),
    ([0, 5, {}], "[0, 0, {values}]"),
    ([0, 0], "[0, 0, {values}]"),
    ([1, 0, {}], "[1, id, {values}]"),
    ([1, "4", {}], "[1, id, {values}]"),
    ([1, 4], "[1, id, {values}]"),
    ([2], "[2, id]"),
    ([2, -1], "[2, id]"),
    ([3, True], "[3, id]"),
    ([4, 1, 0, 0], "[4, id]"),
    ([5, 0, 0, 0], "[5]"),
    ([6, 0, [1, "2"]], "[6, 0, [ids]]"),
    ([6, 0, 5], "[6, 0, [ids]]"),
    ([6, [1, 2]], "[6, 0, [ids]]"),
    ([6, 1, [1]], "[6, 0, [ids]]"),
])
def test_convert_x2many_bad_command_shapes(command, shape):
    exc = _error(convert_value, "order_line", [[4, 1], command], O2M)
    assert exc.message.startswith(f"Field 'order_line', command #1: expected {shape}")
    assert exc.details["expected"] == shape
    assert exc.details["field"] == "order_line"


@pytest.mark.parametrize("command", [[7, 1], [-1], ["0", 0, {}], [True, 1], []])
def test_convert_x2many_unknown_command(command):
    exc = _error(convert_value, "order_line", [command], O2M)
    assert exc.message.startswith("Field 'order_line', command #0: unknown command")
    assert exc.details["expected"] == "an ORM command with code 0 to 6"


def test_convert_x2many_allowed_commands():
    allowed = {4, 3}
    assert convert_value("tag_ids", [[4, 1]], M2M, allowed_commands=allowed) == [(4, 1, 0)]
    exc = _error(convert_value, "tag_ids", [[4, 1], [2, 5]], M2M, allowed_commands=allowed)
    assert exc.message == (
        "Field 'tag_ids', command #1: command 2 is not allowed here (allowed: [3, 4])"
    )
    assert exc.details["expected"] == "ORM commands [3, 4]"


def test_convert_x2many_plain_ids_need_set_command():
    exc = _error(convert_value, "tag_ids", [1, 2], M2M, allowed_commands={4})
    assert exc.message == "Field 'tag_ids': replacing the whole list of ids is not allowed"


@pytest.mark.parametrize("value", [None, 5, "1,2", {"ids": [1]}, [1, [4, 2]], [1, True],
                                   [0, 1], [-2]])
def test_convert_x2many_rejects(value):
    exc = _error(convert_value, "tag_ids", value, M2M)
    assert exc.details["field"] == "tag_ids"


def test_convert_x2many_nested_converter():
    calls = []

    def nested(desc, vals):
        calls.append((desc["relation"], vals))
        return {"converted": True}

    result = convert_value("order_line", [[0, 0, {"a": 1}], [1, 3, {"b": 2}], [4, 9]], O2M,
                           convert_nested=nested)
    assert result == [(0, 0, {"converted": True}), (1, 3, {"converted": True}), (4, 9, 0)]
    assert calls == [("sale.order.line", {"a": 1}), ("sale.order.line", {"b": 2})]


def test_convert_x2many_does_not_share_input_dicts():
    vals = {"a": 1}
    result = convert_value("order_line", [[0, 0, vals]], O2M)
    result[0][2]["a"] = 2
    assert vals == {"a": 1}


# -- convert_values ------------------------------------------------------------------------


FIELDS = {
    "name": {"type": "char", "required": True},
    "email": {"type": "char"},
    "customer_rank": {"type": "integer"},
    "country_id": M2O,
    "create_date": {"type": "datetime", "readonly": True},
    "active": BOOL,
}


def test_convert_values_field_names():
    assert convert_values({"name": "A", "customer_rank": 2, "country_id": {"id": 3}},
                          FIELDS) == {"name": "A", "customer_rank": 2, "country_id": 3}


def test_convert_values_key_mapping():
    mapping = {"fullName": "name", "address.country": "country_id"}
    assert convert_values({"fullName": "A", "address.country": "FR"}, FIELDS, mapping,
                          resolve=lambda d, v: 75) == {"name": "A", "country_id": 75}


def test_convert_values_unknown_keys():
    exc = _error(convert_values, {"name": "A", "zz": 1, "password": "x"}, FIELDS)
    assert exc.message == "Unknown field(s): password, zz"
    assert exc.details == {"unknown_fields": ["password", "zz"]}


def test_convert_values_unmapped_key_is_unknown():
    exc = _error(convert_values, {"name": "A"}, FIELDS, {"fullName": "name"})
    assert exc.details == {"unknown_fields": ["name"]}


def test_convert_values_mapping_to_invisible_field_is_unknown():
    exc = _error(convert_values, {"secret": "A"}, FIELDS, {"secret": "password"})
    assert exc.details == {"unknown_fields": ["secret"]}


def test_convert_values_collects_all_errors():
    exc = _error(convert_values, {"name": 5, "customer_rank": "x", "email": "ok",
                                  "create_date": "2024-01-01T00:00:00Z", "active": None},
                 FIELDS)
    errors = exc.details["errors"]
    assert [e["field"] for e in errors] == ["name", "customer_rank", "create_date", "active"]
    assert set(exc.details) == {"errors"}
    assert all(set(e) == {"field", "message"} for e in errors)
    assert errors[2]["message"] == "Field 'create_date' is read-only"
    assert errors[0]["message"].startswith("Field 'name' expects a string")
    assert exc.message.startswith("4 fields are invalid: ")


def test_convert_values_single_error_message():
    exc = _error(convert_values, {"create_date": "2024-01-01"}, FIELDS)
    assert exc.message == "Field 'create_date' is read-only"
    assert exc.details == {"errors": [{"field": "create_date",
                                       "message": "Field 'create_date' is read-only"}]}


def test_convert_values_two_keys_same_field():
    exc = _error(convert_values, {"a": "x", "b": "y"}, FIELDS, {"a": "name", "b": "name"})
    assert exc.details["errors"] == [
        {"field": "b", "message": "Keys 'a' and 'b' both set field 'name'"},
    ]


def test_convert_values_non_validation_errors_propagate():
    def resolve(desc, value):
        raise ApiError("PERMISSION_DENIED", "no")

    with pytest.raises(ApiError) as info:
        convert_values({"country_id": "FR", "name": 3}, FIELDS, resolve=resolve)
    assert info.value.code == "PERMISSION_DENIED"


def test_convert_values_passes_command_options():
    fields = {"tag_ids": M2M}
    exc = _error(convert_values, {"tag_ids": [[5]]}, fields, allowed_commands={4})
    assert "command 5 is not allowed" in exc.details["errors"][0]["message"]
    assert convert_values({"tag_ids": [[0, 0, {"x": 1}]]}, fields,
                          convert_nested=lambda d, v: {"y": 2}) == {"tag_ids": [(0, 0, {"y": 2})]}


def test_convert_values_data_must_be_object():
    exc = _error(convert_values, ["name"], FIELDS)
    assert exc.details["parameter"] == "data"


# -- serialize_value / serialize_record -----------------------------------------------------


@pytest.mark.parametrize("value,desc,expected", [
    (dt.date(2024, 1, 15), DATE, "2024-01-15"),
    ("2024-01-15", DATE, "2024-01-15"),
    (dt.datetime(2024, 1, 15, 10, 30), DATE, "2024-01-15"),
    (dt.datetime(2024, 1, 15, 10, 30), DATETIME, "2024-01-15T10:30:00Z"),
    ("2024-01-15 10:30:00", DATETIME, "2024-01-15T10:30:00Z"),
    (dt.datetime(2024, 1, 15, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), DATETIME,
     "2024-01-15T10:30:00Z"),
    (dt.date(2024, 1, 15), DATETIME, "2024-01-15T00:00:00Z"),
    ((3, "France"), M2O, {"id": 3, "name": "France"}),
    ([3, "France"], M2O, {"id": 3, "name": "France"}),
    (3, M2O, {"id": 3, "name": None}),
    ((2, False), M2O, {"id": 2, "name": None}),  # a record without display name
    (False, M2O, None),
    ([1, 2], M2M, [1, 2]),
    ((1, 2), O2M, [1, 2]),
    (False, M2M, []),
    (False, BOOL, False),
    (True, BOOL, True),
    (None, BOOL, False),
    (False, INT, 0),
    (False, FLOAT, 0.0),
    (False, MONEY, 0.0),
    (7, INT, 7),
    (False, CHAR, None),
    (None, CHAR, None),
    (False, DATE, None),
    (False, DATETIME, None),
    (False, SEL, None),
    ("draft", SEL, "draft"),
    (b"aGVsbG8=", BINARY, "aGVsbG8="),
    (False, BINARY, None),
    ({"a": 1}, JSON, {"a": 1}),
    (dt.datetime(2024, 1, 1, 8), {}, "2024-01-01T08:00:00Z"),
    (dt.date(2024, 1, 1), {}, "2024-01-01"),
])
def test_serialize_value(value, desc, expected):
    assert serialize_value(value, desc) == expected


def test_serialize_value_zero_types():
    assert type(serialize_value(False, INT)) is int
    assert type(serialize_value(False, FLOAT)) is float


def test_serialize_datetime_round_trips_with_convert():
    stored = convert_value("d", "2024-01-15T12:30:00+02:00", DATETIME)
    assert serialize_value(stored, DATETIME) == "2024-01-15T10:30:00Z"


def test_serialize_record():
    fields = {"name": CHAR, "country_id": M2O, "tag_ids": M2M, "write_date": DATETIME,
              "active": BOOL, "email": CHAR}
    values = {"id": 4, "name": "A", "country_id": (3, "France"), "tag_ids": [1],
              "write_date": "2024-01-15 11:00:00", "active": False, "email": False}
    assert serialize_record(values, fields) == {
        "id": 4, "name": "A", "country_id": {"id": 3, "name": "France"}, "tag_ids": [1],
        "write_date": "2024-01-15T11:00:00Z", "active": False, "email": None,
    }


# -- parse_batch -------------------------------------------------------------------------------


def test_parse_batch_seed_example():
    body = {
        "operations": [
            {"method": "create", "data": {"name": "Customer 1"}},
            {"method": "update", "id": 42, "data": {"phone": "+1234567890"}},
            {"method": "delete", "id": 43},
        ],
        "options": {"transaction": True, "continue_on_error": False},
    }
    operations, options = parse_batch(body)
    assert operations == [
        {"index": 0, "method": "create", "id": None, "data": {"name": "Customer 1"}},
        {"index": 1, "method": "update", "id": 42, "data": {"phone": "+1234567890"}},
        {"index": 2, "method": "delete", "id": 43, "data": None},
    ]
    assert options == {"transaction": True, "continue_on_error": False}


def test_parse_batch_option_defaults():
    _ops, options = parse_batch({"operations": [{"method": "delete", "id": 1}]})
    assert options == {"transaction": False, "continue_on_error": False}
    _ops, options = parse_batch({"operations": [{"method": "delete", "id": 1}],
                                 "options": {"continue_on_error": True, "extra": 1}})
    assert options == {"transaction": False, "continue_on_error": True, "extra": 1}


def test_parse_batch_contradictory_options():
    exc = _error(parse_batch, {"operations": [{"method": "delete", "id": 1}],
                               "options": {"transaction": True, "continue_on_error": True}})
    assert "contradictory" in exc.message
    assert exc.details == {"parameter": "options"}


@pytest.mark.parametrize("key", ["transaction", "continue_on_error"])
def test_parse_batch_option_must_be_bool(key):
    exc = _error(parse_batch, {"operations": [{"method": "delete", "id": 1}],
                               "options": {key: "yes"}})
    assert exc.message == f"Option {key!r} must be a boolean"
    assert exc.details == {"parameter": f"options.{key}"}


def test_parse_batch_options_must_be_object():
    exc = _error(parse_batch, {"operations": [{"method": "delete", "id": 1}], "options": []})
    assert exc.details["parameter"] == "options"


@pytest.mark.parametrize("body", [{}, {"operations": {}}, {"operations": "x"}])
def test_parse_batch_operations_must_be_array(body):
    exc = _error(parse_batch, body)
    assert exc.message == "'operations' must be a JSON array of operations"
    assert exc.details == {"parameter": "operations"}


def test_parse_batch_body_must_be_object():
    exc = _error(parse_batch, [])
    assert exc.message == "The request body must be a JSON object"


def test_parse_batch_empty():
    exc = _error(parse_batch, {"operations": []})
    assert exc.message == "'operations' is empty: send at least one operation"
    assert exc.details == {"parameter": "operations"}


def test_parse_batch_too_many():
    ops = [{"method": "delete", "id": 1}] * 3
    assert len(parse_batch({"operations": ops}, max_operations=3)[0]) == 3
    exc = _error(parse_batch, {"operations": ops + ops}, max_operations=5)
    assert exc.message == "Too many operations (6); at most 5 per batch"
    assert exc.details == {"parameter": "operations", "maximum": 5}
    exc = _error(parse_batch, {"operations": [{"method": "delete", "id": 1}] * 1001})
    assert exc.details["maximum"] == 1000


@pytest.mark.parametrize("operation,message", [
    ("create", "an operation must be a JSON object"),
    ({"data": {}}, "'method' must be one of create, update, delete, got null"),
    ({"method": "upsert", "data": {}}, "'method' must be one of create, update, delete, "
                                       "got \"upsert\""),
    ({"method": "CREATE", "data": {}}, "'method' must be one of"),
    ({"method": "create"}, "'create' needs a 'data' object"),
    ({"method": "create", "data": [1]}, "'create' needs a 'data' object"),
    ({"method": "create", "id": 3, "data": {}}, "'create' takes no 'id'"),
    ({"method": "update", "data": {}}, "'update' needs a positive integer 'id'"),
    ({"method": "update", "id": 0, "data": {}}, "'update' needs a positive integer 'id'"),
    ({"method": "update", "id": "42", "data": {}}, "'update' needs a positive integer 'id'"),
    ({"method": "update", "id": True, "data": {}}, "'update' needs a positive integer 'id'"),
    ({"method": "update", "id": 4}, "'update' needs a 'data' object"),
    ({"method": "delete"}, "'delete' needs a positive integer 'id'"),
    ({"method": "delete", "id": -4}, "'delete' needs a positive integer 'id'"),
    ({"method": "delete", "id": 4, "data": {}}, "'delete' takes no 'data'"),
    ({"method": "delete", "id": 4, "sql": "x"}, "unknown key(s): sql"),
])
def test_parse_batch_bad_operation(operation, message):
    body = {"operations": [{"method": "delete", "id": 1}, operation]}
    exc = _error(parse_batch, body)
    assert exc.details["parameter"] == "operations"
    assert len(exc.details["errors"]) == 1
    assert exc.details["errors"][0]["index"] == 1
    assert exc.details["errors"][0]["message"].startswith(message)
    assert exc.message.startswith(f"Operation #1: {message}")


def test_parse_batch_lists_every_bad_operation():
    body = {"operations": [{"method": "delete"}, {"method": "delete", "id": 1},
                           {"method": "nope"}]}
    exc = _error(parse_batch, body)
    assert exc.message == "2 operations are invalid"
    assert [e["index"] for e in exc.details["errors"]] == [0, 2]


@pytest.mark.parametrize("ftype", ["char", "text", "html", "selection", "many2one", "json"])
def test_nul_characters_are_refused_for_every_type(ftype):
    # PostgreSQL cannot store NUL in text: the driver would raise a ValueError
    # (an internal error) instead of a clear 400.
    desc = {"type": ftype, "selection": [["a\x00", "A"]]}
    with pytest.raises(ApiError) as info:
        convert_value("name", "a\x00", desc, resolve=lambda _d, _v: 1)
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.details["field"] == "name"


def test_parse_batch_refuses_unknown_top_level_keys():
    with pytest.raises(ApiError) as info:
        parse_batch({"operations": [{"method": "delete", "id": 1}], "option": {}})
    assert info.value.details == {"parameter": "body", "unknown": ["option"]}
