"""Tests of the outbound HTTP client against a real loopback FaultServer.

Every socket here is on 127.0.0.1: the FaultServer refuses other addresses and
refused_url() points at a closed local port.
"""

import ast
import contextlib
import copy
import datetime
import decimal
import gzip
import json
import pathlib
import re
import socket
import threading
import time

import pytest
import requests
import urllib3

from bj_api_sync.engine import http_client as hc
from bj_api_sync.engine import policy
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


def _send_with_retries(request, *, max_retries=3, backoff=1.0, session=None, sleep=None,
                       on_attempt=None, retry_after_cap=300.0):
    """send_once() under the retry policy, as the outbox applies it, blocking between
    attempts; returns (last result, attempts made)."""
    attempts = 0
    while True:
        result = hc.send_once(request, session=session)
        attempts += 1
        will_retry = policy.should_retry(result.outcome, attempts,
                                         policy.max_attempts(max_retries))
        delay = policy.backoff_delay(attempts, backoff, retry_after=result.retry_after,
                                     cap=retry_after_cap) if will_retry else 0.0
        if on_attempt is not None:
            on_attempt(result, attempts, will_retry, delay)
        if not will_retry:
            return result, attempts
        sleep(delay)


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
    result, attempts = _send_with_retries(
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
    result, attempts = _send_with_retries(
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
    result, attempts = _send_with_retries(
        hc.OutboundRequest("GET", server.url + "/x"), session=session, sleep=sleep, backoff=0.01
    )
    assert (result.outcome, attempts) == ("success", 2)
    assert sleep.delays[0] >= 1.0


def test_retry_after_capped(server, session):
    server.script(None, [Response(503, headers={"Retry-After": "1000"})])
    sleep = FakeSleep()
    _send_with_retries(
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
    result, attempts = _send_with_retries(
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
    result, attempts = _send_with_retries(
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
    result, attempts = _send_with_retries(
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
    result, attempts = _send_with_retries(
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


def test_pool_is_remembered_per_origin_and_closed_with_the_session(server):
    session = hc._new_session()
    target = hc._target(server.url + "/a", None)
    pool = hc._pool(session, target)
    assert hc._pool(session, hc._target(server.url + "/b", [("q", "1")])) is pool
    assert hc.send_once(hc.OutboundRequest("GET", server.url + "/a"), session=session).ok
    assert hc.send_once(hc.OutboundRequest("GET", server.url + "/b"), session=session).ok
    assert server.connection_count == 1  # the remembered pool's keep-alive connection
    session.close()
    assert pool.pool is None  # closed with the session, never used again
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/c"), session=session)
    assert result.ok, result.error
    fresh = hc._pool(session, target)
    assert fresh is not pool and fresh.pool is not None
    session.close()


def test_pools_per_session_are_bounded_oldest_closed_first(session):
    bound = hc._POOLS_PER_SESSION
    assert bound == 16
    pools = [hc._pool(session, hc._target(f"http://127.0.0.1:{port}/", None))
             for port in range(20001, 20001 + bound)]
    assert len(session.__dict__["_bj_api_sync_pools"]) == bound
    assert all(pool.pool is not None for pool in pools)
    newest = hc._pool(session, hc._target("http://127.0.0.1:30000/", None))
    assert len(session.__dict__["_bj_api_sync_pools"]) == bound
    assert pools[0].pool is None  # the oldest was closed to make room
    assert all(pool.pool is not None for pool in pools[1:]) and newest.pool is not None
    assert hc._pool(session, hc._target("http://127.0.0.1:20002/", None)) is pools[1]


def test_pool_gets_the_sessions_tls_settings(session, tmp_path):
    # One pool per TLS settings: changing verify or cert never reuses a pool
    # made for other settings.
    url = "https://bj-api-sync.invalid/x"
    target = hc._target(url, None)
    session.verify = True
    verified = hc._pool(session, target)
    assert verified.cert_reqs == "CERT_REQUIRED" and verified.ca_certs == requests.certs.where()
    session.verify = False
    assert hc._pool(session, target).cert_reqs == "CERT_NONE"
    session.verify = True
    assert hc._pool(session, target) is verified
    bundle_dir = tmp_path / "cas"
    bundle_dir.mkdir()
    session.verify = str(bundle_dir)
    assert hc._pool(session, target).ca_cert_dir == str(bundle_dir)
    pem, key = tmp_path / "client.pem", tmp_path / "client.key"
    pem.write_text("x")
    key.write_text("x")
    session.verify = True
    session.cert = [str(pem), str(key)]  # requests allows a list
    pool = hc._pool(session, target)
    assert (pool.cert_file, pool.key_file) == (str(pem), str(key))
    session.cert = str(pem)
    assert (hc._pool(session, target).cert_file, hc._pool(session, target).key_file) == (
        str(pem), None)


def test_missing_tls_files_are_a_failed_attempt_not_an_exception(session, tmp_path):
    session.verify = str(tmp_path / "missing-bundle.pem")
    result = hc.send_once(hc.OutboundRequest("GET", "https://127.0.0.1:9/x"), session=session)
    assert result.outcome == "fail" and "CA certificate bundle" in result.error
    session.verify = True
    session.cert = (str(tmp_path / "missing.pem"), str(tmp_path / "missing.key"))
    result = hc.send_once(hc.OutboundRequest("GET", "https://127.0.0.1:9/x"), session=session)
    assert result.outcome == "fail" and "missing.pem" in result.error


def test_credentials_and_per_call_headers_stay_out_of_the_header_cache(session):
    hc._valid_header.cache_clear()
    headers = {"Authorization": "Bearer sekret-token-value", "X-Api-Key": "k-123456",
               "Idempotency-Key": "abc", "Accept": "application/json", "X-Tenant": "t1"}
    hc._wire_headers(session, headers, "POST", b"{}", None)
    cached = hc._valid_header.cache_info().currsize
    hc._wire_headers(session, dict(headers, Authorization="Bearer other-secret"), "POST",
                     b"{}", None)
    # session defaults + Accept + X-Tenant, but no credential, key or length
    assert hc._valid_header.cache_info().currsize == cached
    assert cached == len({k.lower() for k in session.headers} | {"accept", "x-tenant"})
    with pytest.raises(ValueError):
        hc._wire_headers(session, {"Authorization": "Bearer bad\nvalue"}, "POST", b"{}", None)


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


# -- the direct path: the session adapter's urllib3 pool -----------------------


def _requests_path_session():
    """A session that send_once sends through Session.send() (a response hook)."""
    s = hc._new_session()
    s.hooks["response"].append(lambda response, *args, **kwargs: response)
    assert not hc._direct_ok(s)
    return s


@pytest.fixture
def requests_session():
    s = _requests_path_session()
    yield s
    s.close()


@pytest.fixture
def unaccepting_url():
    """A loopback port whose accept queue is full: connecting to it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _i in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(listener.getsockname())
        fillers.append(filler)
    probe = socket.socket()
    probe.settimeout(0.2)
    try:
        probe.connect(listener.getsockname())
    except TimeoutError:
        pass
    else:
        pytest.skip("this kernel accepts connections beyond the listen backlog")
    finally:
        probe.close()
    yield "http://127.0.0.1:%d" % listener.getsockname()[1]
    for sock in [listener, *fillers]:
        sock.close()


_URL_CASES = [
    ("http://h.example/items?fixed=1", [("a", "1"), ("b", "x y"), ("a", "2")]),
    ("http://h.example/items", {"a": ["1", "2"], "n": 3, "t": True, "none": None}),
    ("http://h.example/s?x=1", "y=2&z=ü"),
    ("http://h.example/pä th/ü?q=ö&r=%41", [("k", "v é")]),
    ("http://bücher.example/x", None),
    ("http://h.example", []),
    ("http://us%40er:p%3Aw@h.example/x#frag", [("k", "v")]),
    ("HTTP://H.example:8080/a/../b", [(b"bk", b"bv"), ("e", "")]),
    ("  http://h.example/lead", ()),
    ("ftp://h.example/x", [("a", "1")]),
]


@pytest.mark.parametrize("url, params", _URL_CASES)
def test_prepared_url_is_requests_own_and_cached(url, params):
    expected = requests.PreparedRequest()
    expected.prepare_url(url, params)
    target = hc._target(url, params)
    assert (target.url, target.path_url) == (expected.url, expected.path_url)
    assert target.request.url == expected.url
    assert hc._target(url, copy.deepcopy(params)) is target  # served from the cache


def test_prepared_url_cache_keys_keep_value_types_apart():
    url = "http://h.example/t"
    assert hc._target(url, [("a", True)]).url.endswith("?a=True")
    assert hc._target(url, [("a", 1)]).url.endswith("?a=1")
    assert hc._target(url, [("a", b"1")]).url.endswith("?a=1")
    assert hc._target(url, [("a", "1")]).url.endswith("?a=1")
    assert hc._target(url, [("a", (True,))]).url.endswith("?a=True")
    assert hc._target(url, [("a", [1])]).url.endswith("?a=1")
    # dict and list of pairs give the same URL
    assert hc._target(url, {"x": "1", "y": "2"}).url == hc._target(url, [("x", "1"), ("y", "2")]).url
    # not cached, still prepared as requests does: floats, other objects
    assert hc._params_key([("a", 0.0)]) is None and hc._params_key([("a", object())]) is None
    assert hc._target(url, [("a", 0.0)]).url.endswith("?a=0.0")
    assert hc._target(url, [("a", -0.0)]).url.endswith("?a=-0.0")
    assert hc._target(url, [("a", decimal.Decimal("1.50"))]).url.endswith("?a=1.50")
    assert hc._target(url, [("a", decimal.Decimal("1.5"))]).url.endswith("?a=1.5")
    with pytest.raises(ValueError):  # as PreparedRequest.prepare_url() raises
        hc._target(url, [("a", "1", "x")])
    assert hc._cached_target.cache_info().maxsize == hc._URL_CACHE_SIZE == 256


@pytest.mark.parametrize("url", ["not a url", "http://", "http://*.example/x"])
def test_prepared_url_errors_are_raised_every_time(url):
    with pytest.raises(requests.exceptions.RequestException) as expected:
        requests.PreparedRequest().prepare_url(url, [("a", "1")])
    for _i in range(2):
        with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
            hc._target(url, [("a", "1")])


def test_params_and_non_ascii_path_reach_the_server(server, session, requests_session):
    url = server.url + "/pä th/ü?fixed=1&q=ö"
    params = [("a", "1"), ("b", "x y"), ("c", "é&=")]
    direct = hc.send_once(hc.OutboundRequest("GET", url, params=params), session=session)
    via_requests = hc.send_once(
        hc.OutboundRequest("GET", url, params=params), session=requests_session
    )
    assert direct.ok and via_requests.ok
    first, second = server.requests
    assert first.raw_path == second.raw_path == hc._target(url, params).path_url
    assert first.query == {"fixed": ["1"], "q": ["ö"], "a": ["1"], "b": ["x y"], "c": ["é&="]}
    assert direct.url == via_requests.url == hc._target(url, params).url


_SAME_AS_REQUESTS = [
    {"method": "POST", "path": "/p", "json_body": {"name": "José"}, "idempotency_key": "k-1"},
    {"method": "GET", "path": "/g?fixed=1", "params": [("a", "1"), ("a", "2")],
     "json_body": {"x": 1}},
    {"method": "DELETE", "path": "/d", "params": {"hard": "1"}},
    {"method": "PATCH", "path": "/p"},
    {
        "method": "PUT",
        "path": "/h",
        "json_body": {},
        "headers": {
            "user-agent": "Partner/2.0",
            "content-type": "application/vnd.api+json",
            "ACCEPT-ENCODING": "identity",
            "connection": "close",
            "content-length": "999",
            "X-Tenant": 42,
            "X-Empty": False,
        },
    },
    {"method": "DELETE", "path": "/d", "headers": {"content-length": "0", "Accept": "*/*"}},
    {"method": "POST", "path": "/auth", "json_body": {}, "headers": {"Authorization": "Bearer x"},
     "credentials": "us%40er:p%3Aw@"},
    {"method": "GET", "path": "/auth", "credentials": "user@"},
]


@pytest.mark.parametrize("spec", _SAME_AS_REQUESTS)
def test_direct_path_sends_what_the_requests_path_sends(server, spec):
    spec = dict(spec)
    base = server.url.replace("://", "://" + spec.pop("credentials", ""))
    request = hc.OutboundRequest(url=base + spec.pop("path"), **spec)
    results = []
    for session in (hc._new_session(), _requests_path_session()):
        results.append(hc.send_once(request, session=session))
        session.close()
    direct, via_requests = results
    assert direct.ok and via_requests.ok, (direct.error, via_requests.error)
    first, second = server.requests
    # same headers, same order and spelling, same request line and body
    assert list(first.headers.items()) == list(second.headers.items())
    assert (first.method, first.raw_path, first.body) == (second.method, second.raw_path,
                                                          second.body)
    assert direct.sent_headers == via_requests.sent_headers
    assert list(direct.sent_headers.items()) == [
        item for item in first.headers.items() if item[0].lower() != "host"
    ]
    assert (direct.url, direct.sent_body) == (via_requests.url, via_requests.sent_body)


def test_direct_path_does_not_go_through_session_send(server, session, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Session.send() called")

    monkeypatch.setattr(requests.Session, "send", refuse)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    result = hc.send_once(hc.OutboundRequest("POST", server.url + "/x", json_body={}),
                          session=session)
    assert result.ok and server.count() == 1


def test_custom_adapter_is_left_to_requests(server, session):
    sent = []

    class RecordingAdapter(requests.adapters.HTTPAdapter):
        def send(self, request, **kwargs):
            sent.append(request.url)
            return super().send(request, **kwargs)

    session.mount("http://", RecordingAdapter(max_retries=0))
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/x"), session=session)
    assert result.ok and sent == [server.url + "/x"]


def test_truncated_response_connection_is_not_reused(server, session):
    server.script(None, [Response(200, b"x" * 300_000), Response(200, {"n": 2}),
                         Response(200, {"n": 3})])
    first = hc.send_once(
        hc.OutboundRequest("GET", server.url + "/big"), session=session, max_response_bytes=1000
    )
    assert first.response_truncated and len(first.response_text) == 1000
    # the connection went back to the pool closed (its slot kept), not half-read
    pool = hc._pool(session, hc._target(server.url, None))
    idle = [conn for conn in pool.pool.queue if conn is not None]
    assert len(idle) == 1 and idle[0].sock is None
    second = hc.send_once(hc.OutboundRequest("GET", server.url + "/a"), session=session)
    third = hc.send_once(hc.OutboundRequest("GET", server.url + "/b"), session=session)
    # the half-read connection was closed, not handed to the next request
    assert (second.json(), third.json()) == ({"n": 2}, {"n": 3})
    ports = [r.client_port for r in server.requests]
    assert ports[1] != ports[0] and ports[2] == ports[1]
    assert server.connection_count == 2
    idle = [conn for conn in pool.pool.queue if conn is not None]
    assert len(idle) == 1 and idle[0].sock is not None  # a fully read one stays open


def test_gzip_response_is_decoded_and_capped(server, session):
    body = json.dumps({"data": "z" * 50_000}).encode()
    packed = gzip.compress(body)
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    server.script(None, [Response(200, packed, headers=headers),
                         Response(200, packed, headers=headers),
                         Response(200, b"not gzip at all", headers=headers)])
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/z"), session=session)
    assert result.json() == {"data": "z" * 50_000} and not result.response_truncated
    result = hc.send_once(
        hc.OutboundRequest("GET", server.url + "/z"), session=session, max_response_bytes=1000
    )
    assert result.response_truncated and result.response_text == body[:1000].decode()
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/z"), session=session)
    assert (result.outcome, result.status_code) == ("fail", 200)
    assert result.error.startswith("ContentDecodingError: ")


def _direct_exception(session, request):
    headers, body = hc.prepare(request)
    data = body.encode() if body is not None else None
    with pytest.raises(Exception) as info:
        hc._send_direct(session, request, headers, data, hc.normalise_timeout(request.timeout),
                        hc.AttemptResult("fail"), 1000)
    return info.value


def _compare_with_requests(request):
    results = []
    for session in (hc._new_session(), _requests_path_session()):
        result = hc.send_once(request, session=session)
        session.close()
        results.append((result.outcome, result.status_code, result.error, result.url,
                        result.sent_headers))
    assert results[0] == results[1]
    return results[0]


def test_refused_connection_maps_to_connection_error(session):
    request = hc.OutboundRequest("POST", refused_url() + "/x", json_body={})
    exc = _direct_exception(session, request)
    assert type(exc) is requests.exceptions.ConnectionError
    assert isinstance(exc.args[0].reason, urllib3.exceptions.NewConnectionError)
    outcome, _status, error, _url, _headers = _compare_with_requests(request)
    assert outcome == "retry" and "refused" in error


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_timeout_maps_to_connect_timeout(unaccepting_url, session, method):
    request = hc.OutboundRequest(method, unaccepting_url + "/x", timeout=(0.2, 5))
    exc = _direct_exception(session, request)
    assert type(exc) is requests.exceptions.ConnectTimeout
    outcome, _status, error, _url, _headers = _compare_with_requests(request)
    assert outcome == "retry"
    assert error.startswith("Connect timeout: no connection to 127.0.0.1:") and "0.2s" in error


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_read_timeout_maps_to_read_timeout(server, session, method):
    server.script(None, [Response(200, {}, delay=0.6)] * 3)
    request = hc.OutboundRequest(method, server.url + "/slow", timeout=(1, 0.2))
    exc = _direct_exception(session, request)
    assert type(exc) is requests.exceptions.ReadTimeout
    outcome, _status, error, _url, _headers = _compare_with_requests(request)
    assert outcome == "retry" and error.startswith("Read timeout: no response from")


def test_dropped_connection_maps_to_connection_error(server, session):
    server.script(None, [Response(close=True)] * 3)
    request = hc.OutboundRequest("POST", server.url + "/x", json_body={})
    exc = _direct_exception(session, request)
    assert type(exc) is requests.exceptions.ConnectionError
    outcome, _status, error, _url, _headers = _compare_with_requests(request)
    assert outcome == "retry" and "Connection aborted" in error


@pytest.mark.parametrize(
    "url, headers",
    [
        ("not a url", {}),
        ("ftp://127.0.0.1/x", {}),
        ("http://", {}),
        ("http://127.0.0.1:99999/x", {}),
        ("REFUSED/x", {"X-Bad": "a\r\nX-Evil: 1"}),
        ("REFUSED/x", {"X-Bad": " leading space"}),
    ],
)
def test_invalid_requests_fail_as_with_requests(url, headers):
    url = url.replace("REFUSED", refused_url())
    outcome, status, error, result_url, _headers = _compare_with_requests(
        hc.OutboundRequest("GET", url, headers=headers)
    )
    assert (outcome, status, result_url) == ("fail", None, url) and error


def test_adapter_error_mapping_mirrors_requests():
    u3 = urllib3.exceptions
    errors = requests.exceptions
    pool = urllib3.HTTPConnectionPool("127.0.0.1", 9)

    def retry_error(reason):
        return u3.MaxRetryError(pool, "/x", reason)

    cases = [
        (retry_error(u3.ConnectTimeoutError(pool, "connect timed out")), errors.ConnectTimeout),
        (retry_error(u3.NewConnectionError(pool, "refused")), errors.ConnectionError),
        (retry_error(u3.ResponseError("too many 500 error responses")), errors.RetryError),
        (retry_error(u3.ProxyError("proxy", OSError("x"))), errors.ProxyError),
        (retry_error(u3.SSLError("bad certificate")), errors.SSLError),
        (retry_error(u3.ProtocolError("Connection aborted.", OSError("x"))),
         errors.ConnectionError),
        (u3.ProtocolError("Connection aborted.", OSError("x")), errors.ConnectionError),
        (ConnectionResetError(104, "reset"), errors.ConnectionError),
        (u3.ClosedPoolError(pool, "closed"), errors.ConnectionError),
        (u3.ProxyError("proxy", OSError("x")), errors.ProxyError),
        (u3.SSLError("bad certificate"), errors.SSLError),
        (u3.ReadTimeoutError(pool, "/x", "Read timed out."), errors.ReadTimeout),
    ]
    for exc, expected in cases:
        mapped = hc._adapter_error(exc)
        assert type(mapped) is expected, exc
        assert mapped.args[0] is exc
    # let through unchanged, as HTTPAdapter.send() does
    assert hc._adapter_error(u3.LocationValueError("bad")) is None
    assert hc._adapter_error(ValueError("Invalid header value")) is None
    assert hc._adapter_error(u3.DecodeError("x")) is None


def test_timeout_objects_shared_per_pair():
    first = hc._timeout(5.0, 15.0)
    assert hc._timeout(5.0, 15.0) is first
    assert (first.connect_timeout, first.read_timeout) == (5.0, 15.0)


# -- targets that must be public (webhooks) -------------------------------------


def test_refuse_internal_checks_the_address_really_connected_to(server, session):
    # No name resolution is judged here: the connected socket's peer is.
    request = hc.OutboundRequest("POST", server.url + "/hook", json_body={"a": 1},
                                 refuse_internal=True)
    result = hc.send_once(request, session=session)
    assert result.outcome == "fail" and result.status_code is None
    assert result.error.startswith("Delivery refused, nothing was sent: 127.0.0.1 resolved "
                                   "to 127.0.0.1")
    assert server.count() == 0  # not a byte of the request reached it
    # The same session and origin without the guard: sent as usual (its own pool).
    assert hc.send_once(hc.OutboundRequest("POST", server.url + "/hook", json_body={}),
                        session=session).ok
    assert server.count() == 1
    # And the guard still holds afterwards on that origin.
    assert hc.send_once(request, session=session).outcome == "fail"
    assert server.count() == 1


def test_refuse_internal_lets_a_public_peer_through(server, session, monkeypatch):
    # The sink stands in for a public host: the guard asks url_guard about the peer.
    seen = []

    def public(address):
        seen.append(address)
        return False

    monkeypatch.setattr(hc.url_guard, "is_internal_address", public)
    result = hc.send_once(hc.OutboundRequest("GET", server.url + "/ok", refuse_internal=True),
                          session=session)
    assert result.ok, result.error
    assert seen == ["127.0.0.1"]
