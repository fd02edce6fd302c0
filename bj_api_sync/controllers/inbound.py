"""HTTP routes of the inbound REST API (``/api/sync/v1``).

The routes are ``type='http'`` (plain HTTP, not JSON-RPC), ``csrf=False``
(machine clients, no session), ``save_session=False`` (no cookie is ever set)
and ``auth='none'``: authentication depends on the resolved configuration
(bearer, basic, custom headers or none, plus Odoo API keys) and its failures
must be answered with the contract's JSON envelope, logged in ``bj.api.log``
and counted by the rate limiter. Odoo's own auth layer would answer HTML
(or redirect to the login page) before our code runs, so it is done by
:mod:`..services.inbound_auth` instead. The request never runs as the public
user nor as superuser for data access: the services switch to the
authenticated internal user.

No ``methods`` restriction is declared either: a wrong verb is answered by
the services with a JSON 405 and an ``Allow`` header, where werkzeug would
answer an HTML page. A catch-all route keeps unknown paths under the prefix
in JSON too. This module only reads the request and writes the response.

The body is read by :func:`capture_body`, never more than the API's limit
plus one byte of it, also when no Content-Length announces its size (a
chunked body): a client cannot make a worker read, or hold in memory, more
than that.
"""
from odoo import http
from odoo.http import request

from ..engine import routes
from ..services import inbound_pipeline

_BODY_ATTR = "bj_api_sync_body"
_UNREAD_ATTR = "bj_api_sync_body_unread"
_CHUNK = 64 * 1024


def _read_capped(stream, limit):
    """Read ``stream`` to its end, or until it gave ``limit + 1`` bytes."""
    parts = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def capture_body(httprequest, limit):
    """Return the request body, reading at most ``limit + 1`` bytes of it.

    A body larger than ``limit`` comes back as its first ``limit + 1`` bytes
    (the caller answers 413), the rest stays unread; one whose Content-Length
    is over the limit is not read at all (``b""``). The result is kept on the
    request. Werkzeug's own body cache gets the body when it is within the
    limit, else nothing, so that its form parser (Odoo reads ``form`` for
    every ``type='http'`` route) never reads the rest of the stream either;
    the answer then closes the connection (see :func:`_respond`).
    """
    # Odoo's HTTPRequest exposes no stream: its werkzeug request does.
    wrapped = getattr(httprequest, "_HTTPRequest__wrapped", httprequest)
    data = getattr(wrapped, _BODY_ATTR, None)
    if data is not None:
        return data
    data = getattr(wrapped, "_cached_data", None)  # read in full before us
    if data is None:
        length = wrapped.content_length
        unread = length is not None and length > limit
        data = b"" if unread else _read_capped(wrapped.stream, limit)
        unread = unread or len(data) > limit
        wrapped._cached_data = b"" if unread else data
        setattr(wrapped, _UNREAD_ATTR, unread)
    setattr(wrapped, _BODY_ATTR, data)
    return data


def _body_left_unread(httprequest):
    wrapped = getattr(httprequest, "_HTTPRequest__wrapped", httprequest)
    return getattr(wrapped, _UNREAD_ATTR, False)


def _call(subpath=""):
    httprequest = request.httprequest
    return inbound_pipeline.Call(
        method=httprequest.method.upper(),
        path=httprequest.path,
        url=httprequest.url,
        subpath=subpath,
        headers=httprequest.headers,
        args=httprequest.args,
        remote_addr=httprequest.remote_addr or "",
        content_length=httprequest.content_length,
        # Content-Length is checked against the limit before this is called;
        # a chunked body (no length) is read up to the limit, then measured.
        read_body=lambda limit: capture_body(httprequest, limit),
        trace_id=inbound_pipeline.trace_id_for(httprequest.headers),
    )


def _respond(answer):
    headers = [("Content-Type", "application/json; charset=utf-8"), *answer.headers.items()]
    if _body_left_unread(request.httprequest):
        # The rest of the body is still on the connection: it cannot carry
        # another request.
        headers.append(("Connection", "close"))
    return request.make_response(answer.text, headers=headers, status=answer.status)


def _handle_with(subpath, handler, *args):
    """Answer the current request with ``handler(call, env, *args)``, as JSON."""
    call = _call(subpath)
    request.bj_trace_id = call.trace_id
    return _respond(handler(call, request.env, *args))


class InboundApiController(http.Controller):
    """The inbound REST API; every answer is JSON."""

    @http.route(
        ["/api/sync/v1", "/api/sync/v1/<path:subpath>"],
        type="http", auth="none", csrf=False, save_session=False,
    )
    def bj_api_resource(self, **_params):
        """Create, read, update, delete, search and batch on a configured resource."""
        # The path itself, not the ``subpath`` argument: Odoo merges query-string
        # values into the arguments, and ``?subpath=...`` must not pick a route.
        subpath = request.httprequest.path[len(routes.API_BASE):].lstrip("/")
        return _handle_with(subpath, inbound_pipeline.serve_resource)

    @http.route(
        "/api/sync/v1/openapi.json",
        type="http", auth="none", csrf=False, save_session=False,
    )
    def bj_api_openapi(self, **_params):
        """OpenAPI 3 description of the resources the caller can reach."""
        return _handle_with("openapi.json", inbound_pipeline.serve_openapi)

    @http.route(
        "/api/sync/v1/webhooks",
        type="http", auth="none", csrf=False, save_session=False,
    )
    def bj_api_webhooks(self, **_params):
        """Register an outbound webhook (POST) or list the caller's webhooks (GET)."""
        return _handle_with("webhooks", inbound_pipeline.serve_webhooks, "webhooks")

    @http.route(
        "/api/sync/v1/webhooks/<string:webhook_id>",
        type="http", auth="none", csrf=False, save_session=False,
    )
    def bj_api_webhook(self, webhook_id, **_params):
        """Remove one of the caller's webhooks (DELETE)."""
        return _handle_with(f"webhooks/{webhook_id}", inbound_pipeline.serve_webhooks, "webhook",
                      webhook_id)

    @http.route(
        "/api/sync/v1/events/subscribe",
        type="http", auth="none", csrf=False, save_session=False,
    )
    def bj_api_subscribe(self, **_params):
        """Subscribe a callback URL to record events (POST)."""
        return _handle_with("events/subscribe", inbound_pipeline.serve_webhooks, "subscribe")
