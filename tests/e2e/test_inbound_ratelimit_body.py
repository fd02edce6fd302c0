"""A chunked request body (no Content-Length) is read no further than the limit,
on the prefork server: the 413 comes while the body has not ended."""
import json
import socket
import time
import uuid
from urllib.parse import urlsplit

SETUP = """
user = env['res.users'].create({{
    'name': 'BJ e2e body {tag}', 'login': 'bj_e2e_body_{tag}',
    'groups_id': [(6, 0, [env.ref('base.group_user').id,
                          env.ref('base.group_partner_manager').id])],
}})
env['bj.api.sync.config'].create({{
    'name': 'e2e body {tag}', 'request_type': 'in', 'endpoint': 'e2e-body-{tag}',
    'model_id': env['ir.model']._get('res.partner').id,
    'http_method_ids': [(6, 0, [env.ref('bj_api_sync.http_method_post').id])],
    'auth_type': 'bearer', 'user_id': user.id,
    'rate_limit_per_minute': 100, 'rate_limit_per_hour': 1000,
}})
print('BJ-E2E-KEY', env['res.users.apikeys'].with_user(user)._generate(None, 'bj e2e'))
print('BJ-E2E-MAX', env['ir.config_parameter'].get_param('bj_api_sync.max_body_bytes') or 0)
env.cr.commit()
"""


def _headers(lines):
    return {k.lower(): v for k, v in (ln.split(": ", 1) for ln in lines[1:])}


def _read_answer(sock):
    """Read one HTTP answer (headers and Content-Length bytes of body)."""
    received = b""
    while True:
        head_part, sep, body = received.partition(b"\r\n\r\n")
        if sep:
            length = int(_headers(head_part.decode("latin-1").split("\r\n")).get(
                "content-length", 0))
            if len(body) >= length:
                return received
        try:
            data = sock.recv(65536)  # times out if the server waits for the body's end
        except ConnectionResetError:
            return received  # the server closed with our unread bytes: a reset after its answer
        if not data:
            return received
        received += data


def test_chunked_body_over_the_limit_is_refused_before_its_end(odoo):
    tag = uuid.uuid4().hex[:8]
    out = odoo.shell(SETUP.format(tag=tag))
    values = dict(ln.split(" ", 1) for ln in out.splitlines() if ln.startswith("BJ-E2E-"))
    key = values["BJ-E2E-KEY"]
    limit = int(values["BJ-E2E-MAX"]) or 10 * 1024 * 1024  # the addon's default
    url = urlsplit(odoo.url)
    head = (
        f"POST /api/sync/v1/e2e-body-{tag} HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\n"
        f"Authorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    # One chunk announced twice the limit, of which a bit more than the limit
    # is sent; the end never comes. A server reading to the end would wait.
    sent = limit + 4096
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head + b"%x\r\n" % (2 * limit) + b"x" * sent)
        received = _read_answer(sock)
    head_part, _sep, body = received.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = _headers(lines)
    assert lines[0].split()[1] == "413", received[:2000]
    assert time.monotonic() - started < 20
    assert headers["content-type"].startswith("application/json")
    assert headers["connection"] == "close"
    answer = json.loads(body)
    assert answer["success"] is False
    assert answer["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert answer["error"]["details"]["maximum"] == limit
    assert answer["error"]["trace_id"] == headers["x-request-id"]
    # The caller is authenticated: its limits are on the refusal too.
    assert headers["x-ratelimit-limit"] == "100"
