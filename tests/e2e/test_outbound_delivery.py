"""Outbound deliveries seen from the receiving side, on a prefork server with a cron worker.

Retries go out when they are due (not at the cron worker's next poll, a minute
later), Retry-After is honoured and never undercut, automated actions deliver
after the commit of the change and never for a rolled-back one, and webhooks
registered through the API deliver their events.
"""
import json
import types
import uuid

import pytest
from conftest import wait_for

from bj_api_sync.tests.fault_server import FaultServer, Response

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


def test_retries_go_out_when_due(odoo, hooks, sink):
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


def test_retry_after_is_honoured(odoo, hooks, sink):
    sink.script(None, [Response(429, {}, headers={"Retry-After": "2"}), Response(200, {})])
    _send_from_shell(odoo, sink, retries=2)
    requests = _received(sink, 2, timeout=12)
    assert len(requests) == 2
    gap = requests[1].received_at - requests[0].received_at
    assert 2.0 <= gap <= 2.0 + LATE, gap


SETUP_HOOKS = OUT_CONFIG + """
model = env['ir.model']._get('res.partner')
env['base.automation'].create({{
    'name': 'e2e push {tag}', 'model_id': model.id, 'trigger': 'on_create',
    'filter_domain': repr([('name', '=like', 'e2e auto {tag}%')]),
    'action_server_ids': [(0, 0, {{
        'name': 'e2e push {tag}', 'model_id': model.id, 'state': 'code',
        'code': "env['bj.api.sync.config']._make_outbound_http_request(records, %d)" % config.id,
    }})],
}})
print('BJ-E2E-KEY', env['res.users.apikeys'].with_user(env.ref('base.user_admin'))._generate(
    None, 'bj e2e webhook {tag}'))
env.cr.commit()
# What Odoo's RPC layer does after a call that changed rules: tell the workers.
env.registry.signal_changes()
"""


@pytest.fixture(scope="module")
def hooks(odoo):
    """An on-create automation rule calling an outbound config, and a webhook
    registered over the API, both for partners named with this module's tag,
    delivering to a sink of this module.

    Made once: new rules make every worker reload its registry, which takes
    seconds on a small machine. Ready once the cron worker delivered a first
    item.
    """
    with FaultServer() as sink:
        tag = _tag()
        out = odoo.shell(SETUP_HOOKS.format(tag=tag, url=sink.url + "/auto", retries=0))
        key = out.split("BJ-E2E-KEY ", 1)[1].split()[0]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        answer = odoo.http("POST", "/api/sync/v1/webhooks", headers=headers, data=json.dumps({
            "url": sink.url + "/hook", "events": ["create"], "model": "res.partner",
            "fields": ["name"], "conditions": [["name", "=like", f"e2e wh {tag}%"]],
        }))
        assert answer.status_code == 201, answer.text
        webhook_id = answer.json()["webhook_id"]
        try:
            # The cron worker loads the registry the first time it works for
            # this database (seconds): timings are measured once it has.
            odoo.rpc("res.partner", "create", {"name": f"e2e auto {tag} warm-up"})
            assert wait_for(lambda: sink.count() >= 1, timeout=60), "the cron worker never ran"
            yield types.SimpleNamespace(sink=sink, tag=tag, webhook_id=webhook_id)
        finally:
            odoo.http("DELETE", f"/api/sync/v1/webhooks/{webhook_id}", headers=headers)


def _named(sink, path, name, timeout=5):
    """Wait (bounded) for a request on ``path`` carrying ``name``; return all of them."""

    def found():
        return [r for r in sink.requests if r.path == path and name in json.dumps(r.json)]

    wait_for(found, timeout=timeout)
    return found()


def test_automated_action_delivers_after_commit(odoo, hooks):
    name = f"e2e auto {hooks.tag} one"
    odoo.rpc("res.partner", "create", {"name": name})
    requests = _named(hooks.sink, "/auto", name)
    assert len(requests) == 1, "not delivered once within 5 s"
    assert requests[0].json == {"name": name}


def test_rolled_back_change_delivers_nothing(odoo, hooks):
    ghost, kept = f"e2e auto {hooks.tag} ghost", f"e2e auto {hooks.tag} kept"
    odoo.shell(f"""
env['res.partner'].create({{'name': {ghost!r}}})
env.cr.rollback()
env['res.partner'].create({{'name': {kept!r}}})
env.cr.commit()
""")
    # Both would be queued in this order: once the kept one is in, the ghost would be too.
    assert len(_named(hooks.sink, "/auto", kept)) == 1, "the kept change was not delivered"
    assert not _named(hooks.sink, "/auto", ghost, timeout=0)


def test_webhook_delivers_its_events(odoo, hooks):
    name = f"e2e wh {hooks.tag} customer"
    odoo.rpc("res.partner", "create", {"name": f"not e2e wh {hooks.tag}"})  # outside its conditions
    partner_id = odoo.rpc("res.partner", "create", {"name": name})
    requests = _named(hooks.sink, "/hook", name)
    assert len(requests) == 1, "not delivered once within 5 s"
    body = requests[0].json
    assert body["event"] == "create"
    assert body["record_id"] == partner_id
    assert body["data"]["name"] == name
    assert body["metadata"]["webhook_id"] == hooks.webhook_id
    assert not _named(hooks.sink, "/hook", f"not e2e wh {hooks.tag}", timeout=0)
