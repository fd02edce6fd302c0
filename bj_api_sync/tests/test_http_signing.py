"""Webhooks registered with ``"signing": true``: the secret is answered once and the
deliveries verify with the ``standardwebhooks`` package."""
from odoo.tests import tagged

from .fault_server import FaultServer
from .http_common import BjApiHttpCase

try:  # requirements-test.txt; a missing package fails the tests, never skips them
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    Webhook = WebhookVerificationError = None


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestSignedWebhooks(BjApiHttpCase):
    """Registration with signing, the secret's single appearance, verified deliveries."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Outbox = cls.env["bj.api.outbox"]

    def setUp(self):
        super().setUp()
        if Webhook is None:
            self.fail("the standardwebhooks package is missing: pip install -r "
                      "requirements-test.txt")
        # The receiver is on 127.0.0.1: allowed for these tests only.
        self.env["ir.config_parameter"].sudo().set_param(
            "bj_api_sync.webhook_allow_internal_urls", "True")
        self.server.clear()

    def _register(self, body, path="webhooks", status=201):
        response = self.call("POST", path, body)
        return response, self.assertJson(response, status)

    def _deliver(self, name):
        """Create a partner, deliver the queued event; return the request received."""
        partner = self.env["res.partner"].create({"name": name})
        self.env.flush_all()
        items = self.Outbox.search([("res_model", "=", "res.partner"),
                                    ("res_ids", "=", str(partner.id))])
        self.assertEqual(len(items), 1)
        self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(items.state, "done", items.last_error)
        [received] = self.server.requests
        self.assertEqual(received.headers["webhook-id"], items.idempotency_key)
        return received, items

    def test_signing_returns_the_secret_once_and_deliveries_verify(self):
        response, body = self._register({
            "url": self.server.url + "/hook", "events": ["create"], "model": "res.partner",
            "fields": ["name"], "signing": True,
        })
        secret = body["signing_secret"]
        self.assertRegex(secret, r"^whsec_[A-Za-z0-9+/]{43}=$")
        webhook = self.env["bj.api.webhook"].search([("public_id", "=", body["webhook_id"])])
        self.assertEqual(webhook.config_id.sudo().signing_secret, secret)
        # Never again: not in the list, not in the registration's own log row.
        listed = self.assertJson(self.call("GET", "webhooks"), 200)
        self.assertEqual([w["webhook_id"] for w in listed["webhooks"]], [body["webhook_id"]])
        self.assertNotIn(secret, str(listed))
        self.assertNotIn("signing_secret", listed["webhooks"][0])
        log = self.log_of(response)
        self.assertNotIn(secret, log.response_body or "")
        self.assertNotIn(secret[6:], "".join(str(log[f] or "") for f in log._fields
                                             if log._fields[f].type in ("char", "text")))

        received, item = self._deliver("Signed Hook Co")
        payload = Webhook(secret).verify(received.body, dict(received.headers))
        self.assertEqual(payload["event"], "create")
        self.assertEqual(payload["data"]["name"], "Signed Hook Co")
        with self.assertRaises(WebhookVerificationError):
            Webhook(secret).verify(received.body.replace(b"Signed", b"Forged"),
                                   dict(received.headers))
        delivery_logs = self.env["bj.api.log"].search([("outbox_id", "=", item.id)])
        self.assertTrue(delivery_logs)
        for log in delivery_logs:
            self.assertNotIn(secret, (log.request_headers or "") + (log.request_body or ""))
        self.assertNotIn(secret, item.payload or "")

    def test_event_subscriptions_sign_too(self):
        _response, body = self._register({
            "callback_url": self.server.url + "/events", "events": ["record.created"],
            "model": "res.partner", "signing": True,
        }, path="events/subscribe")
        received, _item = self._deliver("Subscribed Signed")
        payload = Webhook(body["signing_secret"]).verify(received.body, dict(received.headers))
        self.assertEqual(payload["event"], "record.created")

    def test_without_signing_no_secret_and_no_signature(self):
        _response, body = self._register({
            "url": self.server.url + "/plain", "events": ["create"], "model": "res.partner",
        })
        self.assertNotIn("signing_secret", body)
        _response, body = self._register({
            "url": self.server.url + "/plain", "events": ["create"], "model": "res.partner",
            "signing": False,
        })
        self.assertNotIn("signing_secret", body)
        webhooks = self.env["bj.api.webhook"].search([("user_id", "=", self.api_user.id)])
        self.assertFalse(any(webhooks.config_id.sudo().mapped("signing_secret")))

    def test_signing_must_be_a_boolean(self):
        _response, body = self._register({
            "url": self.server.url + "/hook", "events": ["create"], "model": "res.partner",
            "signing": "yes",
        }, status=400)
        self.assertEqual(body["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["parameter"], "signing")
        self.assertFalse(self.env["bj.api.webhook"].search([("user_id", "=", self.api_user.id)]))
