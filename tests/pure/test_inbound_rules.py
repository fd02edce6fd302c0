"""Tests of bj_api_sync.engine.inbound_rules: paths, verbs, ids, flags, parameter filters."""
import pytest

from bj_api_sync.engine.errors import ApiError
from bj_api_sync.engine.inbound_rules import (
    check_batch_verbs,
    method_not_allowed,
    param_term,
    parse_flag,
    parse_record_id,
    resolve_operation,
    split_path,
)

ALL = ("GET", "POST", "PUT", "DELETE")


@pytest.mark.parametrize("subpath,expected", [
    ("res.partner", ("res.partner", "collection", None)),
    ("res.partner/", ("res.partner", "collection", None)),
    ("res.partner/search", ("res.partner", "search", None)),
    ("res.partner/batch", ("res.partner", "batch", None)),
    ("res.partner/42", ("res.partner", "record", "42")),
    ("res.partner/abc", ("res.partner", "record", "abc")),
    ("", None),
    ("/", None),
    ("res.partner/42/extra", None),
    ("res.partner//42", None),
])
def test_split_path(subpath, expected):
    assert split_path(subpath) == expected


@pytest.mark.parametrize("shape,verb,expected", [
    ("collection", "POST", "create"),
    ("collection", "GET", None),
    ("search", "GET", "search"),
    ("search", "HEAD", "search"),
    ("batch", "POST", "batch"),
    ("record", "GET", "read"),
    ("record", "PUT", "update"),
    ("record", "DELETE", "delete"),
    ("record", "POST", None),
    ("collection", "DELETE", None),
    ("batch", "GET", None),
    ("record", "PATCH", None),
    ("record", "put", "update"),
])
def test_resolve_operation_with_every_verb_enabled(shape, verb, expected):
    assert resolve_operation(shape, verb, ALL)[0] == expected


def test_verbs_not_enabled_are_refused_and_allow_lists_the_enabled_ones():
    assert resolve_operation("record", "PUT", ["GET"]) == (None, ["GET", "HEAD"])
    assert resolve_operation("record", "GET", ["GET"]) == ("read", ["GET", "HEAD"])
    assert resolve_operation("collection", "POST", ["GET"]) == (None, [])
    assert resolve_operation("collection", "GET", ALL) == (None, ["POST"])
    assert resolve_operation("batch", "POST", ["GET"]) == (None, [])
    assert resolve_operation("record", "GET", ["post", "delete"]) == (None, ["DELETE"])
    assert resolve_operation("unknown", "GET", ALL) == (None, [])


def test_method_not_allowed_error():
    error = method_not_allowed("PATCH", ["GET", "HEAD"])
    assert isinstance(error, ApiError)
    assert (error.code, error.status) == ("METHOD_NOT_ALLOWED", 405)
    assert error.headers == {"Allow": "GET, HEAD"}
    assert error.details == {"method": "PATCH", "allowed": ["GET", "HEAD"]}
    assert method_not_allowed("GET", []).headers == {"Allow": ""}


@pytest.mark.parametrize("text,expected", [
    ("1", 1), ("42", 42), ("2147483647", 2147483647), ("2147483648", None), ("0", None),
    ("-1", None), ("abc", None), ("", None), ("1.0", None), (" 1", None),
    ("99999999999999999999", None), ("٣", None), (None, None),
])
def test_parse_record_id(text, expected):
    assert parse_record_id(text) == expected


@pytest.mark.parametrize("value,expected", [
    (None, False), (True, True), (False, False), ("true", True), ("1", True),
    ("YES", True), ("on", True), ("false", False), ("0", False), ("no", False), ("", False),
])
def test_parse_flag(value, expected):
    assert parse_flag(value, "opt") is expected


@pytest.mark.parametrize("value", ["maybe", 1, 0, [], {}])
def test_parse_flag_refuses_other_values(value):
    with pytest.raises(ApiError) as caught:
        parse_flag(value, "options.archive_instead")
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.details == {"parameter": "options.archive_instead"}


def test_param_term_converts_by_field_type():
    assert param_term("email", "char", "=", "a@b.c", "mail") == ("email", "=", "a@b.c")
    assert param_term("name", "char", "ilike", "ac", "q") == ("name", "ilike", "ac")
    assert param_term("country_id", "many2one", "=", " 21 ", "c") == ("country_id", "=", 21)
    assert param_term("id", "integer", "in", "1, 2,3", "ids") == ("id", "in", [1, 2, 3])
    assert param_term("credit", "monetary", ">", "2.5", "c") == ("credit", ">", 2.5)
    assert param_term("active", "boolean", "=", "false", "a") == ("active", "=", False)
    assert param_term("name", "char", None, "x", "q") == ("name", "=", "x")
    assert param_term("code", "char", "in", "BE,FR", "c") == ("code", "in", ["BE", "FR"])


@pytest.mark.parametrize("ftype,raw", [
    ("integer", "abc"), ("many2one", "1.5"), ("integer", "99999999999"), ("float", "nan"),
    ("float", "inf"), ("boolean", "maybe"), ("boolean", ""), ("integer", ""),
    ("char", "a\x00b"),
])
def test_param_term_refuses_values_that_do_not_fit(ftype, raw):
    with pytest.raises(ApiError) as caught:
        param_term("f", ftype, "=", raw, "key")
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.details["parameter"] == "key"


def test_batch_operations_need_their_own_verbs():
    ops = [{"index": 0, "method": "create"}, {"index": 1, "method": "update"},
           {"index": 2, "method": "delete"}]
    check_batch_verbs(ops, {"POST", "PUT", "DELETE"})
    with pytest.raises(ApiError) as caught:
        check_batch_verbs(ops, {"GET", "POST"})
    error = caught.value
    assert (error.code, error.status) == ("METHOD_NOT_ALLOWED", 405)
    assert error.details == {"method": "PUT", "index": 1, "allowed": ["GET", "POST"]}
    with pytest.raises(ApiError, match=r"Operation 2 \(delete\) needs DELETE"):
        check_batch_verbs(ops, {"POST", "put"})
