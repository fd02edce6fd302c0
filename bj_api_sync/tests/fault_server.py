"""A scriptable HTTP server on the loopback interface, for tests and benchmarks.

It stands in for the external API an outbound config talks to: it records what
it receives and answers with scripted responses (any status, body, headers,
a delay before answering, or a dropped connection). It speaks HTTP/1.1 with
keep-alive (every response carries Content-Length) and counts TCP connections,
so connection reuse can be checked. In sink mode (``dedupe=True``) it keeps only
counters and the set of distinct ``Idempotency-Key`` values, so a benchmark can
push 100,000 requests through it with flat memory.

Standard library only; does not import Odoo. It binds loopback addresses only.
Run ``python3 bj_api_sync/tests/fault_server.py --port 8099`` for a manual sink
(as a script: importing the addon package would import Odoo).
"""

import argparse
import collections
import contextlib
import dataclasses
import ipaddress
import json
import logging
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_logger = logging.getLogger(__name__)


class Headers(dict):
    """Request headers as received (original spelling kept) with case-insensitive lookup."""

    def _find(self, key):
        """Return the stored spelling of ``key``, or None."""
        if dict.__contains__(self, key):
            return key
        lowered = str(key).lower()
        for existing in self:
            if existing.lower() == lowered:
                return existing
        return None

    def get(self, key, default=None):
        """Case-insensitive ``dict.get``."""
        found = self._find(key)
        return default if found is None else dict.__getitem__(self, found)

    def __getitem__(self, key):
        """Case-insensitive item access."""
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        return dict.__getitem__(self, found)

    def __contains__(self, key):
        """Case-insensitive membership test."""
        return self._find(key) is not None


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    json: Any
    received_at: float
    client_port: int = 0
    raw_path: str = ""

    @property
    def idempotency_key(self) -> str | None:
        """The request's ``Idempotency-Key`` header, if any."""
        return self.headers.get("Idempotency-Key")


@dataclass
class Response:
    """A scripted answer.

    ``body``: dict/list (sent as JSON), str (text/plain, UTF-8), bytes
    (application/octet-stream) or None (empty). ``headers`` override the
    defaults. ``delay``: seconds to wait before answering. ``close``: drop
    the connection without answering (the client sees a connection error).
    """

    status: int = 200
    body: Any = None
    headers: dict | None = None
    delay: float = 0.0
    close: bool = False

    def render(self) -> tuple[bytes, dict[str, str]]:
        """Return the payload bytes and the response headers (Content-Length excluded)."""
        if self.body is None:
            payload, content_type = b"", None
        elif isinstance(self.body, bytes):
            payload, content_type = self.body, "application/octet-stream"
        elif isinstance(self.body, str):
            payload, content_type = self.body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload = json.dumps(self.body, separators=(",", ":")).encode("utf-8")
            content_type = "application/json"
        headers = {"Content-Type": content_type} if content_type else {}
        for key, value in (self.headers or {}).items():
            for existing in [k for k in headers if k.lower() == str(key).lower()]:
                del headers[existing]
            headers[str(key)] = str(value)
        return payload, headers


def _loopback_host(host: str) -> str:
    """Return ``host`` if it is a loopback address ("localhost" -> 127.0.0.1), else raise."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"FaultServer binds loopback addresses only, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"FaultServer binds loopback addresses only, got {host!r}")
    return host


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that never resolves names and logs errors quietly."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # benchmarks open many connections at once
    fault: "FaultServer"

    def server_bind(self):
        """Bind without HTTPServer's reverse DNS lookup (getfqdn can stall for seconds)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        """Client hang-ups are expected here (timeouts, dropped connections): log at debug."""
        # socketserver calls this from inside its except block, so exc_info is the live error.
        _logger.debug("fault server: error with client %s", client_address, exc_info=True)


