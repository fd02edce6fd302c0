"""The delivery dashboard: per configuration, how the last 24 hours and 7 days went."""
from datetime import timedelta

from odoo import _, fields, models, tools

from ..engine import duration_histogram

# Calls counted: no connection test, no run that sent nothing (Only Changed). A
# failure is an attempt that failed, final or to be retried. The counts come
# from bj.api.log.rollup: for 7 days, the whole days inside the window (d1 to
# today) from the day rows, the hours before them (from h7) and today's from
# the hour rows; for 24 hours, the hour rows from h24. The first, partial hour
# of each window is read from the logs themselves, so the windows start exactly
# 24 hours and 7 days ago. Each row weighs 1 or 0 in each window (n24 / n7);
# p50 and p95 are read from the duration buckets (within 5 %, see
# duration_histogram).
_VIEW_TEMPLATE = """
CREATE OR REPLACE VIEW bj_api_dashboard AS
WITH edges AS (
    SELECT now_utc - interval '24 hours' AS t24, now_utc - interval '7 days' AS t7,
           date_trunc('hour', now_utc - interval '24 hours') + interval '1 hour' AS h24,
           date_trunc('hour', now_utc - interval '7 days') + interval '1 hour' AS h7,
           date_trunc('day', now_utc - interval '7 days') + interval '1 day' AS d1,
           date_trunc('day', now_utc) AS today
      FROM (SELECT now() AT TIME ZONE 'UTC' AS now_utc) n
), periods AS (
    -- whole days of the 7 days
    SELECT r.config_id, r.bucket, 0 AS w24, 1 AS w7, r.requests, r.successes, r.failures
      FROM bj_api_log_rollup r, edges e
     WHERE r.span = 'day' AND r.period >= e.d1 AND r.period < e.today
    UNION ALL
    -- the hours of the 7 days before its first whole day
    SELECT r.config_id, r.bucket, 0, 1, r.requests, r.successes, r.failures
      FROM bj_api_log_rollup r, edges e
     WHERE r.span = 'hour' AND r.period >= e.h7 AND r.period < e.d1
    UNION ALL
    -- the hours of the 24 hours (today's count in the 7 days too)
    SELECT r.config_id, r.bucket, 1, (r.period >= e.today)::integer,
           r.requests, r.successes, r.failures
      FROM bj_api_log_rollup r, edges e
     WHERE r.span = 'hour' AND r.period >= e.h24
    UNION ALL
    -- the first, partial hour of each window, from the logs
    SELECT l.config_id, bj_api_duration_bucket(l.duration_ms),
           (l.create_date >= e.t24)::integer, (l.create_date < e.h7)::integer, 1,
           (l.state = 'success')::integer, (l.state IN ('failed', 'retrying'))::integer
      FROM bj_api_log l, edges e
     WHERE ((l.create_date >= e.t7 AND l.create_date < e.h7)
            OR (l.create_date >= e.t24 AND l.create_date < e.h24))
       AND l.config_id IS NOT NULL
       AND l.is_connection_test IS NOT TRUE AND l.state <> 'skipped'
), counted AS (
    SELECT config_id, bucket, w24 * requests AS n24, w24 * successes AS s24,
           w24 * failures AS f24, w7 * requests AS n7, w7 * successes AS s7,
           w7 * failures AS f7
      FROM periods
), hist AS (
    SELECT config_id, bucket, sum(n24) AS n24, sum(s24) AS s24, sum(f24) AS f24,
           sum(n7) AS n7, sum(s7) AS s7, sum(f7) AS f7
      FROM counted
     GROUP BY config_id, bucket
), running AS (
    SELECT hist.*, sum(n24) OVER upto AS c24, sum(n24) OVER whole AS t24,
           sum(n7) OVER upto AS c7, sum(n7) OVER whole AS t7
      FROM hist
    WINDOW upto AS (PARTITION BY config_id ORDER BY bucket), whole AS (PARTITION BY config_id)
), stats AS (
    SELECT config_id,
           sum(n24) AS requests_24h, sum(f24) AS failures_24h, sum(s24) AS successes_24h,
           %(p50_24h)s AS p50_24h, %(p95_24h)s AS p95_24h,
           sum(n7) AS requests_7d, sum(f7) AS failures_7d, sum(s7) AS successes_7d,
           %(p50_7d)s AS p50_7d, %(p95_7d)s AS p95_7d
      FROM running
     GROUP BY config_id
), backlog AS (
    SELECT config_id,
           count(*) FILTER (WHERE state = 'pending') AS pending_count,
           count(*) FILTER (WHERE state = 'retrying') AS retrying_count
      FROM bj_api_outbox
     WHERE state IN ('pending', 'retrying')
     GROUP BY config_id
)
SELECT c.id AS id, c.id AS config_id, c.request_type, c.company_id,
       COALESCE(s.requests_24h, 0)::integer AS requests_24h,
       COALESCE(s.failures_24h, 0)::integer AS failures_24h,
       CASE WHEN s.successes_24h + s.failures_24h > 0
            THEN 100.0 * s.successes_24h / (s.successes_24h + s.failures_24h) END
           AS success_rate_24h,
       s.p50_24h, s.p95_24h,
       COALESCE(s.requests_7d, 0)::integer AS requests_7d,
       COALESCE(s.failures_7d, 0)::integer AS failures_7d,
       CASE WHEN s.successes_7d + s.failures_7d > 0
            THEN 100.0 * s.successes_7d / (s.successes_7d + s.failures_7d) END
           AS success_rate_7d,
       s.p50_7d, s.p95_7d,
       COALESCE(b.pending_count, 0) AS pending_count,
       COALESCE(b.retrying_count, 0) AS retrying_count,
       e.error_message AS last_error, e.id AS last_error_log_id, e.create_date AS last_error_at
  FROM bj_api_sync_config c
  LEFT JOIN stats s ON s.config_id = c.id
  LEFT JOIN backlog b ON b.config_id = c.id
  LEFT JOIN LATERAL (
        SELECT l.id, l.error_message, l.create_date FROM bj_api_log l
         WHERE l.config_id = c.id AND l.state IN ('failed', 'retrying')
           AND l.error_message IS NOT NULL AND l.is_connection_test IS NOT TRUE
         ORDER BY l.create_date DESC, l.id DESC LIMIT 1) e ON true
 WHERE c.active
"""
_PERCENTILES = {
    f"p{int(fraction * 100)}_{window}": duration_histogram.percentile_sql(
        f"n{window[:-1]}", f"c{window[:-1]}", f"t{window[:-1]}", fraction)
    for fraction in (0.5, 0.95) for window in ("24h", "7d")
}
VIEW_SQL = _VIEW_TEMPLATE % _PERCENTILES  # noqa: S608


