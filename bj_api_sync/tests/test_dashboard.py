"""The delivery dashboard: SQL aggregates per configuration over 24 hours and 7 days."""
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestDashboard(BjApiSyncCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_out_config(name="Dash CRM")
        cls.other = cls.make_out_config(name="Dash quiet")
        now = fields.Datetime.now()
        Log = cls.env["bj.api.log"]

        def log(state, ms, hours_ago, **kw):
            values = {"config_id": cls.config.id, "direction": "out", "state": state,
                      "duration_ms": ms, "status_code": 200 if state == "success" else 500}
            values.update(kw)
            row = Log.create(values)
            cls.env.cr.execute("UPDATE bj_api_log SET create_date = %s WHERE id = %s",
                               (now - timedelta(hours=hours_ago), row.id))
            return row

        for ms in (10, 20, 30, 40):
            log("success", ms, 1)
        cls.recent_failure = log("failed", 100, 2, error_message="HTTP 500: boom")
        log("success", 200, 48)
        log("failed", 300, 72, error_message="older")
        log("success", 5, 1, is_connection_test=True)  # a test is no delivery
        log("skipped", 0, 1)  # nor a run that sent nothing
        log("success", 1, 24 * 10)  # outside both windows
        log("retrying", 50, 30, error_message="timeout")  # a failed attempt, to be retried
        cls.env.invalidate_all()
        Outbox = cls.env["bj.api.outbox"]
        from ..services import outbound
        Outbox.create([outbound.item_values(cls.config, "manual", "res.partner", [1]),
                       outbound.item_values(cls.config, "manual", "res.partner", [2],
                                            state="retrying"),
                       outbound.item_values(cls.config, "manual", "res.partner", [3],
                                            state="done")])

    def row(self, config):
        return self.env["bj.api.dashboard"].search([("config_id", "=", config.id)])

    def test_figures_per_window(self):
        row = self.row(self.config)
        self.assertEqual((row.requests_24h, row.failures_24h), (5, 1))
        self.assertAlmostEqual(row.success_rate_24h, 80.0)
        self.assertAlmostEqual(row.p50_24h, 30.0)
        self.assertAlmostEqual(row.p95_24h, 88.0)  # interpolated between 40 and 100
        self.assertEqual((row.requests_7d, row.failures_7d), (8, 3))
        self.assertAlmostEqual(row.success_rate_7d, 500 / 8, places=3)
        self.assertEqual((row.pending_count, row.retrying_count), (1, 1))
        self.assertEqual(row.last_error, "HTTP 500: boom")
        self.assertEqual(row.last_error_log_id, self.recent_failure)

    def test_quiet_configuration_has_a_row_with_zeros(self):
        row = self.row(self.other)
        self.assertEqual((row.requests_24h, row.failures_7d, row.pending_count), (0, 0, 0))
        self.assertFalse(row.success_rate_24h)
        self.assertFalse(row.last_error)

    def test_archived_configurations_are_left_out(self):
        self.other.active = False
        self.assertFalse(self.row(self.other))

    def test_each_number_opens_what_it_counts(self):
        row = self.row(self.config)
        Log = self.env["bj.api.log"]
        for method, count in (("action_open_requests_24h", 5), ("action_open_failures_24h", 1),
                              ("action_open_requests_7d", 8), ("action_open_failures_7d", 3)):
            action = getattr(row, method)()
            self.assertEqual(action["res_model"], "bj.api.log")
            self.assertEqual(Log.search_count(action["domain"]), count, method)
        Outbox = self.env["bj.api.outbox"]
        self.assertEqual(Outbox.search_count(row.action_open_backlog()["domain"]), 2)
        self.assertEqual(Outbox.search_count(row.action_open_retrying()["domain"]), 1)
        self.assertEqual(row.action_open_last_error()["res_id"], self.recent_failure.id)

    def test_log_graph_and_pivot_views(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("bj_api_sync.action_bj_api_log")
        self.assertIn("graph", action["view_mode"])
        self.assertIn("pivot", action["view_mode"])
        groups = self.env["bj.api.log"].read_group(
            [("config_id", "=", self.config.id), ("state", "=", "success"),
             ("is_connection_test", "=", False)], ["duration_ms"], ["config_id"])
        self.assertAlmostEqual(groups[0]["duration_ms"], (10 + 20 + 30 + 40 + 200 + 1) / 6)
