"""The delivery dashboard: SQL aggregates per configuration over 24 hours and 7 days."""
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..engine import duration_histogram
from .common import BjApiSyncCase


def percentile_of(durations, fraction):
    """The engine's reference percentile of these durations' histogram."""
    counts = {}
    for ms in durations:
        bucket = duration_histogram.bucket_of(ms)
        counts[bucket] = counts.get(bucket, 0) + 1
    return duration_histogram.percentile(counts, fraction)


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
        # Read from 5 % wide duration buckets: the exact values are 30 and 88
        # (interpolated between 40 and 100), the histogram's within 5 % of them.
        self.assertAlmostEqual(row.p50_24h, 30.0, delta=30 * 0.05)
        self.assertAlmostEqual(row.p95_24h, 88.0, delta=88 * 0.05)
        durations = (10, 20, 30, 40, 100)
        self.assertAlmostEqual(row.p50_24h, percentile_of(durations, 0.5), places=6)
        self.assertAlmostEqual(row.p95_24h, percentile_of(durations, 0.95), places=6)
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


@tagged("post_install", "-at_install")
class TestDashboardRollup(BjApiSyncCase):
    """The hourly counts the dashboard reads follow every change of the logs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_out_config(name="Rollup CRM")
        cls.Log = cls.env["bj.api.log"]
        cls.Rollup = cls.env["bj.api.log.rollup"]

    def log(self, state="success", ms=10.0, ago=None, **kw):
        row = self.Log.create({"config_id": self.config.id, "direction": "out",
                               "state": state, "duration_ms": ms, **kw})
        if ago is not None:
            self.env.cr.execute("UPDATE bj_api_log SET create_date = %s WHERE id = %s",
                                (fields.Datetime.now() - ago, row.id))
        return row

    def totals(self, span="hour"):
        self.env.flush_all()
        self.env.cr.execute("""
            SELECT COALESCE(sum(requests), 0), COALESCE(sum(successes), 0),
                   COALESCE(sum(failures), 0), count(*)
              FROM bj_api_log_rollup WHERE config_id = %s AND span = %s
        """, (self.config.id, span))
        return self.env.cr.fetchone()

    def dashboard(self):
        self.env.flush_all()
        self.env.invalidate_all()
        return self.env["bj.api.dashboard"].search([("config_id", "=", self.config.id)])

    def test_insert_update_delete_and_compaction_keep_the_counts(self):
        first = self.log()
        self.log("failed", 200.0)
        self.Log._insert_many([{"config_id": self.config.id, "direction": "out",
                                "state": "success", "duration_ms": 15.0}] * 3)
        self.log("success", 5.0, is_connection_test=True)
        self.log("skipped", 0.0)
        self.assertEqual(self.totals()[:3], (5, 4, 1))
        self.assertEqual(self.totals("day")[:3], (5, 4, 1))
        first.write({"state": "retrying"})
        self.assertEqual(self.totals()[:3], (5, 3, 2))
        # retrying -> failed counts the same: no row is added for it
        rows = self.totals()[3]
        first.write({"state": "failed"})
        self.assertEqual(self.totals()[3], rows)
        first.unlink()
        self.assertEqual(self.totals()[:3], (4, 3, 1))
        self.assertEqual(self.totals("day")[:3], (4, 3, 1))
        remaining = self.Rollup._cron_compact()
        self.assertEqual(self.totals()[:3], (4, 3, 1))
        # One row per hour and bucket is left: 15 ms and 200 ms; the 10 ms
        # bucket's deltas (+1 created, -1 deleted) cancel out and go.
        self.assertEqual(self.totals()[3], 2)
        self.assertEqual(self.totals("day")[3], 2)
        self.assertGreaterEqual(remaining, 4)
        row = self.dashboard()
        self.assertEqual((row.requests_24h, row.failures_24h), (4, 1))

    def test_windows_end_exactly_24_hours_and_7_days_ago(self):
        # every hour of the last 8 days: 24 in the 24 hours, 168 in the 7 days,
        # whatever day rows, hour rows and partial hours they are read from
        # (10 minutes from each edge: the view's now is the transaction's start)
        for hours in range(8 * 24):
            self.log(ago=timedelta(hours=hours, minutes=30))
        self.log(ago=timedelta(hours=23, minutes=50))   # in both
        self.log(ago=timedelta(hours=24, minutes=10))    # 7 days only
        self.log(ago=timedelta(days=6, hours=23, minutes=50))  # 7 days only
        self.log(ago=timedelta(days=7, minutes=10))      # neither
        self.log(ago=timedelta(days=9))                 # neither, and no longer counted
        row = self.dashboard()
        self.assertEqual((row.requests_24h, row.requests_7d), (24 + 1, 168 + 3))
        Log = self.Log
        self.assertEqual(Log.search_count(row.action_open_requests_24h()["domain"]), 25)
        self.assertEqual(Log.search_count(row.action_open_requests_7d()["domain"]), 171)

    def test_compaction_drops_what_no_window_reads(self):
        self.log()
        self.env.flush_all()
        self.env.cr.execute("""
            INSERT INTO bj_api_log_rollup (config_id, span, period, bucket, requests,
                                           successes, failures)
            VALUES (%s, 'hour', (now() AT TIME ZONE 'UTC') - interval '9 days', 3, 5, 5, 0)
        """, (self.config.id,))
        self.assertEqual(self.totals()[0], 6)
        self.Rollup._cron_compact()
        self.assertEqual(self.totals()[0], 1)

    def test_percentiles_match_the_engine(self):
        durations = [3.0, 8.0, 12.5, 40.0, 41.0, 95.0, 150.0, 151.0, 700.0, 2500.0]
        for ms in durations:
            self.log(ms=ms)
        row = self.dashboard()
        self.assertAlmostEqual(row.p50_24h, percentile_of(durations, 0.5), places=6)
        self.assertAlmostEqual(row.p95_7d, percentile_of(durations, 0.95), places=6)
