"""Tests of outbound Authorization headers and inbound header parsing."""

import base64

import pytest

from bj_api_sync.engine.auth_headers import (
    AuthConfigError,
    build_auth_headers,
    parse_authorization,
    secrets_equal,
)


def test_basic_exact_value():
    assert build_auth_headers("basic", login="user", password="pass") == {
        "Authorization": "Basic dXNlcjpwYXNz"
    }


def test_basic_utf8_and_empty_password():
    header = build_auth_headers("basic", login="josé", password="pä:ss")["Authorization"]
    assert base64.b64decode(header.split()[1]).decode("utf-8") == "josé:pä:ss"
    assert build_auth_headers("basic", login="user", password=False) == {
        "Authorization": "Basic dXNlcjo="
    }


def test_bearer_exact_value():
    assert build_auth_headers("bearer", token="abc.def-123") == {
        "Authorization": "Bearer abc.def-123"
    }


def test_bearer_tolerates_pasted_prefix_and_whitespace():
    assert build_auth_headers("bearer", token="  Bearer abc ") == {"Authorization": "Bearer abc"}


def test_auth_type_is_case_insensitive():
    assert build_auth_headers("BEARER", token="t") == {"Authorization": "Bearer t"}


@pytest.mark.parametrize("auth_type", ["none", "custom", None, False, ""])
def test_none_and_custom_give_no_header(auth_type):
    assert build_auth_headers(auth_type, login="u", password="p", token="t") == {}


@pytest.mark.parametrize(
    "kwargs", [{}, {"login": ""}, {"login": None, "password": "p"}, {"login": False}]
)
def test_basic_without_login(kwargs):
    with pytest.raises(AuthConfigError, match="login"):
        build_auth_headers("basic", **kwargs)


@pytest.mark.parametrize("token", [None, "", "   ", False, "Bearer "])
def test_bearer_without_token(token):
    with pytest.raises(AuthConfigError, match="token"):
        build_auth_headers("bearer", token=token)


def test_auth_config_error_is_value_error():
    assert issubclass(AuthConfigError, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda: build_auth_headers("digest", login="u", password="p"),
        lambda: build_auth_headers("basic", login="a:b", password="p"),
        lambda: build_auth_headers("basic", login="u", password="p\r\nX-Evil: 1"),
        lambda: build_auth_headers("bearer", token="abc\r\nX-Evil: 1"),
        lambda: build_auth_headers("bearer", token="two words"),
    ],
)
def test_invalid_settings(call):
    with pytest.raises(AuthConfigError):
        call()


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Bearer abc", ("bearer", "abc")),
        ("bearer abc", ("bearer", "abc")),
        ("BEARER   abc  ", ("bearer", "abc")),
        ("Basic dXNlcjpwYXNz", ("basic", "user", "pass")),
        ("basic dXNlcjpwYXNz", ("basic", "user", "pass")),
        (
            "Basic " + base64.b64encode(b"u:p:with:colons").decode(),
            ("basic", "u", "p:with:colons"),
        ),
        ("Basic " + base64.b64encode("josé:pä".encode()).decode(), ("basic", "josé", "pä")),
        (
            "Basic " + base64.b64encode("josé:pä".encode("latin-1")).decode(),
            ("basic", "josé", "pä"),
        ),
        ("Basic dXNlcjo", ("basic", "user", "")),  # padding dropped by the client
    ],
)
def test_parse_authorization(value, expected):
    assert parse_authorization(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Basic",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Digest abc",
        "Token abc",
        "abc",
        42,
    ],
)
def test_parse_authorization_garbage(value):
    assert parse_authorization(value) is None


def test_roundtrip_build_then_parse():
    header = build_auth_headers("basic", login="api", password="s3cr3t")["Authorization"]
    assert parse_authorization(header) == ("basic", "api", "s3cr3t")
    header = build_auth_headers("bearer", token="tok")["Authorization"]
    assert parse_authorization(header) == ("bearer", "tok")


def test_secrets_equal():
    assert secrets_equal("abc", "abc")
    assert secrets_equal("pä", "pä".encode())
    assert not secrets_equal("abc", "abd")
    assert not secrets_equal("abc", "abcd")
    assert not secrets_equal(None, "abc")
    assert not secrets_equal("abc", None)
    assert not secrets_equal("", "")
    assert not secrets_equal(None, None)
    assert not secrets_equal(False, False)
