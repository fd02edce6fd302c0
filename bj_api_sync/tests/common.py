"""Shared fixtures of the Odoo tests."""

from contextlib import contextmanager

from odoo.tests.common import TransactionCase, new_test_user


class BjApiSyncCase(TransactionCase):
    """Creates a BJ API user and manager and gives handy references."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Config = cls.env["bj.api.sync.config"]
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        cls.country_model = cls.env["ir.model"]._get("res.country")
        cls.method_get = cls.env.ref("bj_api_sync.http_method_get")
        cls.method_post = cls.env.ref("bj_api_sync.http_method_post")
        cls.method_put = cls.env.ref("bj_api_sync.http_method_put")
        cls.method_delete = cls.env.ref("bj_api_sync.http_method_delete")
        cls.bj_user = new_test_user(
            cls.env, login="bj_user", groups="base.group_user,bj_api_sync.group_bj_api_user"
        )
        cls.bj_manager = new_test_user(
            cls.env,
            login="bj_manager",
            groups="base.group_user,bj_api_sync.group_bj_api_manager",
        )

    @classmethod
    def _field(cls, model, name):
        return cls.env["ir.model.fields"]._get(model, name)

    @classmethod
    def make_out_config(cls, **vals):
        """Create a valid outbound configuration on res.partner."""
        values = {
            "name": "Customer to CRM Sync",
            "request_type": "out",
            "model_id": cls.partner_model.id,
            "url": "http://127.0.0.1:9/customers",
            "http_method_ids": [(6, 0, [cls.method_post.id])],
        }
        values.update(vals)
        return cls.env["bj.api.sync.config"].create(values)

    @classmethod
    def make_in_config(cls, **vals):
        """Create a valid inbound configuration on res.partner."""
        values = {
            "name": "Partners API",
            "request_type": "in",
            "model_id": cls.partner_model.id,
            "http_method_ids": [
                (6, 0, (cls.method_get | cls.method_post | cls.method_put | cls.method_delete).ids)
            ],
            # No authentication runs as this user (a config without one cannot save).
            "user_id": cls.env.ref("base.user_admin").id,
        }
        values.update(vals)
        return cls.env["bj.api.sync.config"].create(values)

    @contextmanager
    def assertRaisesMessage(self, exception, regex):
        """Like assertRaisesRegex, inside a savepoint as Odoo's assertRaises does."""
        with self.assertRaises(exception) as caught:
            yield caught
        self.assertRegex(str(caught.exception), regex)
