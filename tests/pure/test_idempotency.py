"""Tests of bj_api_sync.engine.idempotency: key, fingerprint, what is kept, time."""
from datetime import datetime, timedelta

import pytest

from bj_api_sync.engine import idempotency
from bj_api_sync.engine.errors import ApiError


@pytest.mark.parametrize("key", [
    "a", "order-42", "0f8fad5b-d9cb-469f-a165-70867728950e", "with inner space",
    "~!@#$%^&*()_+{}|:<>?", "x" * idempotency.MAX_KEY_LENGTH,
])
def test_valid_keys_are_returned_as_they_are(key):
    assert idempotency.validate_key(key) == key


def test_no_header_is_no_key():
    assert idempotency.validate_key(None) is None


@pytest.mark.parametrize("key,words", [
    ("", "empty"),
    ("x" * (idempotency.MAX_KEY_LENGTH + 1), "longer than 255"),
    (" leading", "printable"),
    ("trailing ", "printable"),
    ("tab\there", "printable"),
    ("new\nline", "printable"),
    ("nul\x00", "printable"),
    ("caf\u00e9", "printable"),
    ("\x7f", "printable"),
])
def test_bad_keys_are_a_400_naming_the_header(key, words):
    with pytest.raises(ApiError) as info:
        idempotency.validate_key(key)
    error = info.value
    assert (error.code, error.status) == ("VALIDATION_ERROR", 400)
    assert words in error.message
    assert "Idempotency-Key" in error.message
    assert error.details["header"] == "Idempotency-Key"
    assert error.details["maximum_length"] == 255


def test_fingerprint_ignores_json_key_order_and_spacing():
    one = idempotency.fingerprint("POST", "/api/sync/v1/p", [], b'{"data": {"a": 1, "b": [1, 2]}}')
    two = idempotency.fingerprint("post", "/api/sync/v1/p", [], b'{"data":{"b":[1,2],"a":1}}\n')
    assert one == two
    assert len(one) == 64 and int(one, 16) >= 0


@pytest.mark.parametrize("other", [
    ("PUT", "/api/sync/v1/p", [], b'{"data": {"a": 1}}'),
    ("POST", "/api/sync/v1/q", [], b'{"data": {"a": 1}}'),
    ("POST", "/api/sync/v1/p", [("x", "1")], b'{"data": {"a": 1}}'),
    ("POST", "/api/sync/v1/p", [], b'{"data": {"a": 2}}'),
    ("POST", "/api/sync/v1/p", [], b'{"data": {"a": 1.0}}'),
    ("POST", "/api/sync/v1/p", [], b'{"data": {"a": "1"}}'),
    ("POST", "/api/sync/v1/p", [], b""),
])
def test_fingerprint_differs_for_another_call(other):
    base = idempotency.fingerprint("POST", "/api/sync/v1/p", [], b'{"data": {"a": 1}}')
    assert idempotency.fingerprint(*other) != base


def test_fingerprint_query_order_does_not_matter_and_bad_bodies_count_as_bytes():
    assert (idempotency.fingerprint("DELETE", "/x/1", [("b", "2"), ("a", "1")], b"")
            == idempotency.fingerprint("DELETE", "/x/1", [("a", "1"), ("b", "2")], None))
    assert (idempotency.fingerprint("POST", "/x", [], b"{not json")
            != idempotency.fingerprint("POST", "/x", [], b"{not  json"))
    assert (idempotency.fingerprint("POST", "/x", [], b"\xff\xfe")
            == idempotency.fingerprint("POST", "/x", [], b"\xff\xfe"))
    # Whitespace alone is no body.
    assert idempotency.canonical_body(b"  \n") == b""


def test_canonical_body_keeps_unicode_and_sorts_keys():
    assert idempotency.canonical_body('{"b": "é", "a": null}'.encode()) == \
        '{"a":null,"b":"é"}'.encode()


@pytest.mark.parametrize("status,kept", [
    (200, True), (201, True), (204, True), (400, True), (401, True), (403, True),
    (404, True), (405, True), (413, True), (422, True),
    (409, False), (429, False), (500, False), (502, False), (503, False), (302, False),
])
def test_which_answers_are_kept(status, kept):
    assert idempotency.should_keep(status) is kept


def test_kept_headers_leave_the_per_call_ones_out():
    headers = {
        "X-Request-Id": "req_12345678", "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "3", "x-ratelimit-reset": "1", "Retry-After": "4",
        "Idempotent-Replayed": "true", "Allow": "GET, POST", "Location": "/api/sync/v1/p/4",
    }
    assert idempotency.kept_headers(headers) == {"Allow": "GET, POST",
                                                 "Location": "/api/sync/v1/p/4"}
    assert idempotency.kept_headers(None) == {}


def test_ttl_is_24_hours():
    now = datetime(2026, 1, 1, 12, 0, 0)
    assert idempotency.expires_at(now) == datetime(2026, 1, 2, 12, 0, 0)


@pytest.mark.parametrize("limit,seconds", [
    (120, 130.0), (600, 610.0), (0, 130.0), (-1, 130.0), (None, 130.0), ("bad", 130.0),
    (5, 70.0), ("300", 310.0),
])
def test_stale_after_follows_limit_time_real(limit, seconds):
    assert idempotency.stale_after(limit) == seconds


def test_is_stale():
    now = datetime(2026, 1, 1, 12, 0, 0)
    assert idempotency.is_stale(now - timedelta(seconds=131), now, 130)
    assert idempotency.is_stale(now - timedelta(seconds=130), now, 130)
    assert not idempotency.is_stale(now - timedelta(seconds=129), now, 130)


def test_caller_identity_scopes():
    api_key_a = idempotency.caller_identity(1, "apikey", "key:abc", 7)
    api_key_b = idempotency.caller_identity(2, "apikey", "key:abc", 7)
    # An API key is one caller on every resource.
    assert api_key_a == api_key_b
    # A config's own token: a caller of that config only, with its user.
    token_1 = idempotency.caller_identity(1, "config", "user:7", 7)
    token_2 = idempotency.caller_identity(2, "config", "user:7", 7)
    assert len({api_key_a, token_1, token_2}) == 3
    assert idempotency.caller_identity(1, "none", "ip:10.0.0.1", 7) != \
        idempotency.caller_identity(1, "none", "ip:10.0.0.2", 7)
    assert idempotency.caller_identity(1, "apikey", "key:abc", 8) != api_key_a


def test_write_operations():
    assert sorted(idempotency.WRITE_OPERATIONS) == ["batch", "create", "delete", "update"]
