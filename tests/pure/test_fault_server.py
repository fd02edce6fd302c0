"""Tests of the loopback FaultServer test helper, driven with plain http.client."""

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from bj_api_sync.tests.fault_server import FaultServer, Headers, Response, refused_url


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


def _conn(server):
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)


def _call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_url_and_default_response(server):
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
    status, headers, body = _call(_conn(server), "GET", "/")
    assert (status, json.loads(body)) == (200, {"ok": True})
    assert headers["Content-Length"] == str(len(body))


def test_scripted_queue_in_order_then_default(server):
    server.script(
        None, [Response(201, {"n": 1}), Response(202, "two"), Response(503, b"\x00\x01")]
    )
    conn = _conn(server)
    results = [_call(conn, "POST", "/x", body=b"{}") for _ in range(4)]
    assert [r[0] for r in results] == [201, 202, 503, 200]
    assert results[0][2] == b'{"n":1}' and results[0][1]["Content-Type"] == "application/json"
    assert results[1][2] == b"two" and results[1][1]["Content-Type"].startswith("text/plain")
    assert results[2][2] == b"\x00\x01"


def test_per_path_scripts(server):
    server.script("/a", [Response(201), Response(202)])
    server.script(None, [Response(418)])
    server.script("/a", [Response(203)])  # appends
    conn = _conn(server)
    statuses = [_call(conn, "GET", path)[0] for path in ("/b", "/a?q=1", "/a", "/a", "/a", "/b")]
    assert statuses == [418, 201, 202, 203, 200, 200]
    assert (server.count("/a"), server.count("/b"), server.count()) == (4, 2, 6)


def test_recorded_request(server):
    conn = _conn(server)
    _call(
        conn,
        "PUT",
        "/res/1?x=1&x=2&empty=",
        body=b'{"a": [1]}',
        headers={"X-Custom": "v", "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    (recorded,) = server.requests
    assert (recorded.method, recorded.path) == ("PUT", "/res/1")
    assert recorded.query == {"x": ["1", "2"], "empty": [""]}
    assert recorded.body == b'{"a": [1]}' and recorded.json == {"a": [1]}
    assert recorded.headers["x-custom"] == "v" and recorded.headers.get("X-CUSTOM") == "v"
    assert "X-Custom" in list(recorded.headers)  # original spelling kept
    assert recorded.idempotency_key == "k"
    assert recorded.received_at == pytest.approx(time.time(), abs=5)
    assert recorded.raw_path == "/res/1?x=1&x=2&empty="


def test_non_json_body_recorded_raw(server):
    _call(_conn(server), "POST", "/x", body=b"not json")
    assert server.requests[0].json is None and server.requests[0].body == b"not json"


def test_headers_helper():
    headers = Headers({"Content-Type": "a"})
    assert headers.get("content-type") == "a" and headers["CONTENT-TYPE"] == "a"
    assert "content-TYPE" in headers and headers.get("missing", 1) == 1
    with pytest.raises(KeyError):
        headers["missing"]


def test_delay(server):
    server.script(None, [Response(200, {"slow": True}, delay=0.3)])
    started = time.monotonic()
    status, _headers, _body = _call(_conn(server), "GET", "/slow")
    assert status == 200 and time.monotonic() - started >= 0.3


def test_close_drops_connection(server):
    server.script(None, [Response(close=True)])
    conn = _conn(server)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _call(conn, "POST", "/x", body=b"{}")
    assert server.count() == 1  # recorded even though unanswered


def test_keep_alive_and_connection_count(server):
    conn = _conn(server)
    for _ in range(3):
        assert _call(conn, "GET", "/k")[0] == 200
    assert server.connection_count == 1
    assert len({r.client_port for r in server.requests}) == 1
    _call(_conn(server), "GET", "/k")
    assert server.connection_count == 2


def test_content_length_on_every_response(server):
    server.script(None, [Response(204), Response(404, {"e": 1}), Response(500, "boom")])
    conn = _conn(server)
    for _ in range(3):
        status, headers, body = _call(conn, "GET", "/")
        assert headers["Content-Length"] == str(len(body))
    status, headers, body = _call(conn, "HEAD", "/")
    assert (status, body) == (200, b"") and int(headers["Content-Length"]) > 0


def test_custom_headers_override(server):
    server.script(
        None,
        [
            Response(
                429,
                {"e": 1},
                headers={"Retry-After": "3", "content-type": "application/problem+json"},
            )
        ],
    )
    _status, headers, _body = _call(_conn(server), "GET", "/")
    assert headers["Retry-After"] == "3"
    assert headers["content-type"] == "application/problem+json"
    assert "Content-Type" not in headers


def test_chunked_request_body(server):
    conn = _conn(server)
    conn.request(
        "POST",
        "/c",
        body=iter([b'{"a":', b"1}"]),
        headers={"Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    assert conn.getresponse().read() == b'{"ok":true}'
    assert server.requests[0].json == {"a": 1}


def test_refused_url_really_refuses():
    url = refused_url()
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()


def test_dedupe_sink_counts_distinct_keys():
    with FaultServer(dedupe=True) as sink:
        conn = _conn(sink)
        replayed = []
        for key in ["a", "b", "a", "c", "a"]:
            _status, headers, _body = _call(
                conn, "POST", "/sink", body=b"[1,2,3]", headers={"Idempotency-Key": key}
            )
            replayed.append(headers.get("Idempotent-Replayed"))
        _call(conn, "POST", "/sink", body=b'{"x":1}')
        assert sink.distinct_idempotency_keys == {"a", "b", "c"}
        assert sink.duplicate_count == 2
        assert replayed == [None, None, "true", None, "true"]
        assert sink.requests == []  # nothing stored
        assert sink.count() == 6 and sink.count("/sink") == 6
        stats = sink.stats()
        assert stats["requests"] == 6 and stats["distinct_keys"] == 3 and stats["without_key"] == 1
        assert stats["items"] == 5 * 3 + 1 and stats["connections"] == 1


def test_dedupe_with_storage_and_plain_mode_keys(server):
    _call(_conn(server), "POST", "/x", body=b"{}", headers={"Idempotency-Key": "z"})
    assert server.distinct_idempotency_keys == {"z"}
    with FaultServer(dedupe=True, store_requests=True) as sink:
        _call(_conn(sink), "GET", "/")
        assert len(sink.requests) == 1


def test_clear(server):
    server.script(None, [Response(500)])
    server.script("/p", [Response(500)])
    _call(_conn(server), "GET", "/q", headers={"Idempotency-Key": "k"})
    server.clear()
    assert (
        server.requests == [] and server.count() == 0 and server.distinct_idempotency_keys == set()
    )
    assert _call(_conn(server), "GET", "/p")[0] == 200  # scripts gone too


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "8.8.8.8", "example.com", "::"])
def test_only_loopback_hosts(host):
    with pytest.raises(ValueError):
        FaultServer(host)


def test_localhost_maps_to_ipv4_loopback():
    assert FaultServer("localhost").host == "127.0.0.1"


def test_stop_is_prompt_with_idle_and_delayed_connections():
    server = FaultServer().start()
    server.script("/slow", [Response(delay=10)])
    idle = _conn(server)
    _call(idle, "GET", "/")
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    server.stop()  # idempotent
    slow.close()
    idle.close()
