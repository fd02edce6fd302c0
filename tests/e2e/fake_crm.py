"""A fake CRM on 127.0.0.1: a small REST API of customers that gives ids.

It stands in for the external system a two-way synchronisation talks to:

- ``POST /customers`` with a JSON object stores it under a new id ``crm_<n>``
  and answers 201 ``{"id": "crm_<n>", ...the body}``; a JSON array is a batch
  (201 with the array of created customers, in order);
- ``GET /customers`` answers 200 with the list of customers;
- ``GET /customers/<id>`` answers 200 with the customer, ``PUT`` replaces the
  stored body (200 with the customer), ``PATCH`` merges into it, ``DELETE``
  removes it (204);
- an unknown id answers 404 ``{"error": "not_found", "id": ...}``, any other
  path 404, a body that is not a JSON object 400.

Every request is recorded (method, path, query, headers, json, body, time) by
the :class:`FaultServer` it is built on, whose scripted answers still win when
a test queues one (``crm.script(path, [Response(500)])``). Standard library
only, thread-safe, loopback only. Run ``python3 tests/e2e/fake_crm.py`` for a
manual instance.
"""
import copy
import itertools
import json
import pathlib
import sys
import threading
import time
from urllib.parse import unquote, urlsplit

try:
    from bj_api_sync.tests.fault_server import FaultServer, Response
except ImportError:  # run as a script: the bare addon package is not registered yet
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    import addon_package

    addon_package.install()
    from bj_api_sync.tests.fault_server import FaultServer, Response


class FakeCrm(FaultServer):
    """A CRM's customer API on 127.0.0.1 that records every request it gets.

    ``customers`` is a snapshot of the store (id -> body as last written),
    ``requests`` the recorded requests (see :class:`FaultServer`).
    """

    def __init__(self, host="127.0.0.1", port=0, *, collection="/customers", id_prefix="crm_"):
        """Configure the CRM; :meth:`start` (or ``with``) listens."""
        super().__init__(host, port)
        self.collection = "/" + collection.strip("/")
        self.id_prefix = id_prefix
        self._store_lock = threading.Lock()
        self._customers: dict[str, dict] = {}
        self._ids = itertools.count(1)

    # -- the store, seen by tests -------------------------------------------
    @property
    def customers(self) -> dict:
        """Snapshot of the stored customers: ``{id: body}``."""
        with self._store_lock:
            return copy.deepcopy(self._customers)

    def customer(self, customer_id):
        """The stored body of ``customer_id`` (a copy), or None."""
        with self._store_lock:
            body = self._customers.get(customer_id)
            return copy.deepcopy(body) if body is not None else None

    def forget(self, customer_id) -> bool:
        """Remove a customer as the CRM's own users would (no request); True if it was there."""
        with self._store_lock:
            return self._customers.pop(customer_id, None) is not None

    def requests_since(self, count: int) -> list:
        """The requests recorded after the first ``count`` ones."""
        return self.requests[count:]

    def describe(self) -> str:
        """The requests and the store as text, for a failing test's message."""
        lines = [f"fake CRM {self.url}: {self.count()} request(s)"]
        for number, request in enumerate(self.requests, 1):
            lines.append(f"  {number}. {request.method} {request.raw_path or request.path} "
                         f"{json.dumps(request.json, sort_keys=True)}")
        lines.append(f"  store: {json.dumps(self.customers, sort_keys=True)}")
        return "\n".join(lines)

    # -- the API ------------------------------------------------------------
    def _record_and_pick(self, handler, body: bytes) -> Response:
        """Record the request (FaultServer), then answer it from the store."""
        response = super()._record_and_pick(handler, body)
        if response is not self.default_response:
            return response  # a test scripted this answer
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return Response(400, {"error": "invalid_json"})
        path = urlsplit(handler.path).path.rstrip("/") or "/"
        if path == self.collection:
            return self._collection(handler.command, data)
        if path.startswith(self.collection + "/"):
            customer_id = unquote(path[len(self.collection) + 1:])
            if customer_id and "/" not in customer_id:
                return self._item(handler.command, customer_id, data)
        return Response(404, {"error": "not_found", "path": path})

    def _collection(self, method: str, data) -> Response:
        """``/customers``: GET lists, POST creates (one object or a batch array)."""
        with self._store_lock:
            if method == "GET":
                return Response(200, [self._answer(key, value) for key, value in
                                      self._customers.items()])
            if method != "POST":
                return Response(405, {"error": "method_not_allowed"}, headers={"Allow": "GET, POST"})
            items = data if isinstance(data, list) else [data]
            if not items or not all(isinstance(item, dict) for item in items):
                return Response(400, {"error": "expected a JSON object or an array of objects"})
            created = []
            for item in items:
                customer_id = f"{self.id_prefix}{next(self._ids)}"
                self._customers[customer_id] = self._body(item)
                created.append(self._answer(customer_id, self._customers[customer_id]))
            return Response(201, created if isinstance(data, list) else created[0])

    def _item(self, method: str, customer_id: str, data) -> Response:
        """``/customers/<id>``: GET, PUT (replace), PATCH (merge), DELETE; 404 when unknown."""
        with self._store_lock:
            if method not in ("GET", "PUT", "PATCH", "DELETE"):
                return Response(405, {"error": "method_not_allowed"},
                                headers={"Allow": "GET, PUT, PATCH, DELETE"})
            if customer_id not in self._customers:
                return Response(404, {"error": "not_found", "id": customer_id})
            if method == "DELETE":
                del self._customers[customer_id]
                return Response(204)
            if method in ("PUT", "PATCH"):
                if not isinstance(data, dict):
                    return Response(400, {"error": "expected a JSON object"})
                if method == "PUT":
                    self._customers[customer_id] = self._body(data)
                else:
                    self._customers[customer_id].update(self._body(data))
            return Response(200, self._answer(customer_id, self._customers[customer_id]))

    @staticmethod
    def _body(data: dict) -> dict:
        """What is stored of a body: a copy, without an ``id`` (the CRM's own)."""
        return {key: copy.deepcopy(value) for key, value in data.items() if key != "id"}

    @staticmethod
    def _answer(customer_id: str, body: dict) -> dict:
        """A customer as the API shows it: its id first, then the stored body."""
        return {"id": customer_id, **copy.deepcopy(body)}


def main() -> None:
    """Run a fake CRM on 127.0.0.1:8098 until interrupted."""
    crm = FakeCrm(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8098).start()
    sys.stdout.write(f"fake CRM listening on {crm.url}{crm.collection} (Ctrl-C to stop)\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        crm.stop()


if __name__ == "__main__":
    main()
