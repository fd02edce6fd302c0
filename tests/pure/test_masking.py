"""Tests of log masking and truncation (bj_api_sync.engine.masking), no Odoo needed."""
import copy
import json
import random
import re
import sys

import pytest

from bj_api_sync.engine import masking
from bj_api_sync.engine.masking import (
    MASK,
    SENSITIVE_HEADERS,
    SENSITIVE_KEYS,
    dumps_headers,
    mask_body,
    mask_headers,
    mask_json,
    mask_text,
    mask_url,
    truncate,
)


class CaseInsensitiveDict(dict):
    """Stand-in for requests.structures.CaseInsensitiveDict (a Mapping with items())."""


# --------------------------------------------------------------------------
# headers
# --------------------------------------------------------------------------

def test_mask_constant():
    assert MASK == "********"


def test_sensitive_lists_hold_the_usual_names():
    for name in ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                 "api-key", "x-auth-token", "x-access-token", "x-odoo-api-key"):
        assert name in SENSITIVE_HEADERS
    for key in ("password", "passwd", "secret", "token", "access_token", "refresh_token",
                "api_key", "apikey", "client_secret", "bearer_token", "auth_password",
                "authorization"):
        assert key in SENSITIVE_KEYS


def test_sensitive_lists_are_lower_case():
    assert all(h == h.lower() for h in SENSITIVE_HEADERS)
    assert all(k == k.lower() for k in SENSITIVE_KEYS)


@pytest.mark.parametrize("name", sorted(SENSITIVE_HEADERS))
def test_every_sensitive_header_is_masked(name):
    assert mask_headers({name: "abcdef123456"}) == {name: MASK}


@pytest.mark.parametrize("value, expected", [
    ("Bearer abc.def.ghi", "Bearer ********"),
    ("Basic dXNlcjpwYXNz", "Basic ********"),
    ("bearer   xyz", "bearer ********"),
    ("Digest username=\"u\", response=\"r\"", "Digest ********"),
    ("rawtoken", MASK),
    ("session=abc; other=def", MASK),
])
def test_scheme_word_kept(value, expected):
    assert mask_headers({"Authorization": value}) == {"Authorization": expected}


def test_header_names_case_insensitive_and_spelling_kept():
    headers = {"AUTHORIZATION": "Bearer t0ken", "X-Api-Key": "k1",
               "Content-Type": "application/json", "x-vendor-token": "v", "X-Client-Secret": "s"}
    assert mask_headers(headers) == {
        "AUTHORIZATION": "Bearer ********", "X-Api-Key": MASK, "Content-Type": "application/json",
        "x-vendor-token": MASK, "X-Client-Secret": MASK,
    }


def test_secret_values_in_custom_headers():
    headers = {"X-Custom-Auth": "ABCD-1234-SECRET", "X-Trace": "abc",
               "X-Sig": "Token ABCD-1234-SECRET", "X-Short": "ab", "Accept": "application/json"}
    result = mask_headers(headers, secrets=("ABCD-1234-SECRET", "ab", "", None))
    assert result == {"X-Custom-Auth": MASK, "X-Trace": "abc", "X-Sig": "Token ********",
                      "X-Short": MASK, "Accept": "application/json"}


def test_secret_contained_in_header_value():
    assert mask_headers({"X-Link": "key=supersecret;v=1"}, ["supersecret"]) == {"X-Link": MASK}


def test_single_string_secret_is_not_split_into_characters():
    assert mask_headers({"Accept": "application/json", "X-K": "hunter22"}, "hunter22") == {
        "Accept": "application/json", "X-K": MASK}


def test_headers_list_of_pairs_and_case_insensitive_dict_and_none():
    pairs = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Accept", "*/*"), (b"X-Bytes", b"v")]
    assert mask_headers(pairs) == {
        "Set-Cookie": f"{MASK}, {MASK}", "Accept": "*/*", "X-Bytes": "v",
    }
    cid = CaseInsensitiveDict({"Authorization": "Bearer x", "Accept": "*/*"})
    assert mask_headers(cid) == {"Authorization": "Bearer ********", "Accept": "*/*"}
    assert mask_headers(None) == {}


