"""The inbound log row is written beside the call, never instead of it."""
import json
import logging
from unittest.mock import patch

from werkzeug.datastructures import Headers, MultiDict

from odoo.tests import tagged
from odoo.tests.common import TransactionCase, new_test_user

from ..services import inbound_pipeline


@tagged("post_install", "-at_install")
class TestInboundLogIsolation(TransactionCase):
    """A failing log INSERT loses neither the answer nor the call's data write."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="bj_log_isolation",
                                 groups="base.group_user,base.group_partner_manager")
        cls.key = cls.env["res.users.apikeys"].with_user(cls.user)._generate(None, "bj test")
        cls.env["bj.api.sync.config"].create({
            "name": "API log isolation",
            "request_type": "in",
            "endpoint": "log-isolation",
            "model_id": cls.env["ir.model"]._get("res.partner").id,
            "http_method_ids": [(6, 0, [cls.env.ref("bj_api_sync.http_method_post").id])],
            "auth_type": "bearer",
            "user_id": cls.user.id,
            "rate_limit_per_minute": 0,
            "rate_limit_per_hour": 0,
        })

    def _post(self, data, url_suffix="", headers=None):
        raw = json.dumps({"data": data}).encode()
        path = "/api/sync/v1/log-isolation"
        call = inbound_pipeline.Call(
            method="POST", path=path, url="http://localhost" + path + url_suffix,
            subpath="log-isolation",
            headers=Headers({"Authorization": f"Bearer {self.key}",
                             "Content-Type": "application/json", **(headers or {})}),
            args=MultiDict(), remote_addr="127.0.0.1", content_length=len(raw),
            read_body=lambda _limit: raw, trace_id="req_logisolation01",
        )
        self.env.registry.clear_cache()
        return inbound_pipeline.serve_resource(call, self.env)

    def test_failing_log_insert_keeps_answer_and_data(self):
        broken = inbound_pipeline._LOG_SQL.replace("INSERT INTO bj_api_log (",
                                                   "INSERT INTO bj_api_log_missing (")
        self.assertNotEqual(broken, inbound_pipeline._LOG_SQL)
        with patch.object(inbound_pipeline, "_LOG_SQL", broken), \
                self.assertLogs(inbound_pipeline.__name__, logging.ERROR) as logs:
            answer = self._post({"name": "Kept without a log"})
        self.assertIn("Could not write the inbound API log", logs.output[0])
        self.assertEqual(answer.status, 201, answer.text)
        self.assertEqual(json.loads(answer.text)["data"]["name"], "Kept without a log")
        # The transaction is still usable and holds the write.
        partner = self.env["res.partner"].search([("name", "=", "Kept without a log")])
        self.assertEqual(partner.id, answer.body["id"])
        self.assertFalse(self.env["bj.api.log"].search([("trace_id", "=", "req_logisolation01")]))
        # The next call logs normally.
        answer = self._post({"name": "Logged again"})
        self.assertEqual(answer.status, 201)
        self.assertTrue(self.env["bj.api.log"].search([("trace_id", "=", "req_logisolation01")]))

    def test_nul_characters_in_url_and_headers_do_not_lose_the_log(self):
        answer = self._post({"name": "Logged despite NUL"}, url_suffix="?x=a\x00b",
                            headers={"X-Odd": "c\x00d"})
        self.assertEqual(answer.status, 201, answer.text)
        log = self.env["bj.api.log"].search([("trace_id", "=", "req_logisolation01")],
                                            order="id desc", limit=1)
        self.assertTrue(log, "the log row was lost")
        self.assertIn("a\ufffdb", log.url)
        self.assertIn("c\ufffdd", log.request_headers)
