from odoo.exceptions import UserError
from odoo.tests import tagged

from .fault_server import Response
from .test_outbound import OutboundCase


@tagged("post_install", "-at_install")
class TestShippedExamples(OutboundCase):
    """The inactive examples shipped as data work once activated."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.example = cls.env.ref("bj_api_sync.example_config_customer_crm")
        # What is active as installed, before this class unarchives the example.
        cls.installed_active = {
            "config": cls.example.active,
            "rules": cls.example.automation_ids.mapped("active"),
            "cron": cls.example.cron_id.active,
        }
        cls.example.write({"active": True, "url": cls.server.url + "/api/customers",
                           "bearer_token": "example-token"})

    def test_examples_are_inactive_by_default(self):
        self.assertEqual(self.installed_active,
                         {"config": False, "rules": [False] * 3, "cron": False})
        config = self.env.ref("bj_api_sync.example_config_customer_crm")
        self.assertEqual(config.request_type, "out")
        self.assertEqual(sorted(config.automation_ids.mapped("trigger")),
                         ["on_create", "on_unlink", "on_write"])
        self.assertEqual(sorted(config.trigger_field_ids.mapped("name")),
                         ["country_id", "email", "name", "phone"])
        self.assertEqual(config.automation_ids.filtered(
            lambda r: r.trigger == "on_write").trigger_field_ids, config.trigger_field_ids)
        self.assertEqual((config.cron_id.interval_number, config.cron_id.interval_type),
                         (1, "days"))
        self.assertFalse(self.env.ref("bj_api_sync.example_server_action_send_partner")
                         .binding_model_id)

    def test_unarchived_example_activates_what_it_owns(self):
        config = self.example
        self.assertTrue(all(config.automation_ids.mapped("active")))
        self.assertTrue(config.cron_id.active)
        partner = self.env["res.partner"].create({"name": "Example Co", "is_company": True})
        partner.write({"email": "co@example.com"})
        partner.write({"comment": "not a mapped field"})
        self.env["res.partner"].create({"name": "Example Person"})
        partner.unlink()
        items = self.Outbox.search([("config_id", "=", config.id)], order="id")
        self.assertEqual(items.mapped("event"), ["create", "update", "delete"])

    def test_server_action_example_sends_and_reports_failures(self):
        action = self.env.ref("bj_api_sync.example_server_action_send_partner")
        company = self.partners[0]
        action.with_context(active_model="res.partner", active_ids=company.ids,
                            active_id=company.id).run()
        [req] = self.server.requests
        self.assertEqual(req.path, "/api/customers")
        self.assertEqual(req.headers.get("Authorization"), "Bearer example-token")
        self.assertEqual(req.json["full_name"], "Azure Interior")
        self.assertEqual(req.json["external_id"], company.id)
        self.assertEqual(req.json["address"], {"country_code": "BE"})
        self.server.script(None, [Response(400, {"error": "duplicate"})])
        with self.assertRaisesMessage(UserError, "CRM sync failed: HTTP 400"):
            action.with_context(active_model="res.partner", active_ids=company.ids,
                                active_id=company.id).run()

    def test_example_schedule_sends_the_companies(self):
        cron = self.example.cron_id
        cron.method_direct_trigger()
        names = sorted(r.json["full_name"] for r in self.server.requests)
        # The example's filter domain keeps companies only.
        self.assertIn("Azure Interior", names)
        self.assertIn("Deco Addict", names)
        self.assertNotIn("Private Person", names)
