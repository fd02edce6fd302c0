"""The queue at size: delivered items purged with the logs, indexes for its screens."""
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..models.bj_api_outbox_retention import INDEXES
from ..services import outbound
from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestOutboxRetention(BjApiSyncCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_out_config(name="Retention CRM")
        cls.env["ir.config_parameter"].sudo().set_param("bj_api_sync.log_retention_days", 30)

    def item(self, state, days_ago, attempted=True):
        item = self.env["bj.api.outbox"].create(
            outbound.item_values(self.config, "manual", "res.partner", [1], state=state))
        moment = fields.Datetime.now() - timedelta(days=days_ago)
        item.flush_recordset()
        self.env.cr.execute(
            "UPDATE bj_api_outbox SET last_attempt_at = %s, write_date = %s WHERE id = %s",
            (moment if attempted else None, moment, item.id))
        item.invalidate_recordset()
        return item

    def test_the_retention_cron_purges_old_delivered_items_only(self):
        old_done = self.item("done", 31)
        old_done_never_sent = self.item("done", 31, attempted=False)
        recent_done = self.item("done", 29)
        old_failed, old_pending = self.item("failed", 90), self.item("pending", 90)
        old_retrying = self.item("retrying", 90)
        log = self.env["bj.api.log"].create({"direction": "out", "state": "success",
                                             "config_id": self.config.id,
                                             "outbox_id": old_done.id})
        self.env.ref("bj_api_sync.ir_cron_purge_logs").method_direct_trigger()
        self.assertFalse(old_done.exists())
        self.assertFalse(old_done_never_sent.exists())
        self.assertTrue(recent_done.exists())
        self.assertEqual((old_failed | old_pending | old_retrying).exists(),
                         old_failed | old_pending | old_retrying)
        # A newer log of a purged item keeps its history, without the link.
        self.assertTrue(log.exists())
        self.assertFalse(log.outbox_id)

    def test_no_retention_keeps_everything(self):
        self.env["ir.config_parameter"].sudo().set_param("bj_api_sync.log_retention_days", 0)
        old_done = self.item("done", 400)
        self.env["bj.api.log"]._cron_purge_old_logs()
        self.assertTrue(old_done.exists())

    def test_the_indexes_of_a_large_queue_exist(self):
        self.env.cr.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'bj_api_outbox'")
        names = {row[0] for row in self.env.cr.fetchall()}
        self.assertLessEqual(set(INDEXES), names)


@tagged("post_install", "-at_install")
class TestOauth2TokenOrphans(BjApiSyncCase):
    """Cached OAuth2 tokens no configuration uses are dropped by the retention cron."""

    def test_tokens_of_gone_or_changed_configurations_are_purged(self):
        oauth = self.make_out_config(
            name="OAuth CRM", auth_type="oauth2", oauth2_token_url="http://127.0.0.1:9/token",
            oauth2_client_id="id", oauth2_client_secret="secret")
        basic = self.make_out_config(name="Was OAuth", auth_type="none")
        self.env.flush_all()
        self.env.cr.execute(
            "INSERT INTO bj_api_oauth2_token (config_id, access_token) VALUES (%s, 'a'), "
            "(%s, 'b'), (%s, 'c')", (oauth.id, basic.id, max(oauth.id, basic.id) + 1000))
        self.env["ir.config_parameter"].sudo().set_param("bj_api_sync.log_retention_days", 0)
        self.env["bj.api.log"]._cron_purge_old_logs()
        self.env.cr.execute("SELECT config_id FROM bj_api_oauth2_token WHERE config_id IN %s",
                            ((oauth.id, basic.id, max(oauth.id, basic.id) + 1000),))
        self.assertEqual([row[0] for row in self.env.cr.fetchall()], [oauth.id])