def test_mask_headers_with_requests_case_insensitive_dict():
    structures = pytest.importorskip("requests.structures")
    cid = structures.CaseInsensitiveDict({"authorization": "Basic abc", "X-A": 1})
    assert mask_headers(cid) == {"authorization": "Basic ********", "X-A": "1"}


def test_mask_headers_does_not_mutate_and_is_idempotent():
    headers = {"Authorization": "Bearer abc", "Accept": "*/*"}
    original = dict(headers)
    once = mask_headers(headers)
    assert headers == original
    assert mask_headers(once) == once


def test_dumps_headers():
    assert dumps_headers({"Accept": "*/*", "Authorization": "Bearer abc"}) == (
        "Accept: */*\nAuthorization: Bearer ********")
    assert dumps_headers(None) == ""
    assert dumps_headers([("A", "1"), ("B", "2")]) == "A: 1\nB: 2"


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://api.example.com/v1/items?page=2&limit=10",
     "https://api.example.com/v1/items?page=2&limit=10"),
    ("https://api.example.com/x?access_token=abc123&page=2",
     "https://api.example.com/x?access_token=********&page=2"),
    ("https://h/x?API_KEY=abc&Token=t&client_secret=s&q=token",
     "https://h/x?API_KEY=********&Token=********&client_secret=********&q=token"),
    ("https://h/x?password=&a=1", "https://h/x?password=&a=1"),
    ("https://user:p%40ss@host.example.com:8443/path?x=1",
     "https://user:********@host.example.com:8443/path?x=1"),
    ("https://user@host/path", "https://user@host/path"),
    ("https://h/x?", "https://h/x?"),
    ("", ""),
])
def test_mask_url(url, expected):
    assert mask_url(url) == expected


def test_mask_url_secret_values_and_path():
    secrets = ("s3cr3t-value", "ab")
    assert mask_url("https://h/hooks/s3cr3t-value/run?sig=s3cr3t-value&x=ab&y=abc", secrets) == (
        "https://h/hooks/********/run?sig=********&x=********&y=abc")
    # percent-encoded secret value in the query
    assert mask_url("https://h/x?k=a%2Fb%2Bc", ["a/b+c"]) == "https://h/x?k=********"
    # user name equal to a secret
    assert mask_url("https://login1:pw@h/", ["login1"]) == "https://********:********@h/"


# --------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------

def test_mask_text_secrets_longest_first():
    text = "token abcd1234 and abcd1234XYZ and abcd"
    assert mask_text(text, ["abcd", "abcd1234", "abcd1234XYZ"]) == (
        "token ******** and ******** and ********")


def test_mask_text_short_secret_only_as_whole_value():
    assert mask_text("abc is not masked in abcdef", ["abc"]) == "abc is not masked in abcdef"
    assert mask_text("abc", ["abc"]) == MASK


def test_mask_text_structural_patterns():
    assert mask_text("grant_type=client_credentials&client_secret=xyz&scope=a") == (
        "grant_type=client_credentials&client_secret=********&scope=a")
    assert mask_text("bad payload {'password': 'hunter2', 'login': 'bob'}") == (
        "bad payload {'password': '********', 'login': 'bob'}")
    assert mask_text('truncated {"api_key": "k-1", "n": 2, "token": 123') == (
        'truncated {"api_key": "********", "n": 2, "token": ********')
    assert mask_text("Host: h\nAuthorization: Bearer abc\nX-Api-Key: k\n") == (
        "Host: h\nAuthorization: Bearer ********\nX-Api-Key: ********\n")
    assert mask_text("sent Bearer eyJhbGciOi.xyz to server") == "sent Bearer ******** to server"
    assert mask_text("a Bearer token was refused") == "a Bearer token was refused"
    assert mask_text('{"password": null}') == '{"password": null}'


def test_mask_text_none_and_non_str():
    assert mask_text(None) == ""
    assert mask_text(12345, ["12345"]) == MASK


def test_mask_text_idempotent():
    text = "password=abc Authorization: Bearer qwertyuiop {'secret': 'x'} value-s3cr3t"
    once = mask_text(text, ["s3cr3t"])
    assert mask_text(once, ["s3cr3t"]) == once
    assert "abc" not in once and "qwertyuiop" not in once and "s3cr3t" not in once


