import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

# The statements of services/inbound_idempotency.py. Claims run on a cursor of
# their own at READ COMMITTED, committed at once (a second worker must see a
# claim while the first call still runs); the kept answer is inserted on the
# request's cursor, in the transaction of the call's own writes.
DELETE_EXPIRED_SQL = """
    DELETE FROM bj_api_idempotency_key
     WHERE caller = %s AND idempotency_key = %s AND expires_at <= %s
"""
SELECT_SQL = """
    SELECT id, state, fingerprint, status_code, response_body, response_headers,
           claimed_at, trace_id
      FROM bj_api_idempotency_key
     WHERE caller = %s AND idempotency_key = %s
"""
CLAIM_SQL = """
    INSERT INTO bj_api_idempotency_key (
        caller, idempotency_key, state, fingerprint, config_id, user_id,
        http_method, path, trace_id, claimed_at, expires_at)
    VALUES (%s, %s, 'running', %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (caller, idempotency_key, state) DO NOTHING
    RETURNING id
"""
# Compare-and-set on claimed_at: of two calls taking over one stale claim, one wins.
TAKE_OVER_SQL = """
    UPDATE bj_api_idempotency_key SET claimed_at = %s, expires_at = %s, trace_id = %s
     WHERE id = %s AND state = 'running' AND claimed_at = %s
"""
RELEASE_SQL = """
    DELETE FROM bj_api_idempotency_key WHERE id = %s AND state = 'running' AND claimed_at = %s
"""
KEEP_SQL = """
    INSERT INTO bj_api_idempotency_key (
        caller, idempotency_key, state, fingerprint, config_id, user_id,
        http_method, path, trace_id, claimed_at, expires_at,
        status_code, response_body, response_headers)
    VALUES (%s, %s, 'done', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


class BjApiIdempotencyKey(models.Model):
    """A first answer of the inbound API kept for an ``Idempotency-Key``, or its claim.

    Per caller and key there are at most two rows: the claim (``running``),
    written and committed on a cursor of its own when the first call starts,
    so that every worker sees that call running; and the answer (``done``),
    written in the first call's own transaction, so that a call's writes are
    never committed without the answer that replays them (nor the answer
    without the writes). The unique (caller, key, state) index makes the
    second ``done`` row of a key fail: two calls that both ran (one took over
    a claim it believed dead) cannot both commit. Rows are written by plain
    SQL (services/inbound_idempotency.py) and purged by the cron "BJ API:
    Purge idempotency keys" once expired. Managers may read them; nobody
    edits them.
    """

    _name = "bj.api.idempotency.key"
    _description = "BJ API Idempotency Key"
    _log_access = False
    _order = "claimed_at desc, id desc"
    _rec_name = "idempotency_key"

    caller = fields.Char(
        required=True, readonly=True,
        help="The key space: the credential (an API key's hash, or the configuration with "
        "its user or client address) and the user the call ran as",
    )
    idempotency_key = fields.Char(required=True, readonly=True)
    state = fields.Selection(
        [("running", "Running"), ("done", "Answered")], required=True, readonly=True,
        help="Running: the claim of the first call, taken when it started. "
        "Answered: its kept answer.",
    )
    fingerprint = fields.Char(readonly=True, help="SHA-256 of verb, path, query and body")
    config_id = fields.Many2one("bj.api.sync.config", readonly=True, ondelete="cascade")
    user_id = fields.Many2one("res.users", readonly=True, ondelete="cascade")
    http_method = fields.Char(string="HTTP Method", readonly=True)
    path = fields.Char(readonly=True)
    trace_id = fields.Char(readonly=True, help="Request id of the first call")
    claimed_at = fields.Datetime(required=True, readonly=True)
    expires_at = fields.Datetime(required=True, readonly=True, index=True)
    status_code = fields.Integer(readonly=True)
    response_body = fields.Text(readonly=True)
    response_headers = fields.Text(readonly=True, help="Headers a replay repeats (JSON)")

    _sql_constraints = [
        (
            "key_state_unique",
            "unique(caller, idempotency_key, state)",
            "One claim and one answer per caller and idempotency key.",
        ),
    ]

    @api.model
    def _cron_purge_expired(self):
        """Delete the rows whose 24 hours are over; return how many were deleted."""
        self.env.cr.execute(
            "DELETE FROM bj_api_idempotency_key WHERE expires_at <= %s",
            (fields.Datetime.now(),),
        )
        count = self.env.cr.rowcount
        self.env.invalidate_all()
        if count:
            _logger.info("Purged %s expired BJ API idempotency key row(s)", count)
        return count
