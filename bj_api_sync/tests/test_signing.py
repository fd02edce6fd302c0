"""Signed deliveries (Standard Webhooks) of outbound configurations, against a real
HTTP server on 127.0.0.1, verified with the ``standardwebhooks`` package."""
import json
import time
from datetime import datetime, timedelta, timezone

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..engine import signing
from .common import BjApiSyncCase
from .fault_server import FaultServer, Response

try:  # requirements-test.txt; a missing package fails the tests, never skips them
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    Webhook = WebhookVerificationError = None


@tagged("post_install", "-at_install")
class TestSigning(BjApiSyncCase):
    """Every attempt of a config with a signing secret verifies with standardwebhooks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Outbox = cls.env["bj.api.outbox"]
        cls.Log = cls.env["bj.api.log"]
        cls.partner = cls.env["res.partner"].create({"name": "Zoë Signed", "email": "z@ex.com"})
        cls.secret = signing.generate_secret()
        cls.config = cls.make_out_config(
            url=cls.server.url + "/signed", auth_type="bearer", bearer_token="tok-sign-123",
            max_retries=2, retry_backoff=1.0, signing_secret=cls.secret,
        )
        cls.env["bj.api.sync.config.line"].create([
            {"config_id": cls.config.id, "sequence": 1, "external_key": "name",
             "field_id": cls._field("res.partner", "name").id},
            {"config_id": cls.config.id, "sequence": 2, "external_key": "email",
             "field_id": cls._field("res.partner", "email").id},
        ])

    def setUp(self):
        super().setUp()
        if Webhook is None:
            self.fail("the standardwebhooks package is missing: pip install -r "
                      "requirements-test.txt")
        self.server.clear()

    def send(self, config=None):
        return self.Config._make_outbound_http_request(self.partner, (config or self.config).id)

    def assertVerifies(self, received, secret=None):
        """standardwebhooks accepts ``received`` (its raw body and headers); return the body."""
        return Webhook(secret or self.secret).verify(received.body, dict(received.headers))

    def assertSecretNowhere(self, secret=None):
        """The secret is in no log row and no outbox item of the config."""
        secret = secret or self.secret
        self.env.flush_all()
        for log in self.Log.search([("config_id", "=", self.config.id)]):
            for name in ("url", "request_headers", "request_body", "response_headers",
                         "response_body", "error_message"):
                self.assertNotIn(secret, log[name] or "", f"log {log.id} {name}")
        for item in self.Outbox.search([("config_id", "=", self.config.id)]):
            for name in ("payload", "last_error", "request_url", "idempotency_key"):
                self.assertNotIn(secret, item[name] or "", f"outbox {item.id} {name}")
        # Nor anywhere else in those tables (a column added later included).
        for table in ("bj_api_log", "bj_api_outbox"):
            self.env.cr.execute(
                f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s",  # noqa: S608
                [f"%{secret[6:]}%"])
            self.assertEqual(self.env.cr.fetchone()[0], 0, table)

    def test_a_direct_delivery_verifies_and_tampering_does_not(self):
        result = self.send()
        self.assertTrue(result.success, result)
        [received] = self.server.requests
        self.assertEqual(self.assertVerifies(received), {"name": "Zoë Signed", "email": "z@ex.com"})
        self.assertEqual(received.headers["webhook-id"], received.idempotency_key)
        stamp = int(received.headers["webhook-timestamp"])
        self.assertLess(abs(stamp - time.time()), 5)
        self.assertRegex(received.headers["webhook-signature"], r"^v1,[A-Za-z0-9+/]{43}=$")
        with self.assertRaises(WebhookVerificationError):
            Webhook(self.secret).verify(received.body.replace(b"Signed", b"Forged"),
                                        dict(received.headers))
        with self.assertRaises(WebhookVerificationError):
            Webhook(signing.generate_secret()).verify(received.body, dict(received.headers))
        # The same message signed ten minutes ago: past the library's five minutes.
        old = signing.sign(self.secret, received.headers["webhook-id"], time.time() - 600,
                           received.body)
        # (a correct signature: the library computes the same one for that time)
        stamp_old = datetime.fromtimestamp(int(old["webhook-timestamp"]), tz=timezone.utc)
        self.assertEqual(Webhook(self.secret).sign(old["webhook-id"], stamp_old,
                                                   received.body.decode()),
                         old["webhook-signature"])
        with self.assertRaisesRegex(WebhookVerificationError, "too old"):
            Webhook(self.secret).verify(received.body, old)
        # The log shows the signature (harmless) but never the secret.
        log = self.Log.search([("config_id", "=", self.config.id)])
        self.assertIn(received.headers["webhook-signature"], log.request_headers)
        self.assertSecretNowhere()

    def test_a_retried_outbox_delivery_is_signed_again_with_the_same_id(self):
        self.server.script(None, [Response(503, {}), Response(200, {"ok": 1})])
        result = self.send()
        self.assertEqual(result.state, "retrying")
        item = self.Outbox.browse(result.outbox_ids)
        time.sleep(1.05)  # the retry's timestamp is a later second
        item.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(item.state, "done")
        first, second = self.server.requests
        for received in (first, second):
            self.assertEqual(self.assertVerifies(received)["name"], "Zoë Signed")
            self.assertEqual(received.headers["webhook-id"], item.idempotency_key)
        self.assertGreater(int(second.headers["webhook-timestamp"]),
                           int(first.headers["webhook-timestamp"]))
        self.assertNotEqual(first.headers["webhook-signature"],
                            second.headers["webhook-signature"])
        self.assertEqual(len(self.Log.search([("outbox_id", "=", item.id)])), 2)
        self.assertSecretNowhere()

    def test_a_queued_delivery_is_signed_when_it_is_sent(self):
        item = self.Outbox._enqueue(self.config, self.partner, "test")
        self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(item.state, "done")
        [received] = self.server.requests
        self.assertEqual(self.assertVerifies(received)["email"], "z@ex.com")
        self.assertEqual(received.headers["webhook-id"], item.idempotency_key)
        self.assertSecretNowhere()

    def test_a_config_without_secret_sends_no_signature(self):
        config = self.make_out_config(name="Unsigned", url=self.server.url + "/plain")
        self.assertTrue(self.send(config).success)
        [received] = self.server.requests
        self.assertFalse([h for h in received.headers if h.lower().startswith("webhook-")])

    def test_an_unusable_secret_fails_the_delivery_unsent_and_unquoted(self):
        bad = "whsec_%%not-base64-secret%%"
        config = self.make_out_config(name="Bad secret", url=self.server.url + "/bad",
                                      signing_secret=bad)
        result = self.send(config)
        self.assertFalse(result.success)
        self.assertEqual(self.server.count(), 0)
        log = self.Log.search([("config_id", "=", config.id)])
        self.assertIn("signing secret", log.error_message)
        self.assertNotIn("not-base64-secret", log.error_message)

    def test_generate_signing_secret_for_managers_only(self):
        config = self.make_out_config(name="To sign", url=self.server.url + "/gen")
        action = config.with_user(self.bj_manager).action_generate_signing_secret()
        self.assertEqual(action["tag"], "display_notification")
        first = config.sudo().signing_secret
        self.assertRegex(first, r"^whsec_[A-Za-z0-9+/]{43}=$")
        self.assertGreaterEqual(len(signing.decode_secret(first)), 24)
        action = config.with_user(self.bj_manager).action_generate_signing_secret()
        self.assertIn("replaces the old one", action["params"]["message"])
        self.assertNotEqual(config.sudo().signing_secret, first)
        with self.assertRaises(AccessError):
            config.with_user(self.bj_user).action_generate_signing_secret()
        with self.assertRaises(AccessError):
            config.with_user(self.bj_user).read(["signing_secret"])
        with self.assertRaises(AccessError):
            config.with_user(self.bj_user).write({"signing_secret": "whsec_AAAA"})
        inbound = self.make_in_config(endpoint="signing-in")
        with self.assertRaises(UserError):
            inbound.with_user(self.bj_manager).action_generate_signing_secret()
        self.assertFalse(config.copy().sudo().signing_secret, "copy=False")

    def test_config_form_shows_the_secret_to_managers_only(self):
        arch = self.Config.with_user(self.bj_manager).get_views(
            [(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="signing_secret"', arch)
        self.assertIn('name="action_generate_signing_secret"', arch)
        arch = self.Config.with_user(self.bj_user).get_views(
            [(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("signing_secret", arch)

    def test_the_secret_is_masked_if_it_ever_shows_up(self):
        from ..services import outbound

        self.assertIn(self.secret, outbound.config_secrets(self.config))
        text = json.dumps({"echo": self.secret})
        from ..engine import masking

        self.assertNotIn(self.secret, masking.mask_text(text, outbound.config_secrets(
            self.config)))
