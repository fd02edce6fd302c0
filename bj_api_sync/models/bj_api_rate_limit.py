import logging
import time

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

# Hit counters of the inbound API's fixed windows. The statement runs on its own
# cursor at READ COMMITTED (see services/inbound_ratelimit.py), so the ON
# CONFLICT row lock is held for one statement, never for the duration of a
# request, and concurrent hits of one row wait for each other instead of
# failing to serialize.
HIT_SQL = """
    INSERT INTO bj_api_rate_limit (caller_key, window_name, window_start, expires_at, count)
    VALUES {values}
    ON CONFLICT (caller_key, window_name, window_start)
    DO UPDATE SET count = bj_api_rate_limit.count + 1
    RETURNING window_name, count
"""


class BjApiRateLimit(models.Model):
    """One fixed-window hit counter of the inbound API, shared by all workers.

    Rows are written by plain SQL on a separate cursor (so a rolled-back
    request still counts) and purged by the cron "BJ API: Purge rate-limit
    windows". Managers may read them for diagnosis; nobody edits them.
    """

    _name = "bj.api.rate.limit"
    _description = "BJ API Rate-Limit Window"
    _log_access = False
    _order = "window_start desc, id desc"

    caller_key = fields.Char(
        required=True, readonly=True, help="key:<sha256 prefix>, user:<id> or ip:<address>"
    )
    window_name = fields.Char(required=True, readonly=True)
    window_start = fields.Integer(required=True, readonly=True, help="Epoch second")
    expires_at = fields.Integer(required=True, readonly=True, index=True, help="Epoch second")
    count = fields.Integer(readonly=True, default=0)

    _sql_constraints = [
        (
            "window_unique",
            "unique(caller_key, window_name, window_start)",
            "One counter per caller and window.",
        ),
    ]

    @api.model
    def _cron_purge_windows(self):
        """Delete the counters of windows that are over; return how many were deleted."""
        self.env.cr.execute(
            "DELETE FROM bj_api_rate_limit WHERE expires_at < %s", (int(time.time()),)
        )
        count = self.env.cr.rowcount
        self.env.invalidate_all()
        if count:
            _logger.info("Purged %s expired BJ API rate-limit window(s)", count)
        return count
