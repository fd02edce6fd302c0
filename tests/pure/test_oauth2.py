"""OAuth2 client credentials: the token request, the answer, the fallback, the lifetime.

The HTTP tests talk to a real token server on 127.0.0.1 (the FaultServer) and
check what it received.
"""
import base64
from urllib.parse import parse_qsl

import pytest

from bj_api_sync.engine import auth_headers, oauth2
from bj_api_sync.engine import http_client as hc
from bj_api_sync.tests.fault_server import FaultServer, Response, refused_url

SECRET = "s3cr3t:with spaces&more=yes"
CLIENT = "client:id/1"


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


def creds(server=None, secret=SECRET, scope="orders:write customers:read"):
    url = (server.url if server else "http://127.0.0.1:9") + "/oauth/token"
    return oauth2.ClientCredentials(token_url=url, client_id=CLIENT, client_secret=secret,
                                    scope=scope)


def ok(token="tok-AAA.bbb_ccc", **extra):
    body = {"access_token": token, "token_type": "bearer", "expires_in": 3600}
    body.update(extra)
    return Response(200, body)


def form_of(received):
    return dict(parse_qsl(received.body.decode()))


def basic_of(received):
    scheme, _sep, value = received.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    user, _sep, password = base64.b64decode(value).decode().partition(":")
    return user, password


# ---------------------------------------------------------------- the request
def test_basic_request_form_encodes_id_and_secret_before_base64():
    headers, form = oauth2.token_request(creds(), oauth2.BASIC)
    value = headers["Authorization"].split(" ", 1)[1]
    raw = base64.b64decode(value).decode()
    # RFC 6749 2.3.1: both encoded application/x-www-form-urlencoded, then joined by ':'
    assert raw == "client%3Aid%2F1:s3cr3t%3Awith+spaces%26more%3Dyes"
    assert form == [("grant_type", "client_credentials"),
                    ("scope", "orders:write customers:read")]
    assert SECRET not in repr(form)


def test_post_request_puts_id_and_secret_in_the_form_and_no_authorization():
    headers, form = oauth2.token_request(creds(scope=""), oauth2.POST)
    assert "Authorization" not in headers
    assert form == [("grant_type", "client_credentials"), ("client_id", CLIENT),
                    ("client_secret", SECRET)]


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        oauth2.token_request(creds(), "private_key_jwt")


def test_reprs_carry_neither_secret_nor_token():
    token = oauth2.Token(access_token="tok-visible-nowhere")
    headers, form = oauth2.token_request(creds(), oauth2.BASIC)
    basic = headers["Authorization"].split(" ", 1)[1]
    request = hc.OutboundRequest(method="POST", url="http://x/t", headers=headers,
                                 form_body=form)
    bearer = hc.OutboundRequest(method="POST", url="http://x/api",
                                headers={"Authorization": "Bearer tok-visible-nowhere"})
    for text in (repr(creds()), repr(token), repr(request), repr(bearer)):
        assert SECRET not in text
        assert basic not in text
        assert "tok-visible-nowhere" not in text


# ------------------------------------------------------------------ the answer
def test_answer_gives_token_type_lifetime_and_scope():
    token = oauth2.parse_token_response(
        200, '{"access_token":"abc.DEF-123","token_type":"bearer","expires_in":3600,'
             '"scope":"orders:write"}', now=1000.0)
    assert token.access_token == "abc.DEF-123"
    assert token.token_type == "Bearer"
    assert token.expires_in == 3600
    assert token.scope == "orders:write"
    assert token.expires_at == 1000.0 + 3600 - 30
    described = token.describe()
    assert "abc.DEF-123" not in described
    assert described == ("HTTP 200, token_type Bearer, expires_in 3600 s, scope "
                         "'orders:write' (client_secret_basic)")


def test_no_expires_in_gives_the_default_and_says_so():
    token = oauth2.parse_token_response(200, '{"access_token":"abcd"}', now=0.0)
    assert token.expires_in is None
    assert token.lifetime == oauth2.DEFAULT_EXPIRES_IN
    assert token.expires_at == oauth2.DEFAULT_EXPIRES_IN - 30
    assert "no expires_in (kept 300 s)" in token.describe()
    assert token.token_type == "Bearer"  # missing token_type: Bearer


