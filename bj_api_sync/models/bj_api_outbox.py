import contextlib
import logging
import threading
import time
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import _, api, fields, http, models
from odoo.tools import sql

from ..engine import http_client, masking, policy
from ..services import outbound

_logger = logging.getLogger(__name__)

# One cron run lasts at most this long, sleeping included, then triggers itself
# again: a long queue or a near retry never holds a cron worker past Odoo's
# limit_time_real (120 s by default), and other scheduled actions get their turn.
RUN_BUDGET_SECONDS = 50
# Odoo's cron worker acts on its own only once a minute (60-70 s; a trigger
# with a future time waits for that poll). So a delivery due within this lead
# is waited for by a running worker, asleep with nothing held; a later one has
# the worker started this long before it is due.
STAY_SECONDS = 75
# While it waits, the worker looks for new due items this often.
POLL_SECONDS = 0.5
# Items claimed, sent and written per transaction: large enough that the
# claim, the result writes and the commit cost little per item, small enough
# that a worker killed mid-group leaves few items to send again (and a group
# of a slow API holds its locks briefly). Chosen by tests/benchmarks/outbox.py.
GROUP_SIZE = 100
# Items left "pending" by a dead worker are claimed again: their row lock died
# with the worker's transaction, so SKIP LOCKED sees them as free.
# Ordering: an item is not taken while an earlier item (lower id) of the same
# configuration and the same records (res_model and res_ids) is still waiting
# (pending or retrying), whether another worker holds it or it waits for its
# retry; so a group holds at most one item per configuration and records, and
# an update is never sent before the create queued before it.
CLAIM_SQL = """
    SELECT o.id FROM bj_api_outbox o
     WHERE o.state IN ('pending', 'retrying') AND o.next_attempt_at <= %s
       AND NOT EXISTS (
           SELECT 1 FROM bj_api_outbox e
            WHERE e.config_id = o.config_id AND e.res_model = o.res_model
              AND e.res_ids = o.res_ids AND e.id < o.id
              AND e.state IN ('pending', 'retrying'))
     ORDER BY o.next_attempt_at, o.id
     LIMIT %s
     FOR NO KEY UPDATE OF o SKIP LOCKED
"""
# The indexes of the claim: the waiting items by due time, and the waiting
# items of one configuration and records (the ordering check). Partial: done
# items, the bulk of the table, are in neither.
WAITING = "state IN ('pending', 'retrying')"
CLAIM_INDEXES = (
    ("bj_api_outbox_waiting_due_index", ["next_attempt_at", "id"]),
    ("bj_api_outbox_waiting_records_index", ["config_id", "res_model", "res_ids", "id"]),
)
LOCK_SQL = """
    SELECT id FROM bj_api_outbox
     WHERE id = %s AND state IN %s
     FOR NO KEY UPDATE SKIP LOCKED
"""
NEXT_DUE_SQL = """
    SELECT min(next_attempt_at) FROM bj_api_outbox WHERE state IN ('pending', 'retrying')
"""


class _ThisThread(logging.Filter):
    """Drops the records of one thread."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record):
        """Keep the records of the other threads."""
        return record.thread != self.thread


@contextlib.contextmanager
def _quiet_conflicts():
    """Keep this thread's failing claim out of the log ("bad query"): a
    conflict between workers is expected now and then, and handled. The
    other threads' queries are logged as usual."""
    quiet = _ThisThread()
    sql_logger = logging.getLogger("odoo.sql_db")
    sql_logger.addFilter(quiet)
    try:
        yield
    finally:
        sql_logger.removeFilter(quiet)


def _seconds_until(moment):
    """Seconds from now until ``moment`` (a naive UTC datetime; None gives None)."""
    return None if moment is None else (moment - outbound.utc_now()).total_seconds()


