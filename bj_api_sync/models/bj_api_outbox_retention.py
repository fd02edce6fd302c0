"""The outbound queue at size: indexes for what its screens and worker filter on,
and the purge of delivered items by the retention cron."""
import logging

from odoo import api, models

_logger = logging.getLogger(__name__)

# Each is what a screen asks of a queue of millions of delivered items, answered
# from an index instead of a scan (the worker's claim has its own, partial
# indexes: CLAIM_INDEXES in bj_api_outbox.py).
INDEXES = {
    # a state filter (Failed, Done), newest first as the list shows it
    "bj_api_outbox_state_id_idx": "(state, id)",
    # a configuration's items (search, dashboard links), newest first
    "bj_api_outbox_config_id_idx": "(config_id, id)",
}
# Built from the constants above only.
INDEX_STATEMENTS = [f"CREATE INDEX IF NOT EXISTS {name} ON bj_api_outbox {definition}"
                    for name, definition in INDEXES.items()]


class BjApiOutbox(models.Model):
    _inherit = "bj.api.outbox"

    def init(self):
        """Create the indexes of the queue's screens."""
        res = super().init()
        for statement in INDEX_STATEMENTS:
            self.env.cr.execute(statement)
        return res

    @api.model
    def _purge_done_items(self, cutoff):
        """Delete the delivered items whose last attempt is older than ``cutoff``
        (a UTC datetime); return how many were deleted. Failed and waiting items
        stay until someone retries or deletes them."""
        self.flush_model()
        # Plain SQL, as the log purge: no business logic on unlink, and the ORM
        # would load millions of rows. Their logs keep their history (the link
        # is set to NULL by the foreign key).
        self.env.cr.execute(
            "DELETE FROM bj_api_outbox WHERE state = 'done' "
            "AND COALESCE(last_attempt_at, write_date) < %s", (cutoff,))
        count = self.env.cr.rowcount
        self.env.invalidate_all()
        if count:
            _logger.info("Purged %s delivered BJ API queue item(s) older than %s", count, cutoff)
        return count
