"""Tests of the outbound HTTP client against a real loopback FaultServer.

Every socket here is on 127.0.0.1: the FaultServer refuses other addresses and
refused_url() points at a closed local port.
"""

import ast
import datetime
import decimal
import json
import pathlib
import threading
import time

import pytest

from bj_api_sync.engine import http_client as hc
from bj_api_sync.tests.fault_server import FaultServer, Response, refused_url

ADDON = pathlib.Path(__file__).resolve().parents[2] / "bj_api_sync"


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv
    hc.close_sessions()


@pytest.fixture
def session():
    s = hc._new_session()
    yield s
    s.close()


class FakeSleep:
    """Records the delays instead of sleeping."""

    def __init__(self):
        self.delays = []

    def __call__(self, seconds):
        self.delays.append(seconds)


# -- what the server receives ------------------------------------------------


def test_get_sends_params_in_query_and_no_body(server, session):
    request = hc.OutboundRequest(
        "get",
        server.url + "/items?fixed=1",
        params=[("a", "1"), ("b", "x y"), ("a", "2")],
        json_body={"ignored": True},
    )
    result = hc.send_once(request, session=session)
    assert result.outcome == "success" and result.status_code == 200
    (received,) = server.requests
    assert received.method == "GET"
    assert received.path == "/items"
    assert received.query == {"fixed": ["1"], "a": ["1", "2"], "b": ["x y"]}
    assert received.body == b""
    assert "Content-Type" not in received.headers
    assert received.headers.get("user-agent") == hc.USER_AGENT
    assert received.headers.get("Accept") == "application/json"
    assert result.sent_body is None
    assert result.url.startswith(server.url + "/items?fixed=1&a=1&b=x")


def test_post_sends_compact_json(server, session):
    payload = {
        "name": "José",
        "when": datetime.date(2024, 5, 1),
        "amount": decimal.Decimal("1.50"),
        "n": [1, 2],
    }
    result = hc.send_once(
        hc.OutboundRequest("POST", server.url + "/partners", json_body=payload), session=session
    )
    assert result.outcome == "success"
    (received,) = server.requests
    assert received.method == "POST"
    expected = '{"name":"José","when":"2024-05-01","amount":"1.50","n":[1,2]}'
    assert received.body == expected.encode("utf-8")
    assert received.json == {"name": "José", "when": "2024-05-01", "amount": "1.50", "n": [1, 2]}
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Content-Length"] == str(len(expected.encode("utf-8")))
    assert result.sent_body == expected
    assert result.sent_headers["Content-Type"] == "application/json"


def test_post_array_batch(server, session):
    hc.send_once(
        hc.OutboundRequest("POST", server.url + "/batch", json_body=[{"id": 1}, {"id": 2}]),
        session=session,
    )
    assert server.requests[0].json == [{"id": 1}, {"id": 2}]


def test_put_and_delete(server, session):
    hc.send_once(
        hc.OutboundRequest("PUT", server.url + "/p/1", json_body={"a": 1}), session=session
    )
    hc.send_once(
        hc.OutboundRequest("DELETE", server.url + "/p/1", params={"hard": "1"}), session=session
    )
    hc.send_once(
        hc.OutboundRequest("DELETE", server.url + "/p/2", json_body={"reason": "x"}),
        session=session,
    )
    put, delete, delete_with_body = server.requests
    assert (put.method, put.json) == ("PUT", {"a": 1})
    assert (delete.method, delete.path, delete.query, delete.body) == (
        "DELETE",
        "/p/1",
        {"hard": ["1"]},
        b"",
    )
    assert "Content-Type" not in delete.headers
    assert (delete_with_body.method, delete_with_body.json) == ("DELETE", {"reason": "x"})


def test_user_headers_override_defaults_case_insensitively(server, session):
    headers = {
        "user-agent": "Partner/2.0",
        "content-type": "application/vnd.api+json",
        "X-Tenant": "42",
        "X-Empty-Odoo-Field": False,
    }
    result = hc.send_once(
        hc.OutboundRequest("POST", server.url + "/h", headers=headers, json_body={}),
        session=session,
    )
    received = server.requests[0].headers
    assert received.get("User-Agent") == "Partner/2.0"
    assert received.get("Content-Type") == "application/vnd.api+json"
    assert received.get("X-Tenant") == "42"
    assert "X-Empty-Odoo-Field" not in received
    assert [k for k in result.sent_headers if k.lower() == "user-agent"] == ["user-agent"]


