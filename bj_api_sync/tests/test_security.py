from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestSecurity(BjApiSyncCase):
    """A BJ API User reads configs and logs; only a Manager writes or sees secrets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_out_config(
            auth_type="bearer", bearer_token="sk_live_secret", auth_password="pw", auth_login="me"
        )
        cls.log = cls.env["bj.api.log"].create(
            {"config_id": cls.config.id, "direction": "out", "state": "success"}
        )

    def test_user_reads_configs_and_logs(self):
        config = self.config.with_user(self.bj_user)
        self.assertEqual(config.name, "Customer to CRM Sync")
        self.assertEqual(config.read(["name", "url"])[0]["url"], "http://127.0.0.1:9/customers")
        self.assertEqual(self.log.with_user(self.bj_user).state, "success")

    def test_user_cannot_write_or_delete_a_config(self):
        config = self.config.with_user(self.bj_user)
        with self.assertRaises(AccessError):
            config.write({"name": "x"})
        with self.assertRaises(AccessError):
            config.unlink()

    def test_user_cannot_create_a_config(self):
        with self.assertRaises(AccessError):
            self.env["bj.api.sync.config"].with_user(self.bj_user).create(
                {"name": "x", "request_type": "in", "model_id": self.partner_model.id}
            )

    def test_user_cannot_create_lines_headers_or_params(self):
        for model in ("bj.api.sync.config.line", "bj.api.sync.header", "bj.api.sync.param"):
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.bj_user).create(
                    {"config_id": self.config.id, "key": "k", "external_key": "k"}
                )

    def test_user_cannot_delete_a_log(self):
        with self.assertRaises(AccessError):
            self.log.with_user(self.bj_user).unlink()

    def test_user_cannot_read_secrets(self):
        config = self.config.with_user(self.bj_user)
        for secret in ("bearer_token", "auth_password", "auth_login"):
            with self.subTest(field=secret), self.assertRaises(AccessError):
                config.read([secret])
        self.assertNotIn("bearer_token", config.fields_get())

    def test_manager_reads_secrets(self):
        config = self.config.with_user(self.bj_manager)
        self.assertEqual(config.read(["bearer_token"])[0]["bearer_token"], "sk_live_secret")

    def test_manager_writes_configs_and_their_secrets(self):
        self.config.with_user(self.bj_manager).write({"name": "Renamed", "bearer_token": "new"})
        self.assertEqual(self.config.name, "Renamed")
        self.assertEqual(self.config.bearer_token, "new")

    def test_manager_creates_config_lines(self):
        line = self.env["bj.api.sync.config.line"].with_user(self.bj_manager).create(
            {
                "config_id": self.config.id,
                "external_key": "name",
                "field_id": self._field("res.partner", "name").id,
            }
        )
        self.assertEqual(line.config_id, self.config)

    def test_manager_deletes_logs(self):
        self.log.with_user(self.bj_manager).unlink()
        self.assertFalse(self.log.exists())

    def test_plain_employee_sees_nothing(self):
        employee = self.env["res.users"].create(
            {"name": "Employee", "login": "bj_employee",
             "groups_id": [(6, 0, [self.env.ref("base.group_user").id])]}
        )
        with self.assertRaises(AccessError):
            self.config.with_user(employee).read(["name"])
        with self.assertRaises(AccessError):
            self.log.with_user(employee).read(["state"])

    def test_log_form_has_no_create_or_edit(self):
        view = self.env.ref("bj_api_sync.bj_api_log_view_form")
        self.assertIn('create="0"', view.arch_db)
        self.assertIn('edit="0"', view.arch_db)

    def test_not_even_a_manager_writes_a_log(self):
        with self.assertRaises(AccessError):
            self.log.with_user(self.bj_manager).write({"state": "failed"})
