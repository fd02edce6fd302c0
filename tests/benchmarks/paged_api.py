"""A paged JSON API on 127.0.0.1 for the import benchmark (threaded, one process).

``GET /people/<tag>/<total>?page=k&per_page=n`` answers ``{"records": [...]}``
with items ``total`` generated items, ``n`` per page (page numbers from 1; a
page past the end is empty)::

    {"name": "<tag> 17", "mail": "<tag>17@bench.example", "phone": "+32 2 555 00017"}

The tag in the path lets one server hand out a new set of records for each
measurement. Connections are kept alive (HTTP/1.1). ``GET /__stats`` returns
the pages and items served, ``GET /__clear`` resets the counters. It runs in
its own process, as an external API would, so that it does not compete with
the importing process for the interpreter lock.

    python3 tests/benchmarks/paged_api.py --port 8098
"""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Stats:
    """Counters of what was served, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        """Reset the counters."""
        self.pages = 0
        self.items = 0

    def add(self, items):
        """Count one page of ``items`` items."""
        with self.lock:
            self.pages += 1
            self.items += items


STATS = Stats()


def page_items(tag, total, page, per_page):
    """Return the items of page ``page`` (1-based) of ``total`` generated items."""
    start = (page - 1) * per_page
    return [{"name": f"{tag} {n}", "mail": f"{tag}{n}@bench.example",
             "phone": f"+32 2 555 {n:05d}"}
            for n in range(start + 1, min(total, start + per_page) + 1)]


class Handler(BaseHTTPRequestHandler):
    """Answer the paged GETs and the counters."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the importer's pooled connections expect

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - the http.server hook's name
        """Serve one page, or the counters."""
        url = urlsplit(self.path)
        if url.path == "/__stats":
            return self._send(200, {"pages": STATS.pages, "items": STATS.items})
        if url.path == "/__clear":
            STATS.clear()
            return self._send(200, {"ok": True})
        parts = url.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "people" or not parts[2].isdigit():
            return self._send(404, {"error": "GET /people/<tag>/<total>"})
        query = parse_qs(url.query)
        try:
            page = max(int(query.get("page", ["1"])[0]), 1)
            per_page = max(int(query.get("per_page", ["100"])[0]), 1)
        except ValueError:
            return self._send(400, {"error": "page and per_page are integers"})
        items = page_items(parts[1], int(parts[2]), page, per_page)
        STATS.add(len(items))
        return self._send(200, {"records": items})

    def log_message(self, *args):
        """Stay quiet: one line per page would cost more than the page."""


def main():
    """Run the API until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8098)
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
