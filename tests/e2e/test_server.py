"""The end-to-end server itself: prefork, reachable the three ways the other tests use."""
import json

from conftest import wait_for


def test_prefork_server_answers_http_xmlrpc_and_shell(odoo):
    assert odoo.http("GET", "/web/health").json()["status"] == "pass"
    # prefork: the log names the worker processes
    assert wait_for(lambda: "Worker WorkerHTTP" in odoo.log_text(), timeout=10)
    assert "Worker WorkerCron" in odoo.log_text()
    assert odoo.rpc("ir.module.module", "search_count",
                    [("name", "=", "bj_api_sync"), ("state", "=", "installed")]) == 1
    out = odoo.shell("print(env['ir.config_parameter'].get_param("
                     "'bj_api_sync.webhook_allow_internal_urls'))")
    assert out.strip().splitlines()[-1] == "True"


def test_unknown_resource_is_a_json_404_from_outside(odoo):
    answer = odoo.http("GET", "/api/sync/v1/no-such-resource-e2e")
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert answer.status_code in (401, 404), body
    assert json.dumps(body)  # a JSON envelope, never an HTML page
    assert body["success"] is False
