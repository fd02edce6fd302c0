"""OAuth2 client credentials of outbound configurations, against a token server and an
API on 127.0.0.1 (one FaultServer, two paths: ``/oauth/token`` and ``/customers``).

The token cache is written on cursors of its own, committed at once (that is the
point: every worker sees it, a rollback does not lose it), so each test starts
and ends by deleting its configuration's row.
"""
import base64
import threading
from datetime import datetime, timedelta, timezone

import odoo.sql_db
from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..services import oauth2 as oauth2_tokens
from .common import BjApiSyncCase
from .fault_server import FaultServer, Response, refused_url

SECRET = "cs_live_9f8e7d6c5b4a"
TOKEN_PATH = "/oauth/token"
API_PATH = "/customers"


def token_answer(token, expires_in=3600, **extra):
    """A token server's 200 answer."""
    return Response(200, {"access_token": token, "token_type": "Bearer",
                          "expires_in": expires_in, **extra})


INVALID_CLIENT = Response(401, {"error": "invalid_client",
                                "error_description": "Client authentication failed"})


@tagged("post_install", "-at_install")
class TestOutboundOauth2(BjApiSyncCase):
    """Tokens fetched once and shared, refreshed on expiry and after a 401, failures
    reported without secret or token."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Outbox = cls.env["bj.api.outbox"]
        cls.Log = cls.env["bj.api.log"]
        cls.Token = cls.env["bj.api.oauth2.token"]
        cls.partners = cls.env["res.partner"].create([
            {"name": "Azure Interior", "email": "azure@example.com"},
            {"name": "Deco Addict", "email": "deco@example.com"},
            {"name": "Gemini Furniture", "email": "gemini@example.com"},
        ])
        cls.config = cls.make_out_config(
            url=cls.server.url + API_PATH, auth_type="oauth2",
            oauth2_token_url=cls.server.url + TOKEN_PATH, oauth2_client_id="odoo-client",
            oauth2_client_secret=SECRET, oauth2_scope="customers:write",
            max_retries=2, retry_backoff=1.0,
        )
        cls.env["bj.api.sync.config.line"].create([
            {"config_id": cls.config.id, "sequence": 1, "external_key": "name",
             "field_id": cls._field("res.partner", "name").id},
        ])

    def setUp(self):
        super().setUp()
        self.server.clear()
        self.forget()
        self.addCleanup(self.forget)

    # ---------------------------------------------------------------- helpers
    def forget(self):
        oauth2_tokens.forget_now(self.env.cr.dbname, [self.config.id])

    def send(self, records=None):
        return self.Config._make_outbound_http_request(
            records if records is not None else self.partners[0], self.config.id)

    def token_requests(self):
        return [r for r in self.server.requests if r.path == TOKEN_PATH]

    def api_requests(self):
        return [r for r in self.server.requests if r.path == API_PATH]

    def cached_row(self):
        """The cache row as another worker sees it: read on a cursor of its own."""
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT access_token, expires_at, auth_method FROM bj_api_oauth2_token "
                       "WHERE config_id = %s", (self.config.id,))
            return cr.fetchone()

    def expire_cached_token(self):
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("UPDATE bj_api_oauth2_token SET expires_at = %s WHERE config_id = %s",
                       (datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1),
                        self.config.id))

    def assertNothingLeaks(self, *values):
        """Neither the client secret nor ``values`` (tokens) are in a log row or an outbox
        item of the config, in any column."""
        self.env.flush_all()
        for table in ("bj_api_log", "bj_api_outbox"):
            for value in (SECRET, *values):
                self.env.cr.execute(
                    f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s",  # noqa: S608
                    [f"%{value}%"])
                self.assertEqual(self.env.cr.fetchone()[0], 0, f"{value} in {table}")

    # ------------------------------------------------------------------ tests
    def test_token_fetched_once_for_several_sends(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-one")])
        for partner in self.partners:
            self.assertTrue(self.send(partner).success)
        self.assertTrue(self.send(self.partners).success)  # one run of three requests
        self.assertEqual(len(self.token_requests()), 1)
        [fetch] = self.token_requests()
        self.assertEqual(fetch.headers["Content-Type"], "application/x-www-form-urlencoded")
        self.assertEqual(fetch.body, b"grant_type=client_credentials&scope=customers%3Awrite")
        self.assertEqual(base64.b64decode(fetch.headers["Authorization"].split()[1]),
                         f"odoo-client:{SECRET}".encode())
        sent = self.api_requests()
        self.assertEqual(len(sent), 6)
        self.assertEqual({r.headers["Authorization"] for r in sent}, {"Bearer tok-one"})
        logs = self.Log.search([("config_id", "=", self.config.id)])
        self.assertEqual(len(logs), 6)
        self.assertIn("Authorization: Bearer ********", logs[0].request_headers)
        self.assertNothingLeaks("tok-one")

    def test_cache_row_is_shared_and_survives_a_rollback(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-shared")])
        with self.env.cr.savepoint(flush=False) as savepoint:
            self.assertTrue(self.send().success)
            savepoint.rollback()  # the delivery's transaction is undone, the token stays
        token, expires_at, method = self.cached_row()
        self.assertEqual(token, "tok-shared")
        self.assertEqual(method, "client_secret_basic")
        expected = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=3570)
        self.assertLess(abs((expires_at - expected).total_seconds()), 5)
        # Another worker: its own cursor and environment read the same row, through the ORM.
        with self.env.registry.cursor() as cr:
            other = api.Environment(cr, SUPERUSER_ID, {})["bj.api.oauth2.token"]
            row = other.search([("config_id", "=", self.config.id)])
            self.assertEqual(row.access_token, "tok-shared")
        # And this worker's next run uses it: no second token request.
        self.assertTrue(self.send(self.partners[1]).success)
        self.assertEqual(len(self.token_requests()), 1)

    def test_expired_token_is_fetched_again(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-old"), token_answer("tok-new")])
        self.assertTrue(self.send().success)
        self.expire_cached_token()
        self.assertTrue(self.send().success)
        self.assertEqual(len(self.token_requests()), 2)
        self.assertEqual([r.headers["Authorization"] for r in self.api_requests()],
                         ["Bearer tok-old", "Bearer tok-new"])
        self.assertEqual(self.cached_row()[0], "tok-new")

    def test_short_lived_token_is_dropped_at_half_its_life(self):
        # 20 s of life: dropped at half its life (10 s), so still used right away...
        self.server.script(TOKEN_PATH, [token_answer("tok-short", expires_in=20),
                                        token_answer("tok-next", expires_in=25)])
        self.assertTrue(self.send().success)
        self.assertTrue(self.send().success)
        self.assertEqual(len(self.token_requests()), 1)
        # ...and the cached row expires 10 s after the fetch, not 30 s before its end
        # (which would be before it was fetched); a long token's 30 s margin is
        # checked in tests/pure/test_oauth2.py.
        _token, expires_at, _method = self.cached_row()
        left = (expires_at - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds()
        self.assertTrue(0 < left <= 10, left)

    def test_401_fetches_a_new_token_and_repeats_the_request_once(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-revoked"), token_answer("tok-fresh")])
        self.server.script(API_PATH, [Response(401, {"error": "invalid_token"}),
                                      Response(201, {"id": 7})])
        result = self.send()
        self.assertTrue(result.success, result)
        self.assertEqual(result.status_code, 201)
        first, second = self.api_requests()
        self.assertEqual(first.headers["Authorization"], "Bearer tok-revoked")
        self.assertEqual(second.headers["Authorization"], "Bearer tok-fresh")
        self.assertEqual(first.idempotency_key, second.idempotency_key)
        self.assertEqual(first.body, second.body)
        self.assertEqual(len(self.token_requests()), 2)
        self.assertEqual(self.cached_row()[0], "tok-fresh")
        [log] = self.Log.search([("config_id", "=", self.config.id)])
        self.assertEqual((log.state, log.status_code), ("success", 201))
        self.assertFalse(result.outbox_ids)
        self.assertNothingLeaks("tok-revoked", "tok-fresh")

    def test_a_second_401_is_the_answer(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-a"), token_answer("tok-b")])
        self.server.script(API_PATH, [Response(401, "no"), Response(401, "still no")])
        result = self.send()
        self.assertEqual((result.state, result.status_code), ("failed", 401))
        self.assertEqual(len(self.api_requests()), 2)
        self.assertEqual(len(self.token_requests()), 2)
        item = self.Outbox.browse(result.outbox_ids)
        self.assertEqual((item.state, item.attempt_count, item.last_status_code),
                         ("failed", 1, 401))

    def test_outbox_worker_refreshes_after_a_401_too(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-w1"), token_answer("tok-w2")])
        self.server.script(API_PATH, [Response(401), Response(200, {"id": 1})])
        items = self.Outbox._enqueue(self.config, self.partners[0], "manual")
        self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(items.state, "done")
        self.assertEqual([r.headers["Authorization"] for r in self.api_requests()],
                         ["Bearer tok-w1", "Bearer tok-w2"])
        self.assertEqual({r.idempotency_key for r in self.api_requests()},
                         {items.idempotency_key})
        self.assertNothingLeaks("tok-w1", "tok-w2")

    def test_one_worker_run_keeps_its_token_across_groups(self):
        """The run's factory serves every group: one token for them all; a 401 in a
        later group still fetches a new one once, and both are masked."""
        self.server.script(TOKEN_PATH, [token_answer("tok-g1"), token_answer("tok-g2")])
        self.server.script(API_PATH, [Response(200, {"id": 1}), Response(401),
                                      Response(200, {"id": 2}), Response(200, {"id": 3})])
        items = self.Outbox._enqueue(self.config, self.partners, "manual")
        self.assertEqual(self.Outbox._cron_deliver(group_size=1), 3)
        self.assertEqual(items.mapped("state"), ["done"] * 3)
        self.assertEqual([r.headers["Authorization"] for r in self.api_requests()],
                         ["Bearer tok-g1", "Bearer tok-g1", "Bearer tok-g2", "Bearer tok-g2"])
        self.assertEqual(len(self.token_requests()), 2)
        self.assertNothingLeaks("tok-g1", "tok-g2")

    def test_wrong_secret_fails_clearly_without_the_secret(self):
        self.server.script(TOKEN_PATH, [INVALID_CLIENT, INVALID_CLIENT])
        with mute_logger("odoo.addons.bj_api_sync.engine.oauth2"):
            result = self.send()
        self.assertEqual(result.state, "failed")
        expected = (f"OAuth2 token request to {self.server.url}{TOKEN_PATH} failed: 401 "
                    "invalid_client: Client authentication failed")
        self.assertTrue(result.error.startswith(expected), result.error)
        self.assertFalse(self.api_requests(), "nothing is sent to the API without a token")
        self.assertEqual(len(self.token_requests()), 2)  # basic, then post
        item = self.Outbox.browse(result.outbox_ids)
        self.assertEqual(item.state, "failed")
        self.assertTrue(item.last_error.startswith(expected))
        [log] = self.Log.search([("config_id", "=", self.config.id)])
        self.assertEqual(log.state, "failed")
        self.assertTrue(log.error_message.startswith(expected))
        self.assertNothingLeaks()
        self.assertFalse(self.cached_row(), "a failed fetch stores nothing")

    def test_token_server_down_is_retried_then_delivered(self):
        self.config.oauth2_token_url = refused_url() + TOKEN_PATH
        result = self.send()
        self.assertEqual(result.state, "retrying")
        self.assertIn("OAuth2 token request to http://127.0.0.1:", result.error)
        self.assertIn("Connection error", result.error)
        item = self.Outbox.browse(result.outbox_ids)
        self.assertEqual((item.state, item.attempt_count), ("retrying", 1))
        # The token server is back: the outbox worker's next attempt gets a token.
        self.config.oauth2_token_url = self.server.url + TOKEN_PATH
        self.server.script(TOKEN_PATH, [token_answer("tok-back")])
        item.next_attempt_at = datetime.now(timezone.utc).replace(tzinfo=None)
        self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(item.state, "done")
        [sent] = self.api_requests()
        self.assertEqual(sent.headers["Authorization"], "Bearer tok-back")

    def test_token_server_error_is_retried_with_its_retry_after(self):
        self.server.script(TOKEN_PATH, [Response(503, "maintenance",
                                                 headers={"Retry-After": "30"})])
        result = self.send()
        self.assertEqual(result.state, "retrying")
        self.assertIn("failed: HTTP 503 - maintenance", result.error)
        item = self.Outbox.browse(result.outbox_ids)
        wait = (item.next_attempt_at - datetime.now(timezone.utc).replace(tzinfo=None))
        self.assertGreater(wait.total_seconds(), 25)

    def test_basic_refused_falls_back_to_post_and_remembers_it(self):
        self.server.script(TOKEN_PATH, [INVALID_CLIENT, token_answer("tok-post"),
                                        token_answer("tok-post-2")])
        with mute_logger("odoo.addons.bj_api_sync.engine.oauth2"):
            self.assertTrue(self.send().success)
        basic, post = self.token_requests()
        self.assertIn("Authorization", basic.headers)
        self.assertNotIn("Authorization", post.headers)
        self.assertIn(f"client_secret={SECRET}".encode(), post.body)
        self.assertEqual(self.cached_row()[2], "client_secret_post")
        self.expire_cached_token()
        self.assertTrue(self.send().success)
        third = self.token_requests()[2]
        self.assertNotIn("Authorization", third.headers, "the method that worked comes first")
        self.assertEqual(len(self.token_requests()), 3)
        self.assertNothingLeaks("tok-post", "tok-post-2")

    def test_new_settings_invalidate_the_cached_token(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-1"), token_answer("tok-2")])
        self.assertTrue(self.send().success)
        self.config.oauth2_scope = "customers:write orders:read"
        self.assertTrue(self.send().success)
        self.assertEqual(len(self.token_requests()), 2)
        self.assertIn(b"orders%3Aread", self.token_requests()[1].body)
        self.assertEqual(self.api_requests()[1].headers["Authorization"], "Bearer tok-2")

    def test_token_echoed_by_the_api_is_masked(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-echoed-123")])
        self.server.script(API_PATH, [Response(200, "you sent Bearer tok-echoed-123 as "
                                                    "tok-echoed-123")])
        self.assertTrue(self.send().success)
        self.assertNothingLeaks("tok-echoed-123")

    def test_token_echoed_in_an_error_is_masked_in_the_queue_item_and_the_result(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-in-error-456")])
        self.server.script(API_PATH, [Response(400, "bad request with tok-in-error-456")])
        result = self.send()
        self.assertEqual((result.state, result.status_code), ("failed", 400))
        self.assertNotIn("tok-in-error-456", result.error)
        self.assertIn("bad request with ********", result.error)
        self.assertNothingLeaks("tok-in-error-456")

    def test_headers_tab_authorization_does_not_replace_the_token(self):
        self.env["bj.api.sync.header"].create({"config_id": self.config.id,
                                               "key": "authorization", "value": "Basic xyz"})
        self.server.script(TOKEN_PATH, [token_answer("tok-wins")])
        self.assertTrue(self.send().success)
        [sent] = self.api_requests()
        self.assertEqual(sent.headers["Authorization"], "Bearer tok-wins")

    def test_connection_test_says_what_the_token_server_answered(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-test", scope="customers:write")])
        action = self.config.action_test_connection()
        message = action["params"]["message"]
        self.assertIn(f"Token server {self.server.url}{TOKEN_PATH} answered HTTP 200, "
                      "token_type Bearer, expires_in 3600 s, scope 'customers:write' "
                      "(client_secret_basic).", message)
        self.assertIn("Connected: HTTP 200", message)
        self.assertEqual(action["params"]["type"], "success")
        self.assertNotIn("tok-test", message)
        [head] = self.api_requests()
        self.assertEqual((head.method, head.headers["Authorization"]),
                         ("HEAD", "Bearer tok-test"))
        self.assertEqual(len(self.token_requests()), 1)
        [log] = self.Log.search([("config_id", "=", self.config.id)])
        self.assertTrue(log.is_connection_test)
        self.assertIn("answered HTTP 200, token_type Bearer", log.summary)
        self.assertNothingLeaks("tok-test")

    def test_connection_test_fetches_a_new_token_even_when_one_is_cached(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-c1"), token_answer("tok-c2",
                                                                            expires_in=None)])
        self.assertTrue(self.send().success)
        message = self.config.action_test_connection()["params"]["message"]
        self.assertIn("no expires_in (kept 300 s)", message)
        self.assertEqual(len(self.token_requests()), 2)
        self.assertEqual(self.api_requests()[-1].headers["Authorization"], "Bearer tok-c2")

    def test_connection_test_with_a_wrong_secret(self):
        self.server.script(TOKEN_PATH, [INVALID_CLIENT, INVALID_CLIENT])
        with mute_logger("odoo.addons.bj_api_sync.engine.oauth2"):
            action = self.config.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("401 invalid_client: Client authentication failed",
                      action["params"]["message"])
        self.assertNotIn(SECRET, action["params"]["message"])
        self.assertFalse(self.api_requests())
        [log] = self.Log.search([("config_id", "=", self.config.id)])
        self.assertTrue(log.is_connection_test)
        self.assertEqual((log.state, log.status_code), ("failed", 401))
        self.assertNothingLeaks()

    def race_for_a_token(self):
        """Two workers ask for the token at the same moment; return what each got."""
        sources = [oauth2_tokens.TokenSource(self.config, timeout=(2.0, 5.0)) for _i in range(2)]
        barrier = threading.Barrier(2)
        got, errors = [], []

        def worker(source):
            barrier.wait()
            try:
                got.append(source.access_token())
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(source,)) for source in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        self.assertEqual(errors, [])
        return got

    def test_two_workers_needing_a_first_token_at_once_fetch_it_once(self):
        # The token server takes its time: the second worker comes while the first
        # one is fetching, waits for its row, then reads the first one's token.
        self.server.script(TOKEN_PATH, [
            Response(200, {"access_token": "tok-race", "expires_in": 3600}, delay=0.5),
            token_answer("tok-second-fetch")])
        self.assertEqual(self.race_for_a_token(), ["tok-race", "tok-race"])
        self.assertEqual(len(self.token_requests()), 1)

    def test_two_workers_finding_the_token_expired_fetch_one_new_token(self):
        self.server.script(TOKEN_PATH, [
            token_answer("tok-expiring"),
            Response(200, {"access_token": "tok-race-2", "expires_in": 3600}, delay=0.5),
            token_answer("tok-second-fetch")])
        self.assertTrue(self.send().success)
        self.expire_cached_token()
        # The row exists: the FOR UPDATE lock, not the insert, makes the second one wait.
        self.assertEqual(self.race_for_a_token(), ["tok-race-2", "tok-race-2"])
        self.assertEqual(len(self.token_requests()), 2)

    def test_two_workers_refused_with_the_same_token_fetch_one_new_token(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-stale"), token_answer("tok-renewed"),
                                        token_answer("tok-too-many")])
        first, second = (oauth2_tokens.TokenSource(self.config, timeout=(2.0, 5.0))
                         for _i in range(2))
        self.assertEqual(first.access_token(), "tok-stale")
        self.assertEqual(second.access_token(), "tok-stale")
        # The API answers 401 to both: the first fetches a new token, the second one
        # finds it in the table instead of fetching a third.
        self.assertEqual(first.access_token(refused="tok-stale"), "tok-renewed")
        self.assertEqual(second.access_token(refused="tok-stale"), "tok-renewed")
        self.assertEqual(len(self.token_requests()), 2)

    def test_a_pull_uses_the_token_too(self):
        config = self.make_out_config(
            name="Pull with OAuth2", url=self.server.url + "/customers",
            http_method_ids=[(6, 0, [self.method_get.id])], response_action="import",
            auth_type="oauth2", oauth2_token_url=self.server.url + TOKEN_PATH,
            oauth2_client_id="odoo-client", oauth2_client_secret=SECRET,
        )
        self.addCleanup(oauth2_tokens.forget_now, self.env.cr.dbname, [config.id])
        self.env["bj.api.sync.config.line"].create({
            "config_id": config.id, "external_key": "name", "is_identifier": True,
            "field_id": self._field("res.partner", "name").id})
        self.server.script(TOKEN_PATH, [token_answer("tok-pull-1"), token_answer("tok-pull-2")])
        self.server.script(API_PATH, [Response(401), Response(200, [{"name": "Pulled Ltd"}])])
        summary = config._run_import()
        self.assertEqual(summary["created"], 1, summary)
        self.assertEqual([r.headers["Authorization"] for r in self.api_requests()],
                         ["Bearer tok-pull-1", "Bearer tok-pull-2"])

    # ------------------------------------------------------------- settings
    def test_settings_are_checked(self):
        with self.assertRaisesMessage(ValidationError, "needs Token URL"):
            self.make_out_config(name="No URL", auth_type="oauth2", oauth2_client_id="c",
                                 oauth2_client_secret="s")
        with self.assertRaisesMessage(ValidationError, "absolute http"):
            self.make_out_config(name="Bad URL", auth_type="oauth2", oauth2_token_url="auth/t",
                                 oauth2_client_id="c", oauth2_client_secret="s")
        with self.assertRaisesMessage(ValidationError, "needs Client Secret"):
            self.make_out_config(name="No secret", auth_type="oauth2", oauth2_client_id="c",
                                 oauth2_token_url="https://auth.example.com/t")
        with self.assertRaisesMessage(ValidationError, "for outbound configurations"):
            self.make_in_config(name="In", endpoint="oauth-in", auth_type="oauth2",
                                oauth2_token_url="https://auth.example.com/t",
                                oauth2_client_id="c", oauth2_client_secret="s")

    def test_a_duplicate_fetches_a_token_of_its_own(self):
        self.server.script(TOKEN_PATH, [token_answer("tok-orig"), token_answer("tok-copy")])
        self.assertTrue(self.send().success)
        copy = self.config.copy()
        self.addCleanup(oauth2_tokens.forget_now, self.env.cr.dbname, [copy.id])
        self.assertEqual(copy.sudo().oauth2_client_secret, SECRET)
        self.assertTrue(self.Config._make_outbound_http_request(self.partners[1], copy.id)
                        .success)
        self.assertEqual([r.headers["Authorization"] for r in self.api_requests()],
                         ["Bearer tok-orig", "Bearer tok-copy"])

    def test_secret_is_for_managers_only_and_the_cache_for_nobody(self):
        self.assertEqual(self.config.with_user(self.bj_manager).oauth2_client_secret, SECRET)
        config = self.config.with_user(self.bj_user)
        self.assertEqual(config.oauth2_client_id, "odoo-client")
        with self.assertRaises(AccessError):
            config.read(["oauth2_client_secret"])
        for user in (self.bj_user, self.bj_manager, self.env.ref("base.user_admin")):
            with self.assertRaises(AccessError):
                self.Token.with_user(user).search([])