class BjApiOutbox(models.Model):
    """A delivery waiting for, or done by, the outbound worker (the outbox).

    Items are written in the transaction that caused them, so a rolled-back
    change sends nothing; the cron "BJ API: Deliver outbound queue" sends them
    after commit, retries them with backoff, and leaves failures visible here.

    Workers claim due items in groups of :data:`GROUP_SIZE` (``FOR NO KEY
    UPDATE SKIP LOCKED``), send them over pooled keep-alive connections, write
    their outcomes and log rows in bulk and commit once per group; several
    workers (cron threads of several Odoo servers on one database) share the
    queue without taking the same item. Delivery is at least once, each item
    with its one Idempotency-Key: a worker killed mid-group leaves its items
    pending, and they are sent again.

    Ordering rule: the items of one configuration for the same records
    (``res_model`` and ``res_ids``) are delivered in the order they were
    queued. An item waits while an earlier one of them is pending or retrying
    (a retry blocks the later items until it is done or failed); a failed item
    no longer holds them back.
    """

    _name = "bj.api.outbox"
    _description = "BJ API Outbound Queue"
    _order = "id desc"

    config_id = fields.Many2one(
        "bj.api.sync.config", string="Configuration", required=True, ondelete="cascade",
        index=True,
    )
    event = fields.Char(help="What queued it: create, update, delete, manual, retry, webhook...")
    state = fields.Selection(
        [("pending", "Pending"), ("retrying", "Retrying"), ("done", "Done"), ("failed", "Failed")],
        required=True,
        default="pending",
        index=True,
    )
    res_model = fields.Char(string="Model")
    res_ids = fields.Char(string="Record IDs")
    payload = fields.Text(help="The JSON body, built when the item was queued. Empty: built "
                          "from the records at delivery.")
    request_url = fields.Char(
        string="Request URL", help="The URL of this delivery, with the record's fields "
        "filled in when it was queued ({external_id} is filled at delivery). Empty: the "
        "configuration's.",
    )
    idempotency_key = fields.Char(
        required=True, index=True, readonly=True,
        help="Sent as the Idempotency-Key header; the same on every attempt of this delivery.",
    )
    attempt_count = fields.Integer(string="Attempts", default=0)
    max_attempts = fields.Integer(default=4)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now, index=True)
    last_attempt_at = fields.Datetime()
    last_status_code = fields.Integer()
    last_status_text = fields.Char(
        string="Last Status", compute="_compute_last_status_text",
        help="The last attempt's HTTP status, or \"no response\" (connection error, timeout).")
    last_error = fields.Text()
    log_ids = fields.One2many("bj.api.log", "outbox_id", string="Attempts Log")

    def init(self):
        """Create the partial indexes of the delivery claim."""
        res = super().init()
        for name, columns in CLAIM_INDEXES:
            sql.create_index(self.env.cr, name, self._table, columns, where=WAITING)
        return res

    @api.depends("config_id", "res_model", "res_ids", "event")
    def _compute_display_name(self):
        """Name an item by what it delivers: configuration, records and event."""
        for item in self:
            ids = item._res_id_list()
            records = (f"{item.res_model} {ids[0]}" if len(ids) == 1
                       else _("%(model)s, %(count)s records", model=item.res_model,
                              count=len(ids)))
            item.display_name = " · ".join(
                part for part in (item.config_id.name, records, item.event) if part)

    @api.depends("last_status_code", "attempt_count")
    def _compute_last_status_text(self):
        for item in self:
            if not item.attempt_count:
                item.last_status_text = False
            else:
                item.last_status_text = (str(item.last_status_code) if item.last_status_code
                                         else _("no response"))

    def _res_id_list(self):
        return [int(i) for i in (self.res_ids or "").split(",") if i.strip().isdigit()]

    def _records(self):
        """Return the records this item is about (they may no longer exist)."""
        self.ensure_one()
        if not self.res_model or self.res_model not in self.env:
            return self.env["res.partner"].browse()
        return self.env[self.res_model].browse(self._res_id_list())

    # ------------------------------------------------------------- enqueueing
    @api.model
    def _enqueue(self, config, records, event, payloads=None):
        """Queue ``records`` for delivery through ``config`` after this transaction.

        With ``payloads`` (a list aligned with ``records``) each payload is sent as
        the body as it is; otherwise the config's mapping builds them now.
        Returns the new items; the delivery cron is triggered for after commit.
        """
        config = config.sudo()
        if not records:
            return self.browse()
        items = self.sudo().create(outbound.enqueue_values(config, records, event, payloads))
        self._trigger_delivery()
        return items

    @api.model
    def _create_from_attempt(self, config, records, body, key, result, url=None):
        """Record a failed first attempt made outside the queue, for its retries.

        ``body``: the mapped payload(s); ``url``: the URL the attempt went to.
        """
        vals = outbound.item_values(
            config, "direct", records._name, records.ids, payload=http_client.to_json(body),
            idempotency_key=key, request_url=url if url and url != config.url else False,
        )
        vals.update(outbound.outcome_values(config, result, 1, vals["max_attempts"],
                                            outbound.config_secrets(config)))
        item = self.sudo().create(vals)
        if item.state == "retrying":
            self._trigger_delivery(at=vals["next_attempt_at"])
        return item

    @api.model
    def _trigger_delivery(self, at=None):
        """Have the delivery worker run after this transaction, in time for ``at``.

        A delivery due within :data:`STAY_SECONDS` starts the worker now (it
        waits for the item); a later one starts it that long before.
        """
        cron = self.env.ref("bj_api_sync.ir_cron_outbox_deliver", raise_if_not_found=False)
        if not cron:
            return
        start = None
        if at is not None and policy.start_delay(_seconds_until(at), STAY_SECONDS):
            start = at - timedelta(seconds=STAY_SECONDS)
        cron.sudo()._trigger(at=start)

    # --------------------------------------------------------------- delivery
    def _lock_row(self, query, params):
        self.flush_model()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, params)
                row = self.env.cr.fetchone()
        except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
            # Another worker changed or holds it since this transaction began.
            return self.browse()
        return self.browse(row[0]) if row else self.browse()

    def _claim(self, size=GROUP_SIZE):
        """Lock and return up to ``size`` due items (ordering rule kept), or
        None when this transaction's snapshot is too old to claim (another
        worker settled items since it began: commit and claim again)."""
        self.flush_model()
        try:
            # A conflict is expected now and then with several workers: it is
            # handled, not an error for the log.
            with self.env.cr.savepoint(flush=False), _quiet_conflicts():
                # Due times are written with the application's clock, so they
                # are compared with it too (not with the transaction's now(),
                # which stops at the transaction's start).
                self.env.cr.execute(CLAIM_SQL, (outbound.utc_now(), size))
                ids = [row[0] for row in self.env.cr.fetchall()]
        except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
            return None
        # In due order: the order the claim found them in.
        return self.browse(ids)

    def _claim_next(self):
        """Lock and return the next due item, or an empty recordset."""
        return self._claim(1) or self.browse()

    def _next_due(self):
        """Return when the next waiting item is due (a UTC datetime), or None."""
        self.flush_model()
        self.env.cr.execute(NEXT_DUE_SQL)
        return self.env.cr.fetchone()[0]

    @api.model
    def _cron_deliver(self, budget_seconds=RUN_BUDGET_SECONDS, limit=None, stay_seconds=None,
                      group_size=None):
        """Deliver due items in groups, each group in its own transaction; return the count.

        Up to ``group_size`` (default :data:`GROUP_SIZE`) items are claimed at
        once. Two workers never take the same item (row lock with SKIP
        LOCKED); an item whose worker died is taken again. When nothing is due
        but an item will be within ``stay_seconds`` (default
        :data:`STAY_SECONDS`; 0 in tests, which make items due themselves, and
        in an HTTP request such as the cron's Run Manually, which must not hang
        a browser), the worker commits and sleeps until then, so retries keep
        their schedule. The run lasts at most ``budget_seconds``; it then
        triggers itself again if work remains.
        """
        testing = getattr(threading.current_thread(), "testing", False)
        if stay_seconds is None:
            stay_seconds = 0 if testing or http.request else STAY_SECONDS
        size = group_size or GROUP_SIZE
        deadline = time.monotonic() + budget_seconds
        # The RequestFactory of each config (its URL, headers, secrets, OAuth2
        # token, HTTP pool...) and its sync plans' settings are built once per
        # run, not per group: building them reads the config and its lines again
        # after every commit. So a change to a config made during a run (at most
        # budget_seconds) is seen by the next run. They keep no cursor of their
        # own: their records are in this run's environment (one cursor, committed
        # between groups), and the OAuth2 token source works on cursors of its
        # own, opened per use.
        cache = outbound.RunCache()
        done = 0
        woken = False
        while limit is None or done < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            items = self._claim(size if limit is None else min(size, limit - done))
            if items is None:
                if testing:
                    break
                # A fresh snapshot, then claim again.
                self.env.cr.commit()  # pylint: disable=invalid-commit
                continue
            if not items:
                pause = policy.idle_sleep(_seconds_until(self._next_due()), stay=stay_seconds,
                                          poll=POLL_SECONDS, remaining=remaining)
                if pause is None:
                    break
                if not testing:
                    # Nothing held while asleep, and a fresh snapshot afterwards.
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                time.sleep(pause)
                continue
            if len(items) == size and limit is None and not woken:
                # A backlog: idle cron workers (other servers) join in.
                self._wake_other_workers()
                woken = True
            self._deliver_group(items, cache)
            done += len(items)
            if not testing:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        self._schedule_next_run()
        return done

    def _deliver_group(self, items, cache=None):
        """Deliver the claimed ``items``; a group whose writes fail is delivered
        again one item at a time, each in a savepoint, so that one bad item
        cannot stop the queue. ``cache``: the run's ``outbound.RunCache``."""
        try:
            with self.env.cr.savepoint():
                outbound.deliver_group(items, cache)
            return
        except Exception as exc:  # a database error: find the item behind it
            if len(items) == 1:
                _logger.exception("bj_api_sync: delivery of outbox item %s failed", items.id)
                self._fail(items, exc)
                return
            _logger.warning("bj_api_sync: a group of %s outbox items failed to be written; "
                            "delivering them one at a time", len(items), exc_info=True)
        self.env.invalidate_all()
        for item in items:
            self._deliver_group(item, cache)

    def _fail(self, item, exc):
        """Fail ``item`` after the unexpected error ``exc`` of its delivery."""
        secrets = outbound.config_secrets(item.config_id.sudo())
        item.invalidate_recordset()
        item.write({"state": "failed", "last_error": masking.mask_text(str(exc), secrets),
                    "attempt_count": item.attempt_count + 1})

    def _wake_other_workers(self):
        """Trigger every active scheduled action that delivers this queue (the
        worker actions 2 to 4, and any copy), so that idle cron workers take one.

        Odoo runs a scheduled action in one worker at a time, so each further
        worker needs its own action; one already running is left to run.
        """
        crons = self.env["ir.cron"].sudo().search([
            ("model_id.model", "=", self._name), ("code", "=like", "%_cron_deliver(%"),
            ("active", "=", True)])
        for cron in crons:
            cron._trigger()

    def _schedule_next_run(self):
        """Trigger the worker again in time for the next waiting item, if any."""
        nxt = self._next_due()
        if nxt is not None:
            self._trigger_delivery(at=nxt)

    # ------------------------------------------------------------------ actions
    def _free_items(self, states):
        """Return ``(free, held)``: the items in ``states`` this transaction could
        lock, and those a worker holds (it is sending them at this moment)."""
        free = held = self.browse()
        for item in self.filtered(lambda i: i.state in states):
            if self._lock_row(LOCK_SQL, (item.id, tuple(states))):
                free |= item
            else:
                held |= item
        return free, held

    def _notify(self, kind, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message,
                       "next": {"type": "ir.actions.act_window_close"}},
        }

    def action_retry(self):
        """Queue failed (or waiting) items for a new delivery with fresh retries.

        An item a worker is sending at this moment is left to that worker
        (without waiting for it), and the message says so.
        """
        items, held = self._free_items(("failed", "retrying", "pending"))
        for item in items:
            item.write(
                {
                    "state": "pending",
                    "next_attempt_at": outbound.utc_now(),
                    "max_attempts": item.attempt_count
                    + policy.max_attempts(item.config_id.max_retries),
                }
            )
        if items:
            self._trigger_delivery()
        if held:
            return self._notify("warning", _(
                "%(done)s delivery(ies) queued again; %(held)s being sent right now, "
                "left to the worker sending them.", done=len(items), held=len(held)))
        if items:
            return self._notify("success", _("%s delivery(ies) queued again.", len(items)))
        return self._notify("warning", _(
            "Nothing to retry: only failed or waiting deliveries can be retried."))

    def action_deliver_now(self):
        """Deliver the selected waiting items now, in this request.

        An item a worker is sending at this moment is left to that worker, and
        the message says so.
        """
        items, held = self._free_items(("pending", "retrying"))
        for item in items:
            outbound.deliver(item)
        if held:
            return self._notify("warning", _(
                "%(done)s delivery(ies) sent; %(held)s being sent right now by the worker, "
                "left to it.", done=len(items), held=len(held)))
        return True
