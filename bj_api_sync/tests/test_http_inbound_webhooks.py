import json

from odoo.tests import tagged

from .http_common import BjApiHttpCase


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundWebhooks(BjApiHttpCase):
    """Webhook registration, event payloads queued in the outbox, listing, removal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.Outbox = cls.env["bj.api.outbox"]
        cls.admin_like = cls.make_user(
            "whadmin", "base.group_user,base.group_system,bj_api_sync.group_bj_api_manager"
        )
        cls.admin_key = cls.make_key(cls.admin_like)

    def _register(self, body, path="webhooks", key=None, status=201):
        response = self.call("POST", path, body, key=key)
        return self.assertJson(response, status)

    def _items(self, record, event=None):
        domain = [("res_model", "=", record._name), ("res_ids", "=", str(record.id))]
        if event:
            domain.append(("event", "=", f"webhook:{event}"))
        self.env.invalidate_all()
        return self.Outbox.search(domain, order="id")

    def test_register_creates_config_and_automations(self):
        body = self._register({
            "url": "https://example.com/webhook",
            "events": ["create", "update", "delete"],
            "model": "res.partner",
            "fields": ["name", "email", "phone"],
            "conditions": [["is_company", "=", True]],
            "authentication": {"type": "bearer", "token": "external-api-token"},
        })
        self.assertRegex(body["webhook_id"], r"^wh_[0-9a-f]{16}$")
        self.assertEqual(body["status"], "active")
        webhook = self.env["bj.api.webhook"].search([("public_id", "=", body["webhook_id"])])
        self.assertEqual(webhook.user_id, self.api_user)
        config = webhook.config_id
        self.assertEqual((config.request_type, config.url, config.auth_type),
                         ("out", "https://example.com/webhook", "bearer"))
        self.assertEqual(config.sudo().bearer_token, "external-api-token")
        self.assertEqual(config.http_method_ids.mapped("name"), ["POST"])
        self.assertEqual(config.line_ids.mapped("external_key"), ["name", "email", "phone"])
        # The registered domain, kept to the owner's company (and to no company).
        self.assertEqual(config.company_id, self.api_user.company_id)
        self.assertEqual(config._get_filter_domain(), [
            "&", ("is_company", "=", True), "|", ("company_id", "=", False),
            ("company_id", "=", self.api_user.company_id.id)])
        self.assertEqual(sorted(webhook.automation_ids.mapped("trigger")),
                         ["on_create", "on_unlink", "on_write"])
        self.assertTrue(all(a.filter_domain for a in webhook.automation_ids))

    def test_events_queue_payloads_in_the_outbox(self):
        body = self._register({
            "url": "https://example.com/webhook", "events": ["create", "update", "delete"],
            "model": "res.partner", "fields": ["name", "email"],
            "conditions": [["is_company", "=", True]],
        })
        company = self.env["res.partner"].create({"name": "Hook Co", "is_company": True})
        person = self.env["res.partner"].create({"name": "Hook Person"})
        items = self._items(company, "create")
        self.assertEqual(len(items), 1)
        payload = json.loads(items.payload)
        self.assertEqual(payload["event"], "create")
        self.assertEqual(payload["model"], "res.partner")
        self.assertEqual(payload["record_id"], company.id)
        self.assertEqual(payload["data"], {"id": company.id, "name": "Hook Co", "email": None})
        self.assertEqual(payload["changed_fields"], ["email", "name"])
        self.assertRegex(payload["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(payload["metadata"]["database"], self.env.cr.dbname)
        self.assertEqual(payload["metadata"]["webhook_id"], body["webhook_id"])
        self.assertFalse(self._items(person), "outside the conditions: nothing sent")

        company.write({"email": "hook@example.com"})
        update = self._items(company, "update")
        self.assertEqual(len(update), 1)
        payload = json.loads(update.payload)
        self.assertEqual(payload["changed_fields"], ["email"])
        self.assertEqual(payload["data"]["email"], "hook@example.com")

        company_id = company.id
        company.unlink()
        self.env.invalidate_all()
        deleted = self.Outbox.search([("res_ids", "=", str(company_id)),
                                      ("event", "=", "webhook:delete")])
        self.assertEqual(len(deleted), 1)
        self.assertEqual(json.loads(deleted.payload)["data"]["name"], "Hook Co")

    def test_change_through_the_api_and_rollback_sends_nothing(self):
        # "url" belongs to /webhooks; /events/subscribe takes "callback_url".
        self._register({"url": "https://example.com/w", "events": ["record.created"],
                        "model": "res.partner", "callback_url": "https://example.com/cb"},
                       path="events/subscribe", status=400)
        self._register({"callback_url": "https://example.com/cb",
                        "events": ["record.created"], "model": "res.partner",
                        "filters": {"is_company": ["=", True]}}, path="events/subscribe")
        before = self.Outbox.search_count([])
        self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [
                {"method": "create", "data": {"name": "Rolled back", "is_company": True}},
                {"method": "create", "data": {"name": False}},
            ],
            "options": {"transaction": True},
        }), 400, "VALIDATION_ERROR")
        self.env.invalidate_all()
        self.assertEqual(self.Outbox.search_count([]), before)
        body = self.assertJson(self.call("POST", "res.partner", {
            "data": {"name": "Kept", "is_company": True}}), 201)
        partner = self.env["res.partner"].browse(body["id"])
        items = self._items(partner, "record.created")
        self.assertEqual(len(items), 1)
        self.assertEqual(json.loads(items.payload)["metadata"]["user_id"], self.api_user.id)

    def test_state_changed(self):
        body = self._register({"callback_url": "https://example.com/state",
                               "events": ["state.changed"], "model": "mail.mail",
                               "fields": ["subject", "state"]},
                              path="events/subscribe", key=self.admin_key)
        webhook = self.env["bj.api.webhook"].search([("public_id", "=", body["webhook_id"])])
        self.assertEqual(webhook.automation_ids.trigger_field_ids.name, "state")
        mail = self.env["mail.mail"].create({"subject": "Watched", "state": "outgoing"})
        mail.write({"subject": "Still watched"})
        self.assertFalse(self._items(mail), "no state change, no event")
        mail.write({"state": "exception"})
        items = self._items(mail, "state.changed")
        self.assertEqual(len(items), 1)
        payload = json.loads(items.payload)
        self.assertEqual((payload["old_state"], payload["new_state"]), ("outgoing", "exception"))
        body = self._register({"callback_url": "https://example.com/state",
                               "events": ["state.changed"], "model": "res.partner"},
                              path="events/subscribe", status=400)
        self.assertIn("state", body["error"]["message"])

    def _mine_and_theirs(self):
        """Register a webhook with my key and one with another user's: their public ids."""
        mine = self._register({"url": "https://example.com/a", "events": ["create"],
                               "model": "res.partner"})["webhook_id"]
        other_user = self.make_user("whother", "base.group_user")
        other_key = self.make_key(other_user)
        theirs = self._register({"url": "https://example.com/b", "events": ["delete"],
                                 "model": "res.partner"}, key=other_key)["webhook_id"]
        return mine, theirs

    def test_list_shows_own_webhooks_only(self):
        mine, _theirs = self._mine_and_theirs()
        body = self.assertJson(self.call("GET", "webhooks"), 200)
        self.assertEqual([w["webhook_id"] for w in body["webhooks"]], [mine])
        self.assertEqual(body["webhooks"][0]["url"], "https://example.com/a")
        self.assertEqual(body["webhooks"][0]["events"], ["create"])

    def test_somebody_elses_webhook_is_not_found_for_me(self):
        _mine, theirs = self._mine_and_theirs()
        self.assertJson(self.call("DELETE", f"webhooks/{theirs}"), 404, "NOT_FOUND")
        self.env.invalidate_all()
        self.assertTrue(self.env["bj.api.webhook"].search([("public_id", "=", theirs)]))

    def test_delete_removes_the_webhook_its_config_and_automations(self):
        mine, _theirs = self._mine_and_theirs()
        webhook = self.env["bj.api.webhook"].search([("public_id", "=", mine)])
        config, automations = webhook.config_id, webhook.automation_ids
        body = self.assertJson(self.call("DELETE", f"webhooks/{mine}"), 200)
        self.assertEqual(body["webhook_id"], mine)
        self.env.invalidate_all()
        self.assertFalse(webhook.exists())
        self.assertFalse(config.exists())
        self.assertFalse(automations.exists())
        self.assertJson(self.call("DELETE", f"webhooks/{mine}"), 404, "NOT_FOUND")

    def test_a_manager_may_remove_any_webhook(self):
        _mine, theirs = self._mine_and_theirs()
        self.assertJson(self.call("DELETE", f"webhooks/{theirs}", key=self.admin_key), 200)
        self.env.invalidate_all()
        self.assertFalse(self.env["bj.api.webhook"].search([("public_id", "=", theirs)]))

    def test_refusals(self):
        valid = {"url": "https://example.com/a", "events": ["create"], "model": "res.partner"}
        self.assertJson(self.call("POST", "webhooks", valid, auth=False), 401,
                        "AUTHENTICATION_ERROR")
        self.assertJson(self.call("POST", "webhooks", valid, key="wrong"), 401,
                        "AUTHENTICATION_ERROR")
        for change, parameter in (
            ({"url": "ftp://example.com"}, "url"),
            ({"url": None}, "url"),
            ({"events": ["explode"]}, "events"),
            ({"events": []}, "events"),
            ({"model": "no.such.model"}, "model"),
            ({"fields": ["nope"]}, "fields"),
            ({"conditions": [["nope", "=", 1]]}, "domain"),
            ({"authentication": {"type": "bearer"}}, "authentication"),
            ({"extra": 1}, "body"),
        ):
            with self.subTest(change=change):
                body = self.assertJson(self.call("POST", "webhooks", {**valid, **change}),
                                       400, "VALIDATION_ERROR")
                self.assertEqual(body["error"]["details"]["parameter"], parameter)
        # A user who may not read the model may not subscribe to it.
        self.assertJson(self.call("POST", "webhooks", {**valid, "model": "bj.api.log"}), 403,
                        "PERMISSION_DENIED")
        response = self.call("PUT", "webhooks", valid)
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "GET, POST")
        self.assertFalse(self.env["bj.api.webhook"].search([("user_id", "=", self.api_user.id)]))

    def test_internal_targets_are_refused_unless_allowed(self):
        for url in ("http://127.0.0.1:8069/web", "http://169.254.169.254/latest/meta-data",
                    "http://localhost/hook", "http://10.0.0.7/hook"):
            body = self._register({"url": url, "events": ["create"], "model": "res.partner"},
                                  status=400)
            self.assertEqual(body["error"]["code"], "VALIDATION_ERROR")
            self.assertIn("private network", body["error"]["message"])
            self.assertEqual(body["error"]["details"]["parameter"], "url")
        self.assertFalse(self.env["bj.api.webhook"].search([("config_id.url", "like", "127.0.0.1")]))
        self.env["ir.config_parameter"].sudo().set_param(
            "bj_api_sync.webhook_allow_internal_urls", "True")
        body = self._register({"url": "http://127.0.0.1:9/hook", "events": ["create"],
                               "model": "res.partner"})
        self.assertEqual(body["status"], "active")
