"""A fast HTTP/1.1 sink on 127.0.0.1 for the benchmarks (asyncio, one process).

It answers every request with ``200 {"ok":true}``, keeps connections alive,
parses JSON bodies (as a real API would) to count the records received, and
counts distinct ``Idempotency-Key`` values, so a run can check that every event
arrived exactly once. ``GET /__stats`` returns the counters, ``GET /__clear``
resets them; ``GET /__times`` returns ``[time received, body's "name"]`` of each
request to a path under ``/timed`` (latency measurements). Being much faster than the threaded fault server, it leaves the
client's own cost visible in the figures.

    python3 tests/benchmarks/sink.py --port 8099
"""

import argparse
import asyncio
import json
import time

OK = b'{"ok":true}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(OK)).encode() + b"\r\n\r\n" + OK)


class Stats:
    """The sink's counters."""

    def __init__(self):
        self.clear()

    def clear(self):
        """Reset every counter."""
        self.requests = 0
        self.items = 0
        self.duplicates = 0
        self.without_key = 0
        self.keys = set()
        self.connections = 0
        self.times = []

    def as_dict(self):
        """Return the counters as a JSON-able dict."""
        return {"requests": self.requests, "items": self.items,
                "distinct_keys": len(self.keys), "duplicates": self.duplicates,
                "without_key": self.without_key, "connections": self.connections}


STATS = Stats()


async def handle(reader, writer):
    """Serve one keep-alive connection."""
    STATS.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            target = lines[0].split(b" ")[1] if b" " in lines[0] else b"/"
            length, key, close = 0, None, False
            for line in lines[1:]:
                name, _sep, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"idempotency-key":
                    key = value.strip()
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length) if length else b""
            if target.startswith(b"/__stats"):
                data = json.dumps(STATS.as_dict()).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
            elif target.startswith(b"/__times"):
                data = json.dumps(STATS.times).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
            elif target.startswith(b"/__clear"):
                STATS.clear()
                writer.write(RESPONSE)
            else:
                STATS.requests += 1
                if body:
                    parsed = json.loads(body)
                    STATS.items += len(parsed) if isinstance(parsed, list) else 1
                    if target.startswith(b"/timed") and isinstance(parsed, dict):
                        STATS.times.append((time.time(), parsed.get("name")))
                if key is None:
                    STATS.without_key += 1
                elif key in STATS.keys:
                    STATS.duplicates += 1
                else:
                    STATS.keys.add(key)
                writer.write(RESPONSE)
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port):
    """Listen on 127.0.0.1:port until cancelled."""
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main():
    """Run the sink."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8099)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
