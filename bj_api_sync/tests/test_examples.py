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
        cls.example.write({"active": True, "url": cls.server.url + "/api/customers",
                           "bearer_token": "example-token"})

    def test_examples_are_inactive_by_default(self):
        config = self.env.ref("bj_api_sync.example_config_customer_crm")
        self.assertEqual(config.request_type, "out")
        self.assertFalse(self.env.ref("bj_api_sync.example_cron_sync_recent_partners").active)
        for xmlid in ("example_automation_on_create", "example_automation_on_write",
                      "example_automation_on_unlink"):
            automation = self.env.ref(f"bj_api_sync.{xmlid}")
            self.assertFalse(automation.active, xmlid)
            self.assertEqual(len(automation.action_server_ids), 1, xmlid)
        self.assertFalse(self.env.ref("bj_api_sync.example_server_action_send_partner")
                         .binding_model_id)

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

    def test_cron_example_sends_recently_changed_companies(self):
        cron = self.env.ref("bj_api_sync.example_cron_sync_recent_partners")
        self.partners.write({"phone": "+32 2 555 00 00"})
        cron.method_direct_trigger()
        names = sorted(r.json["full_name"] for r in self.server.requests)
        # The example's filter domain keeps companies only.
        self.assertIn("Azure Interior", names)
        self.assertIn("Deco Addict", names)
        self.assertNotIn("Private Person", names)