# --------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------

def test_mask_json_nested_and_not_mutated():
    data = {
        "user": {"login": "bob", "Password": "p1", "profile": {"api_key": "k", "age": 3}},
        "items": [{"token": "t1", "name": "a"}, {"refresh_token": None, "name": "b"}],
        "auth": {"client_secret": ""},
        "note": "my key is SECRET-VALUE-1",
        "authorization": {"type": "basic", "value": "x"},
        "n": 5, "ok": True, "tuple": ("SECRET-VALUE-1", 1),
    }
    original = copy.deepcopy(data)
    result = mask_json(data, ["SECRET-VALUE-1"])
    assert result == {
        "user": {"login": "bob", "Password": MASK, "profile": {"api_key": MASK, "age": 3}},
        "items": [{"token": MASK, "name": "a"}, {"refresh_token": None, "name": "b"}],
        "auth": {"client_secret": ""},
        "note": "my key is ********",
        "authorization": MASK,
        "n": 5, "ok": True, "tuple": [MASK, 1],
    }
    assert data == original
    assert result["user"] is not data["user"]


def test_mask_json_scalars():
    assert mask_json("abcd-secret", ["abcd-secret"]) == MASK
    assert mask_json(3) == 3
    assert mask_json(None) is None
    assert mask_json([]) == []


# --------------------------------------------------------------------------
# bodies
# --------------------------------------------------------------------------

def test_mask_body_dict_and_list():
    body = {"name": "Café", "password": "x", "tags": [1, 2]}
    assert mask_body(body) == '{"name":"Café","password":"********","tags":[1,2]}'
    assert mask_body([{"token": "t"}]) == '[{"token":"********"}]'
    assert body == {"name": "Café", "password": "x", "tags": [1, 2]}


def test_mask_body_json_string_and_bytes():
    text = '{\n  "access_token": "abc",\n  "expires_in": 3600\n}'
    assert mask_body(text) == '{"access_token":"********","expires_in":3600}'
    assert mask_body(text.encode("utf-8")) == '{"access_token":"********","expires_in":3600}'
    assert mask_body('  [1, "k-secret-9"]', ["k-secret-9"]) == '[1,"********"]'


def test_mask_body_invalid_json_falls_back_to_text():
    text = '{"password": "hunter2", "login": "bob"'  # truncated JSON
    assert mask_body(text) == '{"password": "********", "login": "bob"'
    html = "<html>token s3cr3tvalue</html>"
    assert mask_body(html, ["s3cr3tvalue"]) == "<html>token ********</html>"


def test_mask_body_bytes_decoding():
    assert mask_body("héllo".encode()) == "héllo"
    assert mask_body(b"caf\xe9 ok") == "caf\ufffd ok"
    assert mask_body(bytearray(b"password=abc")) == "password=********"


def test_mask_body_binary_is_kept_safe():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert mask_body(png) == f"<binary data: {len(png)} bytes>"
    assert mask_body("a\x00b") == "ab"


def test_mask_body_none_and_other_types():
    assert mask_body(None) == ""
    assert mask_body(b"") == ""
    assert mask_body(42) == "42"
    assert mask_body({"d": object}).startswith('{"d":"<class')


def test_mask_body_truncates_after_masking():
    body = {"password": "p" * 50, "data": "x" * 100}
    result = mask_body(body, limit=20)
    assert result == '{"password":"*******\n… [truncated 113 characters]'
    assert "p" * 2 not in result


def test_mask_body_long_secret_cut_by_limit_never_leaks_prefix():
    secret = "S" * 30
    result = mask_body("head " + secret + " tail", [secret], limit=10)
    assert result == "head *****\n… [truncated 8 characters]"


# --------------------------------------------------------------------------
# truncate
# --------------------------------------------------------------------------

@pytest.mark.parametrize("text, limit, expected", [
    ("abcdef", 6, "abcdef"),
    ("abcdefg", 6, "abcdef\n… [truncated 1 characters]"),
    ("abcdef", 7, "abcdef"),
    ("abcdef", None, "abcdef"),
    ("abcdef", 0, "abcdef"),
    ("abcdef", -1, "abcdef"),
    ("", 3, ""),
    (None, 3, ""),
    ("é" * 5, 2, "éé\n… [truncated 3 characters]"),
])
def test_truncate(text, limit, expected):
    assert truncate(text, limit) == expected