def test_prepare_merges_defaults():
    headers, body = hc.prepare(
        hc.OutboundRequest("POST", "http://127.0.0.1/x", json_body={"a": 1}, idempotency_key="k-1")
    )
    assert headers == {
        "User-Agent": hc.USER_AGENT,
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Idempotency-Key": "k-1",
    }
    assert body == '{"a":1}'
    headers, body = hc.prepare(
        hc.OutboundRequest(
            "GET",
            "http://127.0.0.1/x",
            json_body={"a": 1},
            headers={"idempotency-key": "mine"},
            idempotency_key="k-1",
        )
    )
    assert body is None
    assert "Content-Type" not in headers
    assert headers["idempotency-key"] == "mine" and "Idempotency-Key" not in headers


def test_idempotency_key_sent_and_user_value_wins(server, session):
    hc.send_once(
        hc.OutboundRequest("POST", server.url + "/k", json_body={}, idempotency_key="abc-1"),
        session=session,
    )
    hc.send_once(
        hc.OutboundRequest(
            "POST",
            server.url + "/k",
            json_body={},
            idempotency_key="abc-2",
            headers={"IDEMPOTENCY-KEY": "user"},
        ),
        session=session,
    )
    assert [r.idempotency_key for r in server.requests] == ["abc-1", "user"]


# -- retries -------------------------------------------------------------------


def test_idempotency_key_constant_across_retries(server, session):
    server.script("/r", [Response(500), Response(502), Response(200, {"id": 7})])
    calls, sleep = [], FakeSleep()
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest(
            "POST", server.url + "/r", json_body={"a": 1}, idempotency_key="delivery-1"
        ),
        max_retries=3,
        backoff=1.0,
        session=session,
        sleep=sleep,
        on_attempt=lambda res, no, will, delay: calls.append((res.status_code, no, will, delay)),
    )
    assert (result.outcome, attempts, result.json()) == ("success", 3, {"id": 7})
    assert server.distinct_idempotency_keys == {"delivery-1"}
    assert [r.idempotency_key for r in server.requests] == ["delivery-1"] * 3
    assert [(c[0], c[1], c[2]) for c in calls] == [(500, 1, True), (502, 2, True), (200, 3, False)]
    assert 0.75 <= sleep.delays[0] <= 1.25 and 1.5 <= sleep.delays[1] <= 2.5
    assert [c[3] for c in calls[:2]] == sleep.delays and calls[2][3] == 0.0


def test_500_then_200_two_attempts(server, session):
    server.script(None, [Response(500, {"error": "boom"})])
    sleep = FakeSleep()
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest("POST", server.url + "/x", json_body={}),
        session=session,
        sleep=sleep,
        backoff=0.01,
    )
    assert (result.outcome, result.status_code, attempts) == ("success", 200, 2)
    assert len(sleep.delays) == 1 and server.count() == 2


def test_429_retry_after_is_honoured(server, session):
    server.script(None, [Response(429, {"error": "slow down"}, headers={"Retry-After": "1"})])
    sleep = FakeSleep()
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest("GET", server.url + "/x"), session=session, sleep=sleep, backoff=0.01
    )
    assert (result.outcome, attempts) == ("success", 2)
    assert sleep.delays[0] >= 1.0


def test_retry_after_capped(server, session):
    server.script(None, [Response(503, headers={"Retry-After": "1000"})])
    sleep = FakeSleep()
    hc.send_with_retries(
        hc.OutboundRequest("GET", server.url + "/x"),
        session=session,
        sleep=sleep,
        backoff=0.01,
        retry_after_cap=2.0,
    )
    assert sleep.delays == [2.0]


def test_retry_after_parsed_on_result(server, session):
    server.script(None, [Response(503, headers={"Retry-After": "7"})])
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/x"), session=session)
    assert (result.outcome, result.retry_after) == ("retry", 7.0)
    assert result.error.startswith("HTTP 503: Service Unavailable")


