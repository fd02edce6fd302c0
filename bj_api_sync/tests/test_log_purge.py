from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestLogPurge(BjApiSyncCase):
    """Logs older than the retention setting are purged by the scheduled action."""

    def _log_aged(self, days):
        log = self.env["bj.api.log"].create({"direction": "out", "state": "success"})
        date = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute("UPDATE bj_api_log SET create_date = %s WHERE id = %s", (date, log.id))
        log.invalidate_recordset()
        return log

    def _set_retention(self, value):
        self.env["ir.config_parameter"].sudo().set_param("bj_api_sync.log_retention_days", value)

    def test_default_retention_is_30_days(self):
        self.env["ir.config_parameter"].sudo().search(
            [("key", "=", "bj_api_sync.log_retention_days")]
        ).unlink()
        old, recent = self._log_aged(31), self._log_aged(29)
        self.assertEqual(self.env["bj.api.log"]._cron_purge_old_logs(), 1)
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())

    def test_custom_retention(self):
        self._set_retention("5")
        old, recent = self._log_aged(6), self._log_aged(4)
        self.env.ref("bj_api_sync.ir_cron_purge_logs").method_direct_trigger()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())

    def test_zero_keeps_forever(self):
        self._set_retention("0")
        ancient = self._log_aged(3650)
        self.assertEqual(self.env["bj.api.log"]._cron_purge_old_logs(), 0)
        self.assertTrue(ancient.exists())

    def test_invalid_setting_falls_back_to_default(self):
        self._set_retention("soon")
        old, recent = self._log_aged(40), self._log_aged(10)
        self.env["bj.api.log"]._cron_purge_old_logs()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())

    def test_settings_expose_retention(self):
        settings = self.env["res.config.settings"].create({"bj_api_log_retention_days": 12})
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"].sudo().get_param("bj_api_sync.log_retention_days"), "12"
        )


@tagged("post_install", "-at_install")
class TestLogStorage(BjApiSyncCase):
    def test_bodies_are_compressed_with_lz4_where_postgresql_has_it(self):
        cr = self.env.cr
        cr.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                   "WHERE name = 'default_toast_compression'")
        row = cr.fetchone()
        cr.execute("SELECT attname, attcompression FROM pg_attribute "
                   "WHERE attrelid = 'bj_api_log'::regclass AND attname LIKE '%%_body'")
        compression = dict(cr.fetchall())
        expected = "l" if row and row[0] else ""
        self.assertEqual(compression, {"request_body": expected, "response_body": expected})
        # Running init() again (module update) changes nothing and does not fail.
        self.env["bj.api.log"].init()
        cr.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'bj_api_log'::regclass "
                   "AND attname LIKE '%%_body' AND attcompression = %s", (expected,))
        self.assertEqual(cr.fetchone()[0], 2)