def test_is_sensitive_key_by_name_fragment():
    assert masking.is_sensitive_key("New_Password")
    assert masking.is_sensitive_key("webhook-secret")
    assert masking.is_sensitive_key("csrf_token")
    assert not masking.is_sensitive_key("name")
    assert not masking.is_sensitive_key("token_type")
    assert not masking.is_sensitive_key(3)


def test_is_sensitive_header_by_name_fragment():
    assert masking.is_sensitive_header("X-Shop-Access-Token")
    assert not masking.is_sensitive_header("Content-Type")


def test_body_roundtrip_is_valid_json():
    result = mask_body({"a": {"secret": 1}, "b": "ünïcode"})
    assert json.loads(result) == {"a": {"secret": MASK}, "b": "ünïcode"}


# --------------------------------------------------------------------------
# the hint gate of mask_text (casefold + substring tests)
# --------------------------------------------------------------------------

# The regular expression the hint replaced: an IGNORECASE alternation of the
# words. The hint may find more than it (it only gates the exact checks), never less.
_OLD_HINT_RE = re.compile(
    "|".join(re.escape(w) for w in sorted(masking._KEY_HINTS, key=len)), re.IGNORECASE
)
_TRICKY = [
    "TOKEN", "ToKeN", "x-API-KEY", "Api_Key", "PassWord", "PWD", "SECRET", "Authorization",
    "apİkey", "APİ_KEY", "apıkey", "prıvate_key", "ſecret", "paſſwd", "\u212aey", "api_\u212aey",
    "AUTHORİZATİON", "passẞwd", "pass\u00dfword", "tok\u0130en", "Σecret", "ﬅoken", "to\u200bken",
    "tokén", "İ", "ı", "i\u0307", "", "plain text", '{"name": "x"}', "x=1&y=2",
]


def _hint(text):
    found = [w for w in masking._HINT_WORDS if w in masking._fold(text)]
    return not masking._KEY_HINT_SET.isdisjoint(found)


@pytest.mark.parametrize("text", _TRICKY + [f"{a}{b}" for a in _TRICKY[:12] for b in ("", "_id", " ")])
def test_hint_finds_whatever_the_old_regex_found(text):
    if _OLD_HINT_RE.search(text):
        assert _hint(text), text
    if _OLD_HINT_RE.search(text.upper()):
        assert _hint(text.upper()), text.upper()


def test_fold_maps_every_ignorecase_equivalent_of_the_hint_letters():
    # re.IGNORECASE matches character by character: if every character it
    # equates with an ASCII letter of a hint word folds to that letter, the
    # folded text contains the word wherever the regex would have matched.
    letters = sorted({c for w in masking._KEY_HINTS | masking._HEADER_HINTS for c in w})
    alphabet = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    for letter in letters:
        for char in re.findall(re.escape(letter), alphabet, re.IGNORECASE):
            assert masking._fold(char) == letter, (letter, hex(ord(char)))


def test_hint_words_cover_every_sensitive_name():
    for word in masking._KEY_HINTS:
        assert _hint(word) and _hint(word.upper()) and _hint(word.title()), word
    for name in SENSITIVE_KEYS | masking._KEY_HINTS:
        assert not masking._KEY_HINT_SET.isdisjoint(
            w for w in masking._HINT_WORDS if w in name), name
    for name in SENSITIVE_HEADERS:
        assert any(w in name for w in masking._HEADER_HINT_WORDS), name
    # keys and headers that are sensitive through a fragment or a suffix
    for name in ("new_password", "webhook_secret", "x_api_key", "MyToken", "X-Vendor-Token",
                 "X-Partner-Secret", "x-my-apikey", "db-passwd"):
        folded = masking._fold(name)
        if masking.is_sensitive_key(name):
            assert any(w in folded for w in masking._KEY_HINT_WORDS), name
        if masking.is_sensitive_header(name):
            assert any(w in folded for w in masking._HEADER_HINT_WORDS), name