def test_retries_exhausted(server, session):
    server.script(None, [Response(503)] * 5)
    sleep = FakeSleep()
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest("GET", server.url + "/x"),
        max_retries=2,
        session=session,
        sleep=sleep,
        backoff=0.01,
    )
    assert (result.outcome, result.status_code, attempts, len(sleep.delays)) == (
        "retry",
        503,
        3,
        2,
    )
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest("GET", server.url + "/x"),
        max_retries=0,
        session=session,
        sleep=sleep,
        backoff=0.01,
    )
    assert (result.outcome, attempts) == ("retry", 1)


def test_400_fails_at_once_with_body(server, session):
    error = {"success": False, "error": {"code": "VALIDATION_ERROR", "message": "name required"}}
    server.script(None, [Response(400, error)])
    sleep = FakeSleep()
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest("POST", server.url + "/x", json_body={}), session=session, sleep=sleep
    )
    assert (result.outcome, result.status_code, attempts, sleep.delays) == ("fail", 400, 1, [])
    assert result.json() == error
    assert result.error.startswith("HTTP 400: Bad Request")
    assert "name required" in result.error
    assert server.count() == 1


def test_read_timeout_is_retry(server, session):
    server.script(None, [Response(200, {"late": True}, delay=2.0)])
    started = time.monotonic()
    result = hc.send_once(
        hc.OutboundRequest("GET", server.url + "/slow", timeout=(1.0, 0.3)), session=session
    )
    elapsed = time.monotonic() - started
    assert result.outcome == "retry"
    assert "timeout" in result.error.lower()
    assert result.status_code is None
    assert elapsed < 1.5 and 250 <= result.duration_ms < 1500


def test_connection_refused_is_retry(session):
    url = refused_url()
    result = hc.send_once(
        hc.OutboundRequest("POST", url + "/x", json_body={"a": 1}), session=session
    )
    assert result.outcome == "retry"
    assert result.status_code is None
    assert "refused" in result.error.lower()
    sleep = FakeSleep()
    result, attempts = hc.send_with_retries(
        hc.OutboundRequest("GET", url), max_retries=2, backoff=0.01, session=session, sleep=sleep
    )
    assert (result.outcome, attempts, len(sleep.delays)) == ("retry", 3, 2)


def test_dropped_connection_is_retry(server, session):
    server.script(None, [Response(close=True)])
    result = hc.send_once(
        hc.OutboundRequest("POST", server.url + "/x", json_body={}), session=session
    )
    assert result.outcome == "retry" and result.status_code is None
    assert "connection" in result.error.lower()
    # the pool recovers: the next attempt on the same session works
    assert hc.send_once(
        hc.OutboundRequest("POST", server.url + "/x", json_body={}), session=session
    ).ok


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/x", "http://"])
def test_invalid_url_fails(url, session):
    result = hc.send_once(hc.OutboundRequest("GET", url), session=session)
    assert result.outcome == "fail" and result.error


def test_invalid_header_value_fails(session):
    result = hc.send_once(
        hc.OutboundRequest("GET", refused_url(), headers={"X-Bad": "a\r\nX-Evil: 1"}),
        session=session,
    )
    assert result.outcome == "fail" and "header" in result.error.lower()


def test_redirect_not_followed(server, session):
    server.script(None, [Response(302, headers={"Location": "/elsewhere"})])
    result = hc.send_once(
        hc.OutboundRequest("POST", server.url + "/x", json_body={"a": 1}), session=session
    )
    assert (result.outcome, result.status_code) == ("fail", 302)
    assert "/elsewhere" in result.error
    assert server.count() == 1


# -- connections, sessions, limits --------------------------------------------


def test_keep_alive_reuses_one_connection(server, session):
    first = hc.send_once(
        hc.OutboundRequest("POST", server.url + "/a", json_body={"n": 1}), session=session
    )
    second = hc.send_once(hc.OutboundRequest("GET", server.url + "/b"), session=session)
    assert first.ok and second.ok
    ports = {r.client_port for r in server.requests}
    assert len(ports) == 1
    assert server.connection_count == 1


def test_response_size_cap(server, session):
    big = b"x" * 300_000
    server.script(None, [Response(200, big), Response(200, {"small": True})])
    result = hc.send_once(
        hc.OutboundRequest("GET", server.url + "/big"), session=session, max_response_bytes=100_000
    )
    assert result.outcome == "success"
    assert len(result.response_text) == 100_000 and result.response_truncated
    result = hc.send_once(
        hc.OutboundRequest("GET", server.url + "/small"),
        session=session,
        max_response_bytes=100_000,
    )
    assert result.json() == {"small": True} and not result.response_truncated