class _Server6(_Server):
    """IPv6 variant (``::1``)."""

    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, lets the FaultServer record it and pick a Response, plays it."""

    protocol_version = "HTTP/1.1"  # keep-alive: the client may reuse the connection
    server_version = "bj-fault-server/1.0"
    timeout = 30  # an idle keep-alive connection does not pin a thread forever
    # Headers and body go out in two writes; with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms per response), which would skew benchmarks.
    disable_nagle_algorithm = True

    def setup(self):
        """Count the new TCP connection."""
        result = super().setup()
        self.server.fault._connection_opened(self.connection)
        return result

    def finish(self):
        """Forget the TCP connection."""
        try:
            return super().finish()
        finally:
            self.server.fault._connection_closed(self.connection)

    def log_message(self, format, *args):
        """Route http.server's access log to logging instead of stderr."""
        _logger.debug("fault server: " + format, *args)

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked) so the stream stays in sync."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        """Serve one request according to the script."""
        fault = self.server.fault
        body = self._read_body()
        response = fault._record_and_pick(self, body)
        if response.delay > 0 and fault._stopping.wait(response.delay):
            self.close_connection = True  # server stopping: do not answer
            return
        if response.close:
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may be gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload, headers = response.render()
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        self.send_response(response.status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not no_body:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class FaultServer:
    """A real HTTP server on 127.0.0.1 whose answers are scripted per path.

    ``port=0`` picks a free port; only loopback hosts are accepted. With
    ``dedupe=True`` it is a benchmark sink: ``store_requests`` defaults to
    False (only counters and distinct Idempotency-Keys are kept) and a
    repeated key is answered with ``Idempotent-Replayed: true``. All accessors
    are thread-safe and return snapshots.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        dedupe: bool = False,
        store_requests: bool | None = None,
        default_response: Response | None = None,
    ):
        """Configure the server; call :meth:`start` (or use ``with``) to listen."""
        self.host = _loopback_host(host)
        self.port = int(port)
        self.dedupe = dedupe
        self.store_requests = (not dedupe) if store_requests is None else bool(store_requests)
        self.default_response = default_response or Response(200, {"ok": True})
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._open: set = set()
        self._reset_locked()
        self._scripts: dict[str | None, collections.deque] = {}

    def _reset_locked(self):
        """Zero every record and counter (lock held or not yet shared)."""
        self._requests: list[RecordedRequest] = []
        self._counts: collections.Counter = collections.Counter()
        self._total = 0
        self._keys: set[str] = set()
        self._duplicates = 0
        self._without_key = 0
        self._items = 0
        self._bytes = 0
        self._connections = 0

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "FaultServer":
        """Start listening in a background thread; return self."""
        if self._httpd is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        self._stopping.clear()
        self._httpd = server_class((self.host, self.port), _Handler)
        self._httpd.fault = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, drop open connections and wake delayed handlers."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:  # idle keep-alive connections would keep handler threads alive
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self):
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- scripting ---------------------------------------------------------
    def script(self, path: str | None, responses: list[Response]) -> None:
        """Queue ``responses`` for ``path`` (None = any path), consumed in order.

        A path's own queue is used first, then the any-path queue, then
        :attr:`default_response`. Calling again appends to the queue.
        """
        with self._lock:
            self._scripts.setdefault(path, collections.deque()).extend(responses)

    def clear(self) -> None:
        """Forget recorded requests, counters, keys and queued scripts."""
        with self._lock:
            self._reset_locked()
            self._connections = len(self._open)
            self._scripts.clear()

    # -- inspection --------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of the recorded requests (empty when ``store_requests`` is False)."""
        with self._lock:
            return list(self._requests)

    def count(self, path: str | None = None) -> int:
        """Number of requests received, in all or for ``path``."""
        with self._lock:
            return self._total if path is None else self._counts[path]

    @property
    def distinct_idempotency_keys(self) -> set:
        """Snapshot of the distinct Idempotency-Key values received."""
        with self._lock:
            return set(self._keys)

    @property
    def duplicate_count(self) -> int:
        """Requests whose Idempotency-Key had been seen before (retried deliveries)."""
        with self._lock:
            return self._duplicates

    @property
    def connection_count(self) -> int:
        """TCP connections accepted (since start or the last :meth:`clear`)."""
        with self._lock:
            return self._connections

    def stats(self) -> dict:
        """Benchmark counters: totals, distinct keys, duplicates, items, bytes, connections."""
        with self._lock:
            return {
                "requests": self._total,
                "distinct_keys": len(self._keys),
                "duplicates": self._duplicates,
                "without_key": self._without_key,
                "items": self._items,
                "bytes": self._bytes,
                "connections": self._connections,
            }

    # -- called by the handler ---------------------------------------------
    def _connection_opened(self, sock) -> None:
        """Count and remember a new connection."""
        with self._lock:
            self._connections += 1
            self._open.add(sock)

    def _connection_closed(self, sock) -> None:
        """Forget a closed connection."""
        with self._lock:
            self._open.discard(sock)

    def _record_and_pick(self, handler: _Handler, body: bytes) -> Response:
        """Record a request and return the Response to play for it."""
        split = urlsplit(handler.path)
        path = split.path
        # Control paths of a sink run in its own process (benchmarks): read or
        # reset the counters without counting the call itself.
        if self.dedupe and path == "/__stats":
            return Response(200, self.stats())
        if self.dedupe and path == "/__clear":
            self.clear()
            return Response(200, {"cleared": True})
        key = handler.headers.get("Idempotency-Key")
        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        # Items = records delivered: a batch is a JSON array, a single record an object.
        items = len(parsed) if isinstance(parsed, list) else (1 if isinstance(parsed, dict) else 0)
        recorded = None
        if self.store_requests:
            headers = Headers()
            for name, value in handler.headers.items():
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            recorded = RecordedRequest(
                method=handler.command,
                path=path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers=headers,
                body=body,
                json=parsed,
                received_at=time.time(),
                client_port=handler.client_address[1],
                raw_path=handler.path,
            )
        with self._lock:
            self._total += 1
            self._counts[path] += 1
            self._items += items
            self._bytes += len(body)
            duplicate = False
            if key:
                duplicate = key in self._keys
                if duplicate:
                    self._duplicates += 1
                else:
                    self._keys.add(key)
            else:
                self._without_key += 1
            if recorded is not None:
                self._requests.append(recorded)
            queue = self._scripts.get(path) or self._scripts.get(None)
            response = queue.popleft() if queue else self.default_response
        if duplicate and self.dedupe:
            response = dataclasses.replace(
                response, headers={**(response.headers or {}), "Idempotent-Replayed": "true"}
            )
        return response


def refused_url() -> str:
    """A ``http://127.0.0.1:PORT`` URL where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> None:
    """Run a dedupe sink on 127.0.0.1 until interrupted, printing its counters."""
    parser = argparse.ArgumentParser(description="bj_api_sync fault server (loopback sink)")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address only")
    parser.add_argument("--store", action="store_true", help="also keep every request in memory")
    args = parser.parse_args(argv)
    server = FaultServer(args.host, args.port, dedupe=True, store_requests=args.store).start()
    # stdout, not logging: this is the command's user interface.
    _say(f"fault server sink listening on {server.url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(5)
            _say(json.dumps(server.stats()))
    except KeyboardInterrupt:
        _say("stopping")
    finally:
        server.stop()
        _say(json.dumps(server.stats()))


def _say(line: str) -> None:
    """Write one line to stdout for the person running the sink by hand."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