@pytest.mark.parametrize("value, seconds", [("120", 120), (59.9, 59), (0, None), (-5, None),
                                            ("soon", None), (True, None), (None, None),
                                            (float("inf"), None), (float("nan"), None),
                                            (1e400, None), (1e12, 365 * 86400)])
def test_expires_in_parsing(value, seconds):
    assert oauth2.parse_expires_in(value) == seconds


def test_short_lived_token_is_dropped_at_half_its_life_not_30_s_early():
    assert oauth2.margin(3600) == 30
    assert oauth2.margin(40) == 20
    assert oauth2.expiry(100.0, 40) == 120.0
    assert oauth2.expiry(100.0, 10) == 105.0


def test_error_answer_names_url_status_code_and_description_never_the_secret():
    body = ('{"error":"invalid_client","error_description":"Client authentication failed '
            f'for secret {SECRET}"}}')
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.parse_token_response(401, body, url="https://auth.example.com/token?x=1",
                                    secrets=(SECRET,))
    message = str(caught.value)
    assert message.startswith("OAuth2 token request to https://auth.example.com/token?x=1 "
                              "failed: 401 invalid_client: Client authentication failed")
    assert "(client_secret_basic)" in message
    assert SECRET not in message
    assert not caught.value.retryable
    assert caught.value.error == "invalid_client"


def test_token_url_credentials_are_not_shown():
    assert oauth2.safe_url("https://u:pw@auth.example.com/t?client_secret=zz&a=1") == \
        "https://auth.example.com/t?client_secret=********&a=1"


@pytest.mark.parametrize("status, retryable", [(500, True), (503, True), (429, True),
                                               (408, True), (400, False), (403, False)])
def test_which_failures_are_retried(status, retryable):
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.parse_token_response(status, "<html>down</html>", url="http://a/t")
    assert caught.value.retryable is retryable
    assert f"HTTP {status} - <html>down</html>" in str(caught.value)


def test_temporarily_unavailable_is_retried():
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.parse_token_response(400, '{"error":"temporarily_unavailable"}')
    assert caught.value.retryable


@pytest.mark.parametrize("body, words", [
    ('{"token_type":"bearer"}', "has no access_token (keys: token_type)"),
    ("not json", "not a JSON object"),
    ("", "not a JSON object: (empty)"),
    ('{"access_token":"abc def"}', "characters a header cannot carry"),
    ('{"access_token":"abc\\r\\nX-Evil: 1"}', "characters a header cannot carry"),
    ('{"access_token":"abcd1234","token_type":"mac"}', "token_type 'mac' is not supported"),
])
def test_unusable_answers_fail_clearly(body, words):
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.parse_token_response(200, body, url="http://a/t")
    assert words in str(caught.value)
    assert not caught.value.retryable
    assert "abcd1234" not in str(caught.value)


def test_refused_client_rule():
    assert oauth2.refused_client(oauth2.TokenError("x", status=401))
    assert oauth2.refused_client(oauth2.TokenError("x", status=400, error="invalid_client"))
    assert oauth2.refused_client(oauth2.TokenError("x", status=400, error="invalid_request"))
    assert not oauth2.refused_client(oauth2.TokenError("x", status=400, error="invalid_scope"))
    assert not oauth2.refused_client(oauth2.TokenError("x", status=500))
    assert not oauth2.refused_client(oauth2.TokenError("x", status=None, retryable=True))


# ---------------------------------------------------------- against a server
def test_fetch_with_basic(server):
    server.script("/oauth/token", [ok()])
    token = oauth2.fetch_token(creds(server), timeout=(2, 2))
    assert token.access_token == "tok-AAA.bbb_ccc"
    assert token.method == oauth2.BASIC and token.fallback_from is None
    [received] = server.requests
    assert received.method == "POST"
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert basic_of(received) == ("client%3Aid%2F1", "s3cr3t%3Awith+spaces%26more%3Dyes")
    assert form_of(received) == {"grant_type": "client_credentials",
                                 "scope": "orders:write customers:read"}
    assert SECRET not in received.body.decode()