class BjApiDashboard(models.Model):
    """One row per active configuration, computed by PostgreSQL when it is read
    (sums of the hourly counts of bj.api.log.rollup, never every log of the window)."""

    _name = "bj.api.dashboard"
    _description = "BJ API Delivery Dashboard"
    _auto = False
    _order = "failures_24h desc, requests_24h desc, id"
    _rec_name = "config_id"

    config_id = fields.Many2one("bj.api.sync.config", string="Configuration", readonly=True)
    request_type = fields.Selection([("in", "In"), ("out", "Out")], readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    requests_24h = fields.Integer(string="Requests (24 h)", readonly=True)
    failures_24h = fields.Integer(string="Failures (24 h)", readonly=True)
    success_rate_24h = fields.Float(string="Success % (24 h)", digits=(16, 1), readonly=True)
    p50_24h = fields.Float(string="p50 ms (24 h)", digits=(16, 1), readonly=True)
    p95_24h = fields.Float(string="p95 ms (24 h)", digits=(16, 1), readonly=True)
    requests_7d = fields.Integer(string="Requests (7 d)", readonly=True)
    failures_7d = fields.Integer(string="Failures (7 d)", readonly=True)
    success_rate_7d = fields.Float(string="Success % (7 d)", digits=(16, 1), readonly=True)
    p50_7d = fields.Float(string="p50 ms (7 d)", digits=(16, 1), readonly=True)
    p95_7d = fields.Float(string="p95 ms (7 d)", digits=(16, 1), readonly=True)
    pending_count = fields.Integer(string="Pending", readonly=True)
    retrying_count = fields.Integer(string="Retrying", readonly=True)
    last_error = fields.Text(readonly=True)
    last_error_log_id = fields.Many2one("bj.api.log", readonly=True)
    last_error_at = fields.Datetime(readonly=True)

    def init(self):
        """Create the view, and the indexes its aggregates read."""
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(VIEW_SQL)
        # The windows are read from bj_api_log_rollup now: this index of an
        # earlier version only slowed every log insert.
        self.env.cr.execute("DROP INDEX IF EXISTS bj_api_log_dashboard_window_idx")
        # The last error of each configuration, found at once however many successes.
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS bj_api_log_dashboard_failed_idx
                ON bj_api_log (config_id, create_date DESC, id DESC)
             WHERE state IN ('failed', 'retrying') AND error_message IS NOT NULL
        """)

    # ------------------------------------------------------------------ actions
    def _open_logs(self, hours, extra_domain, name):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("bj_api_sync.action_bj_api_log")
        since = fields.Datetime.now() - timedelta(hours=hours)
        action["domain"] = [("config_id", "=", self.config_id.id), ("create_date", ">=", since),
                            ("is_connection_test", "!=", True),
                            ("state", "!=", "skipped")] + extra_domain
        action["name"] = name
        action["context"] = {}
        return action

    def action_open_requests_24h(self):
        """Open the calls of the last 24 hours."""
        return self._open_logs(24, [], _("%s: calls, 24 hours", self.config_id.name))

    def action_open_failures_24h(self):
        """Open the failed calls of the last 24 hours."""
        return self._open_logs(24, [("state", "in", ("failed", "retrying"))],
                               _("%s: failures, 24 hours", self.config_id.name))

    def action_open_requests_7d(self):
        """Open the calls of the last 7 days."""
        return self._open_logs(24 * 7, [], _("%s: calls, 7 days", self.config_id.name))

    def action_open_failures_7d(self):
        """Open the failed calls of the last 7 days."""
        return self._open_logs(24 * 7, [("state", "in", ("failed", "retrying"))],
                               _("%s: failures, 7 days", self.config_id.name))

    def _open_queue(self, states, name):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("bj_api_sync.action_bj_api_outbox")
        action["domain"] = [("config_id", "=", self.config_id.id), ("state", "in", states)]
        action["name"] = name
        action["context"] = {}
        return action

    def action_open_backlog(self):
        """Open the deliveries still waiting (pending or retrying)."""
        return self._open_queue(["pending", "retrying"],
                                _("%s: waiting deliveries", self.config_id.name))

    def action_open_retrying(self):
        """Open the deliveries waiting for a retry."""
        return self._open_queue(["retrying"], _("%s: retrying", self.config_id.name))

    def action_open_last_error(self):
        """Open the log of the last failure."""
        self.ensure_one()
        if not self.last_error_log_id:
            return False
        return {"type": "ir.actions.act_window", "res_model": "bj.api.log",
                "res_id": self.last_error_log_id.id, "view_mode": "form",
                "name": _("Last error")}

    def action_open_config(self):
        """Open the configuration."""
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "bj.api.sync.config",
                "res_id": self.config_id.id, "view_mode": "form"}
