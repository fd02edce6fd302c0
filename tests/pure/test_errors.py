"""Tests of bj_api_sync.engine.errors: envelope, statuses, trace ids."""
import ast
import json
import pathlib
import re

import pytest

from bj_api_sync.engine import errors
from bj_api_sync.engine.errors import (
    STATUS_BY_CODE,
    ApiError,
    ErrorCode,
    error_body,
    is_valid_trace_id,
    new_trace_id,
)

ADDON = pathlib.Path(__file__).resolve().parents[2] / "bj_api_sync"


def test_status_by_code_matches_the_contract():
    assert STATUS_BY_CODE == {
        "AUTHENTICATION_ERROR": 401,
        "PERMISSION_DENIED": 403,
        "NOT_FOUND": 404,
        "METHOD_NOT_ALLOWED": 405,
        "VALIDATION_ERROR": 400,
        "DUPLICATE_RECORD": 409,
        "PAYLOAD_TOO_LARGE": 413,
        "RATE_LIMIT_EXCEEDED": 429,
        "INTERNAL_ERROR": 500,
        "IDEMPOTENCY_KEY_REUSED": 422,
        "IDEMPOTENCY_KEY_IN_USE": 409,
    }


@pytest.mark.parametrize("code,status", sorted(STATUS_BY_CODE.items()))
def test_api_error_status_defaults_from_code(code, status):
    exc = ApiError(code, "boom")
    assert exc.status == status
    assert exc.code == code
    assert exc.message == "boom"
    assert exc.details == {}
    assert exc.headers == {}


def test_a_mistyped_code_cannot_make_an_error():
    with pytest.raises(ValueError):
        ApiError("VALIDATION_EROR", "x")


def test_codes_are_plain_strings_in_answers():
    exc = ApiError(ErrorCode.NOT_FOUND, "nope")
    assert type(exc.code) is str and exc.code == "NOT_FOUND" and exc.status == 404
    assert json.dumps(exc.to_body("req_12345678"))  # plain JSON
    assert ApiError("NOT_FOUND", "nope").code == exc.code


def test_validation_helper():
    exc = ApiError.validation("bad", parameter="domain", field="x")
    assert (exc.code, exc.status, exc.details) == (
        "VALIDATION_ERROR", 400, {"parameter": "domain", "field": "x"})


def _literal_codes():
    """Every error code written as a literal in the addon: the first argument of
    ApiError(...) / error_body(...), and ``code=`` keywords."""
    found = []
    for path in sorted(ADDON.rglob("*.py")):
        if "tests" in path.relative_to(ADDON).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in ("ApiError", "error_body"):
                continue
            args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "code"]
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((f"{path.name}:{node.lineno}", arg.value))
    return found


def test_every_literal_error_code_of_the_addon_is_a_contract_code():
    found = _literal_codes()
    assert len(found) > 50  # the scan sees the addon's errors
    wrong = [(where, code) for where, code in found if code not in STATUS_BY_CODE]
    assert not wrong, wrong


def test_api_error_explicit_status_and_headers_win():
    exc = ApiError(
        "RATE_LIMIT_EXCEEDED", "slow down", {"limit": 100}, status=503,
        headers={"Retry-After": "30"},
    )
    assert exc.status == 503
    assert exc.headers == {"Retry-After": "30"}
    assert exc.details == {"limit": 100}


def test_api_error_copies_details_and_headers():
    details, headers = {"a": 1}, {"Allow": "GET"}
    exc = ApiError("METHOD_NOT_ALLOWED", "no", details, headers=headers)
    details["b"] = 2
    headers["X"] = "y"
    assert exc.details == {"a": 1}
    assert exc.headers == {"Allow": "GET"}


def test_api_error_is_an_exception_with_message_as_str():
    with pytest.raises(ApiError) as info:
        raise ApiError("NOT_FOUND", "Record 4 not found")
    assert str(info.value) == "Record 4 not found"
    assert "NOT_FOUND" in repr(info.value)
    assert "404" in repr(info.value)


def test_to_body_is_the_error_envelope():
    exc = ApiError("VALIDATION_ERROR", "Email is required", {"field": "email"})
    assert exc.to_body("req_abcdef123456") == {
        "success": False,
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "Email is required",
            "details": {"field": "email"},
            "trace_id": "req_abcdef123456",
        },
    }


def test_to_body_details_always_a_dict():
    assert ApiError("INTERNAL_ERROR", "x").to_body("t")["error"]["details"] == {}


def test_error_body_defaults():
    assert error_body("NOT_FOUND", "nope") == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "nope", "details": {}, "trace_id": ""},
    }


def test_error_body_copies_details():
    details = {"x": 1}
    body = error_body("NOT_FOUND", "nope", details, "req_12345678")
    details["y"] = 2
    assert body["error"]["details"] == {"x": 1}
    assert body["error"]["trace_id"] == "req_12345678"


def test_new_trace_id_format_and_uniqueness():
    ids = {new_trace_id() for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert re.fullmatch(r"req_[0-9a-f]{24}", value)
        assert is_valid_trace_id(value)


def test_new_trace_id_uses_secrets(monkeypatch):
    monkeypatch.setattr(errors.secrets, "token_hex", lambda n: "ab" * n)
    assert new_trace_id() == "req_" + "ab" * 12


@pytest.mark.parametrize("value", [
    "req_abcdefgh",
    "req_" + "a" * 64,
    "req_ABC-def_123",
])
def test_valid_trace_ids(value):
    assert is_valid_trace_id(value) is True


@pytest.mark.parametrize("value", [
    None,
    123,
    b"req_abcdefgh",
    "",
    "req_",
    "req_abcdefg",             # 7 chars
    "req_" + "a" * 65,         # too long
    "abc_abcdefgh",            # wrong prefix
    "REQ_abcdefgh",
    "req_abcdefgh\n",          # header injection / trailing newline
    "req_abc defgh",
    "req_abcdefgh;x",
    "req_abcdéfgh",
    " req_abcdefgh",
])
def test_invalid_trace_ids(value):
    assert is_valid_trace_id(value) is False
