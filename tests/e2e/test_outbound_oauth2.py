"""OAuth2 client credentials on a prefork server: one token for every worker.

A configuration made over XML-RPC as the README shows sends a partner from an
HTTP worker (a server action run over XML-RPC) and queues others that the cron
worker delivers: the token server is asked once, and every request carries that
token. Test Connection (over XML-RPC) then fetches a new one and says what the
token server answered, never the token.
"""
import uuid

from conftest import wait_for

from bj_api_sync.tests.fault_server import Response

SECRET = "cs_e2e_0a1b2c3d4e5f"
TOKEN = "tok-e2e-shared-abc123"


def test_http_worker_and_cron_worker_share_one_token(odoo, sink):
    tag = uuid.uuid4().hex[:10]
    sink.script("/oauth/token", [Response(200, {"access_token": TOKEN, "token_type": "bearer",
                                                "expires_in": 3600, "scope": "customers:write"})])
    model_id = odoo.rpc("ir.model", "search", [("model", "=", "res.partner")])[0]
    post_id = odoo.rpc("bj.http.method", "search", [("name", "=", "POST")])[0]
    config_id = odoo.rpc("bj.api.sync.config", "create", {
        "name": f"Customers to CRM (OAuth2) {tag}",
        "request_type": "out",
        "model_id": model_id,
        "url": sink.url + "/customers",
        "http_method_ids": [(6, 0, [post_id])],
        "filter_domain": repr([("name", "=like", f"e2e oauth2 {tag}%")]),
        "auth_type": "oauth2",
        "oauth2_token_url": sink.url + "/oauth/token",
        "oauth2_client_id": "odoo-prod",
        "oauth2_client_secret": SECRET,
        "oauth2_scope": "customers:write",
    })
    odoo.rpc("bj.api.sync.config.line", "create", {
        "config_id": config_id, "external_key": "name",
        "field_id": odoo.rpc("ir.model.fields", "search",
                             [("model", "=", "res.partner"), ("name", "=", "name")])[0],
    })
    first = odoo.rpc("res.partner", "create", {"name": f"e2e oauth2 {tag} direct"})
    # An HTTP worker sends now: a server action run over XML-RPC.
    action_id = odoo.rpc("ir.actions.server", "create", {
        "name": f"e2e oauth2 send {tag}", "model_id": model_id, "state": "code",
        "code": f"env['bj.api.sync.config']._make_outbound_http_request(records, {config_id})",
    })
    odoo.rpc("ir.actions.server", "run", [action_id],
             context={"active_model": "res.partner", "active_ids": [first]})
    sent = [r for r in sink.requests if r.path == "/customers"]
    assert len(sent) == 1, sink.requests
    # The cron worker delivers the others (Send Now queues every matching record).
    odoo.rpc("res.partner", "create", [{"name": f"e2e oauth2 {tag} queued {i}"}
                                       for i in range(3)])
    odoo.rpc("bj.api.sync.config", "action_send_now", [config_id])
    wait_for(lambda: sink.count("/customers") >= 5, timeout=90)
    sent = [r for r in sink.requests if r.path == "/customers"]
    assert len(sent) == 5, f"{len(sent)} deliveries of 5; server log:\n{odoo.log_text()[-3000:]}"
    assert {r.headers["Authorization"] for r in sent} == {f"Bearer {TOKEN}"}
    assert sink.count("/oauth/token") == 1, "the cron worker fetched a token of its own"
    logs = odoo.rpc("bj.api.log", "search_read", [("config_id", "=", config_id)],
                    fields=["state", "request_headers", "response_body", "error_message"])
    assert len(logs) == 5 and {log["state"] for log in logs} == {"success"}
    assert not any(TOKEN in str(log) or SECRET in str(log) for log in logs)

    # Test Connection fetches a token of its own and says what the token server said.
    sink.script("/oauth/token", [Response(200, {"access_token": "tok-e2e-test-conn",
                                                "token_type": "Bearer", "expires_in": 600})])
    answer = odoo.rpc("bj.api.sync.config", "action_test_connection", [config_id])
    message = answer["params"]["message"]
    assert (f"Token server {sink.url}/oauth/token answered HTTP 200, token_type Bearer, "
            "expires_in 600 s, no scope in the answer (client_secret_basic).") in message
    assert "tok-e2e-test-conn" not in message and SECRET not in message
    assert sink.count("/oauth/token") == 2
    head = [r for r in sink.requests if r.method == "HEAD"]
    assert [r.headers["Authorization"] for r in head] == ["Bearer tok-e2e-test-conn"]
    # Nor in the server's own log (its _logger lines, from every worker).
    server_log = odoo.log_text()
    for secret in (SECRET, TOKEN, "tok-e2e-test-conn"):
        assert secret not in server_log, f"{secret} in the server log"
