import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..services import orm_internals

_logger = logging.getLogger(__name__)

RETENTION_PARAM = "bj_api_sync.log_retention_days"
BODY_LIMIT_PARAM = "bj_api_sync.log_body_limit"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_BODY_LIMIT = 65536


class BjApiLog(models.Model):
    """One HTTP exchange, inbound or outbound: the audit trail."""

    _name = "bj.api.log"
    _description = "BJ API Log"
    _order = "id desc"
    _rec_name = "display_label"

    config_id = fields.Many2one(
        "bj.api.sync.config", string="Configuration", ondelete="set null", index=True
    )
    direction = fields.Selection([("in", "In"), ("out", "Out")], required=True, index=True)
    http_method = fields.Char(string="HTTP Method")
    url = fields.Char(string="URL")
    request_headers = fields.Text()
    request_body = fields.Text()
    status_code = fields.Integer(index=True)
    response_headers = fields.Text()
    response_body = fields.Text()
    duration_ms = fields.Float(string="Duration (ms)", digits=(16, 1), group_operator="avg")
    state = fields.Selection(
        [
            ("success", "Success"),
            ("failed", "Failed"),
            ("retrying", "Retrying"),
            ("pending", "Pending"),
            ("skipped", "Skipped"),
        ],
        required=True,
        default="pending",
        index=True,
    )
    error_message = fields.Text()
    status_text = fields.Char(
        string="Status", compute="_compute_status_text",
        help="The HTTP status code; \"no response\" when none came (connection error, "
        "timeout); \"not sent\" when no request went out (Only Changed, a record without "
        "external id, a failing request script).")
    is_connection_test = fields.Boolean(
        string="Connection Test", index=True, readonly=True,
        help="Written by Test Connection: not a delivery, and not counted as one.")
    summary = fields.Text(help="What the call did: an import page's created, updated and "
                          "failed items.")
    attempt = fields.Integer(default=1, help="1 for the first attempt, 2 for the first retry, ...")
    res_model = fields.Char(string="Model", index=True)
    res_ids = fields.Char(string="Record IDs", help="Comma-separated ids of the records involved.")
    trace_id = fields.Char(index=True, help="Request id shared with the X-Request-Id header.")
    outbox_id = fields.Many2one(
        "bj.api.outbox", string="Queued Delivery", ondelete="set null", index="btree_not_null"
    )
    outbox_state = fields.Selection(related="outbox_id.state", string="Delivery State")
    display_label = fields.Char(compute="_compute_display_label")
    create_date = fields.Datetime(index=True)

    # Bodies are the bulk of the log: PostgreSQL compresses them when stored
    # out of line, and lz4 does it several times faster than the default pglz.
    _LZ4_COLUMNS = ("request_body", "response_body")

    def init(self):
        """Store the body columns with lz4 compression where PostgreSQL offers it."""
        super().init()
        cr = self.env.cr
        cr.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"
        )
        row = cr.fetchone()
        if not (row and row[0]):
            return  # PostgreSQL < 14, or built without lz4: pglz stays
        cr.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'bj_api_log'::regclass "
            "AND attname IN %s AND attcompression != 'l'",
            (self._LZ4_COLUMNS,),
        )
        for (column,) in cr.fetchall():
            # Affects rows written from now on; existing rows keep their compression.
            cr.execute(SQL("ALTER TABLE bj_api_log ALTER COLUMN %s SET COMPRESSION lz4",
                           SQL.identifier(column)))

    @api.depends("status_code", "state", "request_headers")
    def _compute_status_text(self):
        for log in self:
            if log.status_code:
                log.status_text = str(log.status_code)
            elif log.state == "skipped" or not log.request_headers:
                # Nothing went on the wire (Only Changed, or a request that could
                # not be built): there was no answer to wait for.
                log.status_text = _("not sent")
            else:
                log.status_text = _("no response")

    @api.depends("http_method", "url", "status_code", "is_connection_test")
    def _compute_display_label(self):
        for log in self:
            label = f"{log.http_method or ''} {log.url or ''} ({log.status_text})".strip()
            log.display_label = _("Connection test: %s", label) if log.is_connection_test \
                else label

    # Columns written by _insert_many: plain values, no computed stored field
    # depends on them, so they may bypass the ORM.
    _FAST_COLUMNS = (
        "config_id", "direction", "http_method", "url", "request_headers", "request_body",
        "status_code", "response_headers", "response_body", "duration_ms", "state",
        "error_message", "attempt", "res_model", "res_ids", "trace_id", "outbox_id", "summary",
    )

    @api.model
    def _insert_many(self, vals_list):
        """Insert log rows in one statement and return them.

        The outbound hot path writes one row per request; the ORM's create costs
        more than the HTTP exchange it records, so logs are inserted in bulk.
        An empty value is stored as create() stores it: 0 for numbers (a
        ``status_code`` of 0 means "no response", as in create()), NULL for
        the other columns.
        """
        if not vals_list:
            return self.browse()
        now = fields.Datetime.now()
        uid = self.env.uid
        columns = self._FAST_COLUMNS
        empties = [0 if self._fields[col].type in ("integer", "float") else None
                   for col in columns]
        rows = [
            tuple(vals.get(col) or empty for col, empty in zip(columns, empties))
            + (uid, now, uid, now)
            for vals in vals_list
        ]
        # The column names are this class's constant tuple, never user input.
        query = (
            "INSERT INTO bj_api_log (%s, create_uid, create_date, write_uid, write_date) "  # noqa: S608
            "VALUES %%s RETURNING id" % ", ".join(f'"{c}"' for c in columns)
        )
        return self.browse(orm_internals.insert_values(self.env.cr, query, rows))

    @api.model
    def _get_int_param(self, key, default):
        """Return the non-negative integer system parameter ``key``, or ``default``."""
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        try:
            return max(int(value), 0) if value else default
        except ValueError:
            _logger.warning("Ignoring invalid %s=%r; using %s", key, value, default)
            return default

    @api.model
    def _get_body_limit(self):
        """Return the maximum number of characters kept of a request or response body."""
        return self._get_int_param(BODY_LIMIT_PARAM, DEFAULT_BODY_LIMIT)

    @api.model
    def _get_retention_days(self):
        """Return how many days logs are kept (0 keeps them forever)."""
        return self._get_int_param(RETENTION_PARAM, DEFAULT_RETENTION_DAYS)

    @api.model
    def _cron_purge_old_logs(self):
        """Delete logs older than the retention setting, the delivered queue items
        as old, and cached OAuth2 tokens no configuration uses; return how many
        logs were deleted."""
        self.env["bj.api.oauth2.token"]._purge_orphans()
        days = self._get_retention_days()
        if not days:
            return 0
        cutoff = fields.Datetime.now() - timedelta(days=days)
        # Plain SQL: logs have no business logic on unlink, and a purge of
        # millions of rows through the ORM would load them all in memory.
        self.env.cr.execute("DELETE FROM bj_api_log WHERE create_date < %s", (cutoff,))
        count = self.env.cr.rowcount
        self.env.invalidate_all()
        if count:
            _logger.info("Purged %s BJ API log(s) older than %s days", count, days)
        self.env["bj.api.outbox"]._purge_done_items(cutoff)
        return count

    def action_retry_delivery(self):
        """Queue the delivery of these logs again (failed outbound deliveries)."""
        return self.outbox_id.action_retry()

    def action_open_config(self):
        """Open the configuration of this log."""
        self.ensure_one()
        if not self.config_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": "bj.api.sync.config",
            "res_id": self.config_id.id,
            "view_mode": "form",
            "name": _("Configuration"),
        }
