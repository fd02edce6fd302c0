"""Outbound deliveries seen from the receiving side, on a prefork server with a cron worker.

Retries go out when they are due (not at the cron worker's next poll, a minute
later), Retry-After is honoured and never undercut, automated actions deliver
after the commit of the change and never for a rolled-back one, and webhooks
registered through the API deliver their events.
"""
import json
import uuid

from conftest import wait_for

from bj_api_sync.tests.fault_server import Response

# Seconds a retry may come after its due time: the worker wakes within half a
# second, the rest is the machine's (2 shared cores) and Odoo's own latency.
LATE = 1.5

OUT_CONFIG = """
config = env['bj.api.sync.config'].create({{
    'name': 'e2e outbound {tag}', 'request_type': 'out',
    'model_id': env['ir.model']._get('res.partner').id, 'url': {url!r},
    'http_method_ids': [(6, 0, [env.ref('bj_api_sync.http_method_post').id])],
    'max_retries': {retries}, 'retry_backoff': 1.0,
}})
env['bj.api.sync.config.line'].create({{
    'config_id': config.id, 'external_key': 'name',
    'field_id': env['ir.model.fields']._get('res.partner', 'name').id,
}})
"""


def _tag():
    return uuid.uuid4().hex[:10]


def _received(sink, count, timeout):
    """Wait (bounded) until the sink got ``count`` requests; return them."""
    wait_for(lambda: sink.count() >= count, timeout=timeout)
    return sink.requests


def _send_from_shell(odoo, sink, retries):
    """Send one new partner from ``odoo-bin shell``, as a script would, then commit."""
    tag = _tag()
    code = OUT_CONFIG.format(tag=tag, url=sink.url + "/customers", retries=retries) + f"""
partner = env['res.partner'].create({{'name': 'e2e retry {tag}'}})
result = env['bj.api.sync.config']._make_outbound_http_request(
    record_ids=partner, config_id_ref=config.id)
print('BJ-E2E-STATE', result.state)
env.cr.commit()
"""
    out = odoo.shell(code)
    assert "BJ-E2E-STATE retrying" in out, out
    return tag


def test_retries_go_out_when_due(odoo, sink):
    sink.script(None, [Response(500, {}), Response(500, {}), Response(200, {})])
    tag = _send_from_shell(odoo, sink, retries=2)
    requests = _received(sink, 3, timeout=15)
    assert len(requests) == 3, f"the sink got {len(requests)} request(s) of 3"
    assert {r.json["name"] for r in requests} == {f"e2e retry {tag}"}
    assert len({r.idempotency_key for r in requests}) == 1
    first, second, third = (r.received_at for r in requests)
    # Backoff base 1 s, +-25 % jitter: due 0.75-1.25 s, then 1.5-2.5 s later.
    assert 0.75 <= second - first <= 1.25 + LATE, second - first
    assert 1.5 <= third - second <= 2.5 + LATE, third - second


def test_retry_after_is_honoured(odoo, sink):
    sink.script(None, [Response(429, {}, headers={"Retry-After": "2"}), Response(200, {})])
    _send_from_shell(odoo, sink, retries=2)
    requests = _received(sink, 2, timeout=12)
    assert len(requests) == 2
    gap = requests[1].received_at - requests[0].received_at
    assert 2.0 <= gap <= 2.0 + LATE, gap


def _automation(odoo, sink, tag):
    """An outbound config and an on-create automation rule for partners named ``tag``...,
    made over XML-RPC (as in the UI: the server reloads the rules)."""
    config_id = odoo.rpc("bj.api.sync.config", "create", {
        "name": f"e2e automation {tag}", "request_type": "out",
        "model_id": odoo.rpc("ir.model", "search", [("model", "=", "res.partner")])[0],
        "url": sink.url + "/auto", "max_retries": 0,
        "http_method_ids": [(6, 0, odoo.rpc("bj.http.method", "search",
                                            [("name", "=", "POST")]))],
    })
    model_id = odoo.rpc("ir.model", "search", [("model", "=", "res.partner")])[0]
    odoo.rpc("base.automation", "create", {
        "name": f"e2e push {tag}", "model_id": model_id, "trigger": "on_create",
        "filter_domain": repr([("name", "=like", f"e2e auto {tag}%")]),
        "action_server_ids": [(0, 0, {
            "name": f"e2e push {tag}", "model_id": model_id, "state": "code",
            "code": f"env['bj.api.sync.config']._make_outbound_http_request(records, "
                    f"{config_id})",
        })],
    })
    return config_id


def test_automated_action_delivers_after_commit(odoo, sink):
    tag = _tag()
    _automation(odoo, sink, tag)
    odoo.rpc("res.partner", "create", {"name": f"e2e auto {tag} one"})
    requests = _received(sink, 1, timeout=5)
    assert len(requests) == 1, "nothing reached the sink within 5 s"
    assert requests[0].path == "/auto"
    assert requests[0].json["name"] == f"e2e auto {tag} one"


def test_rolled_back_change_delivers_nothing(odoo, sink):
    tag = _tag()
    _automation(odoo, sink, tag)
    odoo.shell(f"""
env['res.partner'].create({{'name': 'e2e auto {tag} ghost'}})
env.cr.rollback()
env['res.partner'].create({{'name': 'e2e auto {tag} kept'}})
env.cr.commit()
""")
    # Both were queued in order: once the kept one is in, the ghost would be too.
    requests = _received(sink, 1, timeout=5)
    assert [r.json["name"] for r in requests] == [f"e2e auto {tag} kept"]


def test_webhook_delivers_its_events(odoo, sink):
    tag = _tag()
    key = odoo.shell(
        "print('BJ-E2E-KEY', env['res.users.apikeys'].with_user(env.ref('base.user_admin'))"
        f"._generate(None, 'bj e2e webhook {tag}'))\nenv.cr.commit()"
    ).split("BJ-E2E-KEY ", 1)[1].split()[0]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    answer = odoo.http("POST", "/api/sync/v1/webhooks", headers=headers, data=json.dumps({
        "url": sink.url + "/hook", "events": ["create"], "model": "res.partner",
        "fields": ["name"], "conditions": [["name", "=like", f"e2e wh {tag}%"]],
    }))
    assert answer.status_code == 201, answer.text
    webhook_id = answer.json()["webhook_id"]
    try:
        odoo.rpc("res.partner", "create", {"name": f"not e2e wh {tag}"})  # outside the conditions
        partner_id = odoo.rpc("res.partner", "create", {"name": f"e2e wh {tag} customer"})
        requests = _received(sink, 1, timeout=5)
        assert len(requests) == 1, "nothing reached the sink within 5 s"
        body = requests[0].json
        assert body["event"] == "create"
        assert body["record_id"] == partner_id
        assert body["data"]["name"] == f"e2e wh {tag} customer"
        assert body["metadata"]["webhook_id"] == webhook_id
    finally:
        odoo.http("DELETE", f"/api/sync/v1/webhooks/{webhook_id}", headers=headers)
