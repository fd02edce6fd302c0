"""Inbound ``Idempotency-Key`` through real HTTP calls (CONTRACT section 5).

Under the test registry the claims' own cursors are savepoints of the test
transaction: what two parallel workers do is the end-to-end test's
(tests/e2e/test_inbound_idempotency.py); here each rule is checked once.
"""
import time
import uuid
from datetime import timedelta

import odoo.sql_db
from odoo import fields
from odoo.tests import tagged

from ..engine import ratelimit
from .http_common import BjApiHttpCase

REPLAYED = "Idempotent-Replayed"


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundIdempotency(BjApiHttpCase):
    """Replays, reused keys, callers, what is kept, expiry and purge."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.admin_like = cls.make_user("sys", "base.group_user,base.group_system")
        cls.admin_key = cls.make_key(cls.admin_like)
        cls.countries = cls.make_config(model=cls.country_model, endpoint="res.country",
                                        user_id=cls.admin_like.id)

    def key(self):
        """A fresh Idempotency-Key."""
        return str(uuid.uuid4())

    def post(self, body, idem, path="res.partner", **kw):
        """POST ``body`` with ``Idempotency-Key: idem``."""
        headers = {"Idempotency-Key": idem, **kw.pop("headers", {})}
        return self.call("POST", path, body, headers=headers, **kw)

    def partners(self, name):
        """The partners called ``name`` (after the requests' writes)."""
        self.env.invalidate_all()
        return self.env["res.partner"].with_context(active_test=False).search(
            [("name", "=", name)])

    def rows(self, key):
        """The store's rows of ``key``: ``{state: row dict}``."""
        self.env.cr.execute(
            "SELECT state, status_code, response_body, claimed_at, expires_at, caller, "
            "fingerprint, user_id, config_id FROM bj_api_idempotency_key "
            "WHERE idempotency_key = %s", (key,))
        names = [d[0] for d in self.env.cr.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in self.env.cr.fetchall()}

    # ------------------------------------------------------------------ replay
    def test_replay_gets_the_same_answer_and_writes_nothing(self):
        key, name = self.key(), f"Idem {self.tag}"
        body = {"data": {"name": name, "email": "idem@example.com"}}
        first = self.post(body, key)
        created = self.assertJson(first, 201)
        self.assertNotIn(REPLAYED, first.headers)
        replay = self.post(body, key)
        self.assertJson(replay, 201)
        self.assertEqual(replay.text, first.text)  # byte for byte
        self.assertEqual(replay.headers[REPLAYED], "true")
        self.assertNotEqual(replay.headers["X-Request-Id"], first.headers["X-Request-Id"])
        self.assertEqual(self.partners(name).ids, [created["id"]])
        # The same data with another key order and spacing is the same request.
        again = self.call("POST", "res.partner", headers={"Idempotency-Key": key},
                          raw='{ "data" : {"email": "idem@example.com", "name": "%s"} }' % name)
        self.assertEqual((again.status_code, again.text), (201, first.text))
        self.assertEqual(len(self.partners(name)), 1)
        # The replay is logged, as a replay.
        log = self.log_of(replay)
        self.assertEqual(log.status_code, 201)
        self.assertIn("Idempotent replay of " + first.headers["X-Request-Id"], log.summary)
        self.assertIn(REPLAYED, log.response_headers)
        self.assertFalse(self.log_of(first).summary)
        # What is kept: the answer, for 24 hours, per caller and key.
        done = self.rows(key)["done"]
        self.assertEqual(done["status_code"], 201)
        self.assertEqual(done["response_body"], first.text)
        self.assertEqual(done["user_id"], self.api_user.id)
        self.assertEqual(done["config_id"], self.config.id)
        self.assertAlmostEqual(done["expires_at"] - done["claimed_at"], timedelta(hours=24),
                               delta=timedelta(seconds=1))
        self.assertAlmostEqual(done["claimed_at"], fields.Datetime.now(),
                               delta=timedelta(minutes=5))

    def test_without_the_header_every_call_writes(self):
        name = f"Plain {self.tag}"
        for _call in range(2):
            self.assertJson(self.call("POST", "res.partner", {"data": {"name": name}}), 201)
        self.assertEqual(len(self.partners(name)), 2)

    def test_put_delete_and_batch_are_replayed(self):
        partner = self.env["res.partner"].create({"name": f"Target {self.tag}"})
        key = self.key()
        update = {"data": {"name": f"Renamed {self.tag}"}}
        first = self.call("PUT", f"res.partner/{partner.id}", update,
                          headers={"Idempotency-Key": key})
        self.assertJson(first, 200)
        partner.name = "changed meanwhile"
        partner.env.flush_all()
        replay = self.call("PUT", f"res.partner/{partner.id}", update,
                           headers={"Idempotency-Key": key})
        self.assertEqual((replay.status_code, replay.text), (200, first.text))
        self.assertEqual(replay.headers[REPLAYED], "true")
        self.env.invalidate_all()
        self.assertEqual(partner.name, "changed meanwhile")  # no second write

        key = self.key()
        first = self.call("DELETE", f"res.partner/{partner.id}", headers={"Idempotency-Key": key})
        self.assertJson(first, 200)
        self.assertFalse(partner.exists())
        # The record is gone: without the key this would be a 404.
        replay = self.call("DELETE", f"res.partner/{partner.id}",
                           headers={"Idempotency-Key": key})
        self.assertEqual((replay.status_code, replay.text), (200, first.text))
        self.assertEqual(replay.headers[REPLAYED], "true")

        key, name = self.key(), f"Batch {self.tag}"
        batch = {"operations": [{"method": "create", "data": {"name": name}},
                                {"method": "create", "data": {"name": name}}]}
        first = self.post(batch, key, path="res.partner/batch")
        self.assertJson(first, 200)
        replay = self.post(batch, key, path="res.partner/batch")
        self.assertEqual((replay.status_code, replay.text), (200, first.text))
        self.assertEqual(replay.headers[REPLAYED], "true")
        self.assertEqual(len(self.partners(name)), 2)

    # ---------------------------------------------------------- key misuse
    def test_the_same_key_for_another_request_is_422(self):
        key, name = self.key(), f"First {self.tag}"
        self.assertJson(self.post({"data": {"name": name}}, key), 201)
        other = self.post({"data": {"name": f"Second {self.tag}"}}, key)
        body = self.assertJson(other, 422, "IDEMPOTENCY_KEY_REUSED")
        self.assertIn("Idempotency-Key", body["error"]["message"])
        self.assertNotIn(REPLAYED, other.headers)
        self.assertFalse(self.partners(f"Second {self.tag}"))
        # Another verb or path with the key is another request too.
        partner = self.partners(name)
        self.assertJson(self.call("PUT", f"res.partner/{partner.id}",
                                  {"data": {"name": name}}, headers={"Idempotency-Key": key}),
                        422, "IDEMPOTENCY_KEY_REUSED")
        self.assertJson(self.post({"data": {"name": name}}, key, path="res.partner/batch"),
                        422, "IDEMPOTENCY_KEY_REUSED")
        # The 422 left the first answer as it was.
        replay = self.post({"data": {"name": name}}, key)
        self.assertJson(replay, 201)
        self.assertEqual(replay.headers[REPLAYED], "true")

    def test_a_bad_key_is_a_400(self):
        name = f"Bad key {self.tag}"
        for bad in ("x" * 256, "tab\tinside", "caf\u00e9".encode().decode("latin-1")):
            with self.subTest(key=bad[:20]):
                body = self.assertJson(self.post({"data": {"name": name}}, bad), 400,
                                       "VALIDATION_ERROR")
                self.assertIn("Idempotency-Key", body["error"]["message"])
                self.assertEqual(body["error"]["details"]["header"], "Idempotency-Key")
        self.assertFalse(self.partners(name))

    def test_get_ignores_the_header(self):
        partner = self.env["res.partner"].create({"name": f"Read {self.tag}"})
        for key in (self.key(), "x" * 300):
            response = self.call("GET", f"res.partner/{partner.id}",
                                 headers={"Idempotency-Key": key})
            self.assertJson(response, 200)
            self.assertNotIn(REPLAYED, response.headers)
            self.assertFalse(self.rows(key))
        search = self.call("GET", "res.partner/search?limit=1",
                           headers={"Idempotency-Key": "x" * 300})
        self.assertJson(search, 200)

    # --------------------------------------------------------------- callers
    def test_two_callers_with_one_key_are_independent(self):
        key, name = self.key(), f"Shared key {self.tag}"
        other_user = self.make_user("other", "base.group_user,base.group_partner_manager")
        other_key = self.make_key(other_user)
        first = self.post({"data": {"name": name}}, key)
        second = self.post({"data": {"name": name}}, key, key=other_key)
        self.assertJson(first, 201)
        self.assertJson(second, 201)
        self.assertNotIn(REPLAYED, second.headers)
        self.assertNotEqual(first.json()["id"], second.json()["id"])
        # Another body with that key is fine for the other caller alone.
        third_key = self.make_key(self.make_user("third", "base.group_user,"
                                                 "base.group_partner_manager"))
        third = self.post({"data": {"name": name + " 3"}}, key, key=third_key)
        self.assertJson(third, 201)
        self.assertNotIn(REPLAYED, third.headers)
        self.assertEqual(len(self.partners(name)), 2)
        self.env.cr.execute("SELECT count(DISTINCT caller) FROM bj_api_idempotency_key "
                            "WHERE idempotency_key = %s AND state = 'done'", (key,))
        self.assertEqual(self.env.cr.fetchone()[0], 3)

    def test_a_configs_token_is_its_own_caller(self):
        token_a, token_b = uuid.uuid4().hex, uuid.uuid4().hex
        self.make_config(endpoint="partners-a", bearer_token=token_a)
        self.make_config(endpoint="partners-b", bearer_token=token_b)
        key, name = self.key(), f"Token {self.tag}"
        # Both configs run as the same user; each token is a caller of its config.
        first = self.post({"data": {"name": name}}, key, path="partners-a", key=token_a)
        second = self.post({"data": {"name": name}}, key, path="partners-b", key=token_b)
        self.assertJson(first, 201)
        self.assertJson(second, 201)
        self.assertNotIn(REPLAYED, second.headers)
        self.assertEqual(len(self.partners(name)), 2)
        replay = self.post({"data": {"name": name}}, key, path="partners-a", key=token_a)
        self.assertEqual((replay.status_code, replay.text), (201, first.text))

    # -------------------------------------------------------- what is kept
    def test_a_400_is_kept_and_replayed(self):
        key = self.key()
        body = {"data": {"name": f"Typo {self.tag}", "nme": "typo"}}
        first = self.post(body, key)
        self.assertJson(first, 400, "VALIDATION_ERROR")
        replay = self.post(body, key)
        self.assertEqual((replay.status_code, replay.text), (400, first.text))
        self.assertEqual(replay.headers[REPLAYED], "true")
        # Its body names the first call's trace id, as Stripe's replays do.
        self.assertEqual(replay.json()["error"]["trace_id"], first.headers["X-Request-Id"])
        self.assertEqual(self.rows(key)["done"]["status_code"], 400)
        # A malformed body is answered after the claim too: kept.
        key = self.key()
        first = self.call("POST", "res.partner", raw="{oops", headers={"Idempotency-Key": key})
        self.assertJson(first, 400, "VALIDATION_ERROR")
        replay = self.call("POST", "res.partner", raw="{oops", headers={"Idempotency-Key": key})
        self.assertEqual((replay.status_code, replay.headers[REPLAYED]), (400, "true"))

    def test_a_409_is_not_kept(self):
        key = self.key()
        headers = {"Authorization": f"Bearer {self.admin_key}", "Idempotency-Key": key}
        body = {"data": {"name": f"Land {self.tag}", "code": "BE"}}
        first = self.call("POST", "res.country", body, headers=headers)
        self.assertJson(first, 409, "DUPLICATE_RECORD")
        self.assertFalse(self.rows(key))
        # Once the conflict is gone, the same request with the key runs again.
        self.env.ref("base.be").code = "QQ"
        self.env.flush_all()
        again = self.call("POST", "res.country", body, headers=headers)
        self.assertJson(again, 201)
        self.assertNotIn(REPLAYED, again.headers)
        self.assertEqual(self.rows(key)["done"]["status_code"], 201)

    def test_a_429_is_not_kept(self):
        limited = self.make_config(endpoint="partners-limited", rate_limit_per_minute=1,
                                   rate_limit_per_hour=100)
        self.assertTrue(limited)
        user = self.make_user("limited", "base.group_user,base.group_partner_manager")
        api_key = self.make_key(user)
        bucket = ratelimit.caller_key("key", api_key)
        self.addCleanup(self._clear_bucket, bucket)
        name = f"Limited {self.tag}"
        if time.time() % 60 > 50:  # the two calls in one minute window
            time.sleep(61 - time.time() % 60)
        self.assertJson(self.call("GET", "partners-limited/search?limit=1", key=api_key), 200)
        key = self.key()
        refused = self.post({"data": {"name": name}}, key, path="partners-limited", key=api_key)
        self.assertJson(refused, 429, "RATE_LIMIT_EXCEEDED")
        self.assertFalse(self.rows(key))
        self._clear_bucket(bucket)  # the window is over
        again = self.post({"data": {"name": name}}, key, path="partners-limited", key=api_key)
        self.assertJson(again, 201)
        self.assertNotIn(REPLAYED, again.headers)
        self.assertEqual(len(self.partners(name)), 1)

    def _clear_bucket(self, bucket):
        # The counters are committed on a cursor of their own (inbound_ratelimit).
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("DELETE FROM bj_api_rate_limit WHERE caller_key = %s", (bucket,))

    def test_a_server_error_is_not_kept(self):
        key, name = self.key(), f"Crash {self.tag}"
        with self.assertLogs("odoo.addons.bj_api_sync.services.inbound_errors", "ERROR"), \
                self._failing_create():
            first = self.post({"data": {"name": name}}, key)
        self.assertJson(first, 500, "INTERNAL_ERROR")
        self.assertFalse(self.rows(key))
        again = self.post({"data": {"name": name}}, key)
        self.assertJson(again, 201)
        self.assertNotIn(REPLAYED, again.headers)

    def _failing_create(self):
        from unittest.mock import patch  # pylint: disable=import-outside-toplevel

        from ..services import inbound_crud  # pylint: disable=import-outside-toplevel

        return patch.object(inbound_crud.Resource, "do_create",
                            side_effect=RuntimeError("boom"))

    # ------------------------------------------------------ running claims
    def _running_claim(self, key, body, age=timedelta(0)):
        """Make the claim a first call would hold while running (its worker is elsewhere)."""
        from ..engine import idempotency  # pylint: disable=import-outside-toplevel

        path = "/api/sync/v1/res.partner"
        caller = idempotency.caller_identity(self.config.id, "apikey",
                                             ratelimit.caller_key("key", self.api_key),
                                             self.api_user.id)
        claimed = fields.Datetime.now() - age
        self.env.cr.execute(
            "INSERT INTO bj_api_idempotency_key (caller, idempotency_key, state, fingerprint, "
            "config_id, user_id, http_method, path, trace_id, claimed_at, expires_at) "
            "VALUES (%s, %s, 'running', %s, %s, %s, 'POST', %s, 'req_first000', %s, %s)",
            (caller, key, idempotency.fingerprint("POST", path, [], body.encode()),
             self.config.id, self.api_user.id, path, claimed, claimed + timedelta(hours=24)))

    def test_a_call_while_the_first_runs_is_409_and_not_kept(self):
        key, name = self.key(), f"Running {self.tag}"
        raw = '{"data": {"name": "%s"}}' % name
        self._running_claim(key, raw)
        busy = self.call("POST", "res.partner", raw=raw, headers={"Idempotency-Key": key})
        body = self.assertJson(busy, 409, "IDEMPOTENCY_KEY_IN_USE")
        self.assertEqual(body["error"]["details"], {"header": "Idempotency-Key"})
        self.assertFalse(self.partners(name))
        self.assertEqual(set(self.rows(key)), {"running"})
        # Another body with the running key is a reused key still.
        self.assertJson(self.post({"data": {"name": "other"}}, key), 422,
                        "IDEMPOTENCY_KEY_REUSED")

    def test_a_claim_whose_call_died_is_taken_over(self):
        key, name = self.key(), f"Dead {self.tag}"
        raw = '{"data": {"name": "%s"}}' % name
        self._running_claim(key, raw, age=timedelta(hours=1))
        response = self.call("POST", "res.partner", raw=raw, headers={"Idempotency-Key": key})
        self.assertJson(response, 201)
        self.assertEqual(len(self.partners(name)), 1)
        self.assertEqual(self.rows(key)["done"]["status_code"], 201)

    # ------------------------------------------------------- expiry, purge
    def test_an_expired_key_runs_again(self):
        key, name = self.key(), f"Expired {self.tag}"
        self.assertJson(self.post({"data": {"name": name}}, key), 201)
        self.env.cr.execute(
            "UPDATE bj_api_idempotency_key SET claimed_at = claimed_at - interval '25 hours', "
            "expires_at = expires_at - interval '25 hours' WHERE idempotency_key = %s", (key,))
        again = self.post({"data": {"name": name}}, key)
        self.assertJson(again, 201)
        self.assertNotIn(REPLAYED, again.headers)
        self.assertEqual(len(self.partners(name)), 2)
        # The key is kept again, from now on, and another body is refused again.
        self.assertJson(self.post({"data": {"name": "else"}}, key), 422,
                        "IDEMPOTENCY_KEY_REUSED")

    def test_the_cron_purges_expired_keys(self):
        old, fresh = self.key(), self.key()
        self.assertJson(self.post({"data": {"name": f"Old {self.tag}"}}, old), 201)
        self.assertJson(self.post({"data": {"name": f"Fresh {self.tag}"}}, fresh), 201)
        self.env.cr.execute(
            "UPDATE bj_api_idempotency_key SET expires_at = now() at time zone 'UTC' "
            "- interval '1 minute' WHERE idempotency_key = %s", (old,))
        cron = self.env.ref("bj_api_sync.ir_cron_purge_idempotency_keys")
        self.assertEqual(cron.interval_type, "hours")
        self.assertEqual(cron.numbercall, -1)
        cron.method_direct_trigger()
        self.assertFalse(self.rows(old))
        self.assertIn("done", self.rows(fresh))
        self.assertEqual(self.env["bj.api.idempotency.key"]._cron_purge_expired(), 0)

    def test_an_answer_too_large_is_not_kept(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "bj_api_sync.idempotency_max_kept_chars", 20)
        key, name = self.key(), f"Large {self.tag}"
        body = {"data": {"name": name}}
        first = self.post(body, key)
        self.assertJson(first, 201)
        self.assertIn("too large", self.log_of(first).summary)
        self.assertFalse(self.rows(key))
        # Not kept: the same call with the key runs again (and creates again).
        again = self.post(body, key)
        self.assertJson(again, 201)
        self.assertNotIn(REPLAYED, again.headers)
        self.assertEqual(len(self.partners(name)), 2)

    def test_a_replayed_error_is_logged_with_its_error(self):
        key = self.key()
        first = self.post({"data": {"no_such_field": 1}}, key)
        self.assertEqual(first.status_code, 400)
        replay = self.post({"data": {"no_such_field": 1}}, key)
        self.assertEqual(replay.headers[REPLAYED], "true")
        self.assertEqual(self.log_of(replay).error_message, self.log_of(first).error_message)
        self.assertTrue(self.log_of(replay).error_message.startswith("VALIDATION_ERROR"))

    def test_rows_are_for_administrators_to_read_only(self):
        # The kept answers are raw (the log's copy is masked and truncated): not
        # even a BJ API manager reads them, only Settings administrators.
        self.assertJson(self.post({"data": {"name": f"Acl {self.tag}"}}, self.key()), 201)
        model = self.env["bj.api.idempotency.key"]
        admin = self.make_user("sysadm", "base.group_user,base.group_system")
        manager = self.make_user("mgr", "base.group_user,bj_api_sync.group_bj_api_manager")
        user = self.make_user("usr", "base.group_user,bj_api_sync.group_bj_api_user")
        self.assertTrue(model.with_user(admin).check_access_rights("read",
                                                                   raise_exception=False))
        for operation in ("write", "create", "unlink"):
            self.assertFalse(model.with_user(admin).check_access_rights(
                operation, raise_exception=False))
        for other in (manager, user):
            self.assertFalse(model.with_user(other).check_access_rights(
                "read", raise_exception=False))