@pytest.mark.parametrize("refusal", [
    Response(401, {"error": "invalid_client"}, headers={"WWW-Authenticate": "Basic"}),
    Response(400, {"error": "invalid_request", "error_description": "client_id missing"}),
])
def test_basic_refused_falls_back_to_post_once(server, refusal):
    server.script("/oauth/token", [refusal, ok("tok-post")])
    token = oauth2.fetch_token(creds(server), timeout=(2, 2))
    assert token.access_token == "tok-post"
    assert token.method == oauth2.POST
    assert token.fallback_from == oauth2.BASIC
    assert "client_secret_post, after client_secret_basic was refused" in token.describe()
    first, second = server.requests
    assert "Authorization" in first.headers
    assert "Authorization" not in second.headers
    assert form_of(second) == {"grant_type": "client_credentials",
                               "scope": "orders:write customers:read",
                               "client_id": CLIENT, "client_secret": SECRET}


def test_remembered_post_is_tried_first(server):
    server.script("/oauth/token", [ok()])
    token = oauth2.fetch_token(creds(server), oauth2.POST, timeout=(2, 2))
    assert token.method == oauth2.POST
    [received] = server.requests
    assert "Authorization" not in received.headers
    assert form_of(received)["client_secret"] == SECRET


def test_wrong_secret_tries_both_methods_then_fails_clearly(server):
    refusal = Response(401, {"error": "invalid_client",
                             "error_description": "Bad client credentials"})
    server.script("/oauth/token", [refusal, refusal])
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.fetch_token(creds(server), timeout=(2, 2))
    message = str(caught.value)
    assert message == (f"OAuth2 token request to {server.url}/oauth/token failed: 401 "
                       "invalid_client: Bad client credentials (client_secret_post); "
                       "client_secret_basic was refused too (HTTP 401)")
    assert SECRET not in message
    assert not caught.value.retryable
    assert server.count() == 2


def test_what_the_server_echoes_of_the_credentials_is_masked(server):
    headers, _form = oauth2.token_request(creds(server), oauth2.BASIC)
    basic = headers["Authorization"]
    echo = Response(500, {"error": "server_error",
                          "error_description": f"got {basic} / {basic.split()[1]} / "
                                               f"{oauth2.form_encode(SECRET)}"})
    server.script("/oauth/token", [echo])
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.fetch_token(creds(server), timeout=(2, 2))
    message = str(caught.value)
    assert "server_error" in message
    for secret in (basic, basic.split()[1], oauth2.form_encode(SECRET), SECRET):
        assert secret not in message


def test_server_error_is_retryable_and_not_a_reason_to_fall_back(server):
    server.script("/oauth/token", [Response(503, "maintenance", headers={"Retry-After": "7"})])
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.fetch_token(creds(server), timeout=(2, 2))
    assert caught.value.retryable
    assert caught.value.retry_after == 7
    assert "failed: HTTP 503 - maintenance" in str(caught.value)
    assert server.count() == 1


def test_token_server_down_is_retryable():
    down = oauth2.ClientCredentials(token_url=refused_url() + "/token", client_id="c",
                                    client_secret=SECRET)
    with pytest.raises(oauth2.TokenError) as caught:
        oauth2.fetch_token(down, timeout=(2, 2))
    assert caught.value.retryable
    assert caught.value.status is None
    assert "OAuth2 token request to http://127.0.0.1:" in str(caught.value)
    assert "Connection error" in str(caught.value)
    assert SECRET not in str(caught.value)


# --------------------------------------------------------------- the plumbing
def test_form_body_is_sent_form_urlencoded():
    request = hc.OutboundRequest(method="POST", url="http://x/t", json_body={"ignored": 1},
                                 form_body=[("a", "b c"), ("d", "&")])
    headers, body = hc.prepare(request)
    assert body == "a=b+c&d=%26"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_oauth2_auth_header_is_the_bearer_of_the_token():
    assert auth_headers.build_auth_headers("oauth2") == {}
    assert auth_headers.build_auth_headers("oauth2", token="abc") == {
        "Authorization": "Bearer abc"}
    assert "oauth2" in auth_headers.AUTH_TYPES
    with pytest.raises(auth_headers.AuthConfigError):
        auth_headers.build_auth_headers("oauth2", token="a b")