def _reference_mask_text(text, secrets=()):
    """mask_text as it was before the hint gate changed (regex gate, every pattern run)."""
    sec = masking._Secrets(secrets)
    text = masking._replace_secrets(text, sec)
    if text == MASK:
        return text
    hint = _OLD_HINT_RE.search(text) is not None
    if hint and "=" in text:
        text = masking._FORM_RE.sub(masking._form_sub, text)
    if ":" in text:
        if hint and ('"' in text or "'" in text):
            text = masking._QUOTED_RE.sub(masking._quoted_sub, text)
        text = masking._HEADER_LINE_RE.sub(masking._header_line_sub, text)
    if "earer" in text or "asic" in text or "EARER" in text or "ASIC" in text:
        text = masking._AUTH_RE.sub(lambda m: f"{m.group('s')} {MASK}", text)
    return text


_ATOMS = [
    "token", "TOKEN", "apİkey", "apıkey", "Api-Key", "pwd", "PassWord", "ſecret", "cookie",
    "Authorization", "X-Auth-Token", "Ocp-Apim-Subscription-Key", "private_key", "Bearer",
    "BEARER", "BeArEr", "basic", "Basic", "ß", "\u212a", "=", ":", '"', "'", " ", "\n", "\r\n",
    "&", ",", "{", "}", "abcdefgh1234", "s3cr3t", "é", "_", "-", "null", "x",
]


def test_mask_text_output_unchanged_by_the_faster_gates():
    rnd = random.Random(20240501)
    for _i in range(5000):
        text = "".join(rnd.choice(_ATOMS) for _ in range(rnd.randint(0, 25)))
        secrets = rnd.choice([(), ("s3cr3t",), ("abcdefgh1234", "x")])
        assert mask_text(text, secrets) == _reference_mask_text(text, secrets), text


def test_mask_text_large_json_body_unchanged():
    records = [{"id": i, "name": f"Partner {i}", "email": f"p{i}@example.com"} for i in range(100)]
    for extra in ({}, {"access_token": "t0k3n-value"}, {"Note": "Authorization: Bearer abcdefghij"}):
        text = json.dumps([dict(r, **extra) for r in records])
        assert mask_text(text, ("p7@example.com",)) == _reference_mask_text(
            text, ("p7@example.com",))
    assert "t0k3n-value" not in mask_text(json.dumps({"access_token": "t0k3n-value"}))


def test_secrets_normalised_once_per_tuple():
    first = masking._secrets(("alpha-secret", "b"))
    assert masking._secrets(("alpha-secret", "b")) is first
    assert first.long == ("alpha-secret",) and first.all == {"alpha-secret", "b"}
    assert masking._secrets(first) is first
    # lists and unhashable items still work, uncached
    assert masking._secrets(["alpha-secret"]).long == ("alpha-secret",)
    assert masking._secrets(("alpha-secret", ["x"])).long == ("alpha-secret",)
    assert mask_text("key alpha-secret", ["alpha-secret"]) == f"key {MASK}"
    assert mask_headers({"X": "alpha-secret"}, ("alpha-secret", ["x"])) == {"X": MASK}


def test_mask_headers_bytes_and_none_values_unchanged():
    headers = [(b"X-Api-Key", b"k"), ("X-None", None), ("X-Num", 5), ("x-num", "6")]
    assert mask_headers(headers) == {"X-Api-Key": MASK, "X-None": "", "X-Num": "5", "x-num": "6"}


@pytest.mark.parametrize("scheme", ["BeArEr", "bEARER", "Basic", "bAsIc"])
def test_mixed_case_scheme_credentials_are_masked(scheme):
    text = f"upstream said: {scheme} abcdefgh12345678 was refused"
    masked = masking.mask_text(text)
    assert "abcdefgh12345678" not in masked
    assert f"{scheme} {masking.MASK}" in masked


def test_webhook_authentication_header_value_is_masked():
    body = {"url": "https://example.com/hook",
            "authentication": {"type": "custom", "header_name": "X-Hook-Key",
                               "header_value": "s3cret-value-123"}}
    masked = json.loads(masking.mask_body(json.dumps(body)))
    assert masked["authentication"]["header_value"] == masking.MASK
    assert masked["authentication"]["header_name"] == "X-Hook-Key"