def test_truncated_json_is_not_parsed(server, session):
    server.script(None, [Response(200, {"data": "y" * 1000})])
    result = hc.send_once(
        hc.OutboundRequest("GET", server.url + "/x"), session=session, max_response_bytes=100
    )
    assert result.response_truncated and result.json() is None


def test_text_decoding_and_non_json(server, session):
    server.script(
        None,
        [
            Response(
                200,
                "héllo".encode("latin-1"),
                headers={"Content-Type": "text/plain; charset=latin-1"},
            ),
            Response(200, "plain text"),
            Response(204),
        ],
    )
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/t"), session=session)
    assert result.response_text == "héllo" and result.json() is None
    assert (
        hc.send_once(hc.OutboundRequest("GET", server.url + "/t"), session=session).json() is None
    )
    result = hc.send_once(hc.OutboundRequest("DELETE", server.url + "/t"), session=session)
    assert (result.outcome, result.status_code, result.response_text) == ("success", 204, "")


def test_cookies_are_not_kept(server, session):
    server.script(None, [Response(200, {}, headers={"Set-Cookie": "sid=secret; Path=/"})])
    hc.send_once(hc.OutboundRequest("GET", server.url + "/login"), session=session)
    hc.send_once(hc.OutboundRequest("GET", server.url + "/next"), session=session)
    assert "Cookie" not in server.requests[1].headers
    assert len(session.cookies) == 0


def test_get_session_pooling():
    hc.close_sessions()
    try:
        first = hc.get_session(1)
        assert hc.get_session(1) is first
        assert hc.get_session(2) is not first
        other = []
        thread = threading.Thread(target=lambda: other.append(hc.get_session(1)))
        thread.start()
        thread.join()
        assert other[0] is not first
        adapter = first.get_adapter("http://127.0.0.1/")
        assert adapter.max_retries.total == 0
        assert (adapter._pool_connections, adapter._pool_maxsize) == (4, 8)
        assert first.headers["User-Agent"] == hc.USER_AGENT
    finally:
        hc.close_sessions()
    assert hc.get_session(1) is not first
    hc.close_sessions()


def test_default_session_used_when_none_given(server):
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/x"))
    assert result.ok and result.duration_ms > 0


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, (5.0, 15.0)),
        (3, (3.0, 3.0)),
        (2.5, (2.5, 2.5)),
        ((1, 2), (1.0, 2.0)),
        ([4, 30.5], (4.0, 30.5)),
    ],
)
def test_normalise_timeout(value, expected):
    result = hc.normalise_timeout(value)
    assert result == expected and all(isinstance(v, float) for v in result)


def test_normalise_timeout_custom_default():
    assert hc.normalise_timeout(None, default=(2, 9)) == (2.0, 9.0)


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        (1,),
        (1, 2, 3),
        "5",
        True,
        (1, None),
        (0, 5),
        float("nan"),
        float("inf"),
        {"connect": 1},
    ],
)
def test_normalise_timeout_invalid(value):
    with pytest.raises(ValueError):
        hc.normalise_timeout(value)


def test_engine_files_do_not_import_odoo():
    files = [
        ADDON / "engine" / name
        for name in ("policy.py", "batching.py", "auth_headers.py", "http_client.py")
    ]
    files.append(ADDON / "tests" / "fault_server.py")
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "odoo" or n.startswith("odoo.") for n in names), path


def test_attempt_result_json_helper():
    assert hc.AttemptResult("success", response_text='{"a": 1}').json() == {"a": 1}
    assert hc.AttemptResult("success", response_text="").json() is None
    assert hc.AttemptResult("fail", response_text="<html>").json() is None
    assert json.loads(json.dumps(hc.AttemptResult("fail").response_headers)) == {}


def test_session_reads_the_environment_once_without_proxies(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    session = hc._new_session()
    assert session.trust_env is False
    assert session.verify == "/etc/ssl/bundle.pem"


def test_session_keeps_requests_proxy_handling_when_a_proxy_is_set(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    session = hc._new_session()
    assert session.trust_env is True
    assert session.verify is True
