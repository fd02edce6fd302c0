"""Rate limits of the inbound API: exact counters, headers on every answer, failed
authentications limited before any hash, and a body read no further than its limit."""
import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from unittest.mock import patch
from urllib.parse import urlsplit

import psycopg2
import psycopg2.errors
import psycopg2.pool

import odoo.sql_db
from odoo.addons.base.models import res_users
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from ..engine import ratelimit
from ..services import inbound_auth, inbound_pipeline, inbound_ratelimit
from .http_common import BjApiHttpCase


def _inside_one_minute(margin=10):
    """Wait, if needed, until the current minute window has ``margin`` seconds left."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.5)


class _CountingCryptContext:
    """A passlib CryptContext that counts its ``verify`` calls."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def verify(self, *args, **kwargs):
        self.calls += 1
        return self.inner.verify(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _delete_counters(dbname, bucket):
    with odoo.sql_db.db_connect(dbname).cursor() as cr:
        cr.execute("DELETE FROM bj_api_rate_limit WHERE caller_key = %s", (bucket,))


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestRateLimitCounter(TransactionCase):
    """The shared counter itself: exact under contention, open on an outage only."""

    def test_parallel_hits_are_all_counted(self):
        # Eight workers hitting one caller's counter at once, as a burst does on
        # a prefork server: every hit counts once, none fails.
        dbname = self.env.cr.dbname
        bucket = "test:" + secrets.token_hex(8)
        self.addCleanup(_delete_counters, dbname, bucket)
        windows = ratelimit.windows_for(1000, 10000)
        now = time.time()
        start = threading.Barrier(8)
        seen, errors = [], []

        def worker():
            start.wait(30)
            for _hit in range(3):
                try:
                    seen.append(inbound_ratelimit.hit(dbname, bucket, windows, now)["minute"])
                except psycopg2.Error as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _thread in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(errors, [])
        # Each hit saw its own count: 1 to 24, no hit lost, none counted twice.
        self.assertEqual(sorted(seen), list(range(1, 25)))

    def _check_with(self, exc):
        bucket = "test:" + secrets.token_hex(8)
        with patch.object(inbound_ratelimit, "hit", side_effect=exc):
            return inbound_ratelimit.check(self.env.cr.dbname, bucket, 3, 0)

    def test_outage_lets_the_request_through_and_is_logged(self):
        for exc in (psycopg2.OperationalError("could not connect to server"),
                    psycopg2.pool.PoolError("The Connection Pool Is Full")):
            with self.subTest(exc=exc), \
                    self.assertLogs(inbound_ratelimit.__name__, logging.ERROR) as logs:
                decision = self._check_with(exc)
            self.assertTrue(decision.allowed)
            self.assertEqual(ratelimit.headers(decision), {})
            self.assertIn("Rate-limit counter unavailable", logs.output[0])

    def test_contention_or_a_bug_is_not_let_through(self):
        for exc in (psycopg2.errors.SerializationFailure("could not serialize access"),
                    psycopg2.errors.DeadlockDetected("deadlock detected"),
                    psycopg2.ProgrammingError("relation does not exist")):
            with self.subTest(exc=exc), self.assertRaises(type(exc)):
                self._check_with(exc)


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestRateLimitHeadersEverywhere(BjApiHttpCase):
    """Every answer to an authenticated caller carries its X-RateLimit-* headers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config(endpoint=f"limited-{cls.tag}", methods=("GET", "POST"),
                                     rate_limit_per_minute=7, rate_limit_per_hour=50)

    def setUp(self):
        super().setUp()
        _inside_one_minute()
        # A caller of its own per test: its counts start at 0.
        self.api_key = self.make_key(
            self.make_user(f"fresh{secrets.token_hex(3)}",
                           "base.group_user,base.group_partner_manager"))

    def assertLimits(self, response, limit, remaining):
        self.assertEqual(
            (response.headers.get("X-RateLimit-Limit"),
             response.headers.get("X-RateLimit-Remaining")),
            (str(limit), str(remaining)), dict(response.headers))
        self.assertGreater(int(response.headers["X-RateLimit-Reset"]), time.time())

    def test_unknown_resource_and_path_get_the_default_limits(self):
        default = inbound_pipeline.DEFAULT_PER_MINUTE
        response = self.call("GET", f"nothing-here-{self.tag}/search")
        self.assertJson(response, 404, "NOT_FOUND")
        self.assertLimits(response, default, default - 1)
        response = self.call("GET", "")
        self.assertJson(response, 404, "NOT_FOUND")
        self.assertLimits(response, default, default - 2)
        response = self.call("POST", "openapi.json", {})
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertLimits(response, default, default - 3)

    def test_method_not_allowed_and_other_refusals_get_the_config_limits(self):
        endpoint = f"limited-{self.tag}"
        response = self.call("DELETE", f"{endpoint}/1")
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertLimits(response, 7, 6)
        response = self.call("GET", f"{endpoint}/not-an-id")
        self.assertJson(response, 404, "NOT_FOUND")
        self.assertLimits(response, 7, 5)
        self.env["ir.config_parameter"].set_param(inbound_pipeline.MAX_BODY_PARAM, "100")
        response = self.call("POST", endpoint, {"data": {"name": "x" * 500}})
        self.assertJson(response, 413, "PAYLOAD_TOO_LARGE")
        self.assertLimits(response, 7, 4)
        response = self.call("POST", endpoint, raw="{bad")
        self.assertJson(response, 400, "VALIDATION_ERROR")
        self.assertLimits(response, 7, 3)

    def test_webhook_routes_refusals_carry_the_limits(self):
        default = inbound_pipeline.DEFAULT_PER_MINUTE
        response = self.call("PUT", "webhooks", {})
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertLimits(response, default, default - 1)
        response = self.call("GET", "events/subscribe")
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertLimits(response, default, default - 2)


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestFailedAuthenticationLimitedFirst(BjApiHttpCase):
    """An address over its failure limit gets its 429 before any pbkdf2 work."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config(endpoint=f"guarded-{cls.tag}",
                                     rate_limit_per_minute=5, rate_limit_per_hour=50)

    def setUp(self):
        super().setUp()
        _inside_one_minute()
        self.bucket = "authfail:" + ratelimit.caller_key("ip", "127.0.0.1")
        _delete_counters(self.env.cr.dbname, self.bucket)
        self.addCleanup(_delete_counters, self.env.cr.dbname, self.bucket)
        # A key no stored key starts like: Odoo's own check hashes nothing for it.
        self.wrong_key = secrets.token_hex(20)

    def _failures(self):
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT count FROM bj_api_rate_limit WHERE caller_key = %s "
                       "AND window_name = 'minute' ORDER BY window_start DESC LIMIT 1",
                       (self.bucket,))
            row = cr.fetchone()
        return row[0] if row else 0

    def _fill(self, per_minute):
        """Make the address's failure bucket full for this minute."""
        start = ratelimit.window_start(time.time(), 60)
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute(
                "INSERT INTO bj_api_rate_limit "
                "(caller_key, window_name, window_start, expires_at, count) "
                "VALUES (%s, 'minute', %s, %s, %s) "
                "ON CONFLICT (caller_key, window_name, window_start) "
                "DO UPDATE SET count = GREATEST(bj_api_rate_limit.count, EXCLUDED.count)",
                (self.bucket, start, start + 60, per_minute),
            )

    @contextlib.contextmanager
    def _hashes(self):
        """Count the pbkdf2 verifications, ours and Odoo's own, while inside."""
        counter = _CountingCryptContext(inbound_auth.KEY_CRYPT_CONTEXT)
        with patch.object(inbound_auth, "KEY_CRYPT_CONTEXT", counter), \
                patch.object(res_users, "KEY_CRYPT_CONTEXT", counter):
            yield counter

    def test_webhook_failures_are_counted_and_limited_before_the_hash(self):
        valid = {"url": "https://example.com/a", "events": ["create"], "model": "res.partner"}
        self.assertJson(self.call("POST", "webhooks", valid, key=self.wrong_key), 401,
                        "AUTHENTICATION_ERROR")
        self.assertJson(self.call("GET", "webhooks", auth=False), 401, "AUTHENTICATION_ERROR")
        self.assertEqual(self._failures(), 2)
        self._fill(inbound_pipeline.DEFAULT_PER_MINUTE)
        with self._hashes() as verify:
            response = self.call("POST", "webhooks", valid, key=self.wrong_key)
            self.assertJson(response, 429, "RATE_LIMIT_EXCEEDED")
            self.assertGreaterEqual(int(response.headers["Retry-After"]), 1)
            self.assertJson(self.call("POST", "events/subscribe", valid, key=self.wrong_key),
                            429, "RATE_LIMIT_EXCEEDED")
            self.assertJson(self.call("DELETE", "webhooks/whk_x", key=self.wrong_key), 429,
                            "RATE_LIMIT_EXCEEDED")
            self.assertJson(self.call("GET", "webhooks", auth=False), 429,
                            "RATE_LIMIT_EXCEEDED")
        self.assertEqual(verify.calls, 0)
        self.assertFalse(self.env["bj.api.webhook"].search([("config_id.url", "=", valid["url"])]))

    def test_resource_failures_are_limited_before_the_hash(self):
        endpoint = f"guarded-{self.tag}/search?limit=1"
        attempts = ({"Authorization": f"Bearer {self.wrong_key}"},
                    {"Authorization": "Basic Zm9vOmJhcg=="}, {})
        for headers in attempts:
            self.assertJson(self.call("GET", endpoint, auth=False, headers=headers), 401,
                            "AUTHENTICATION_ERROR")
        self.assertEqual(self._failures(), 3, "each failed attempt counts once")
        self._fill(5)
        with self._hashes() as verify:
            for headers in attempts:
                with self.subTest(headers=headers):
                    response = self.call("GET", endpoint, auth=False, headers=headers)
                    self.assertJson(response, 429, "RATE_LIMIT_EXCEEDED")
        self.assertEqual(verify.calls, 0)
        # A real key from that address is still verified, and served.
        good = self.make_key(self.make_user("good", "base.group_user"))
        self.assertJson(self.call("GET", endpoint, key=good), 200)


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestChunkedBody(BjApiHttpCase):
    """A body without Content-Length is read no further than the limit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].set_param(inbound_pipeline.MAX_BODY_PARAM, "2000")

    def _raw_exchange(self, head, chunk, timeout=20):
        """Send ``head`` and one chunk of a chunked body that never ends; return the answer."""
        # What the test's Opener does before each request: the server's test
        # cursor must see this transaction's pending writes.
        self.cr.flush()
        self.cr.clear()
        url = urlsplit(self.base_url())
        with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
            sock.sendall(head + b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                data = sock.recv(65536)  # times out if the server waits for the rest
                if not data:
                    break
                received += data
            head_part, _sep, body = received.partition(b"\r\n\r\n")
            lines = head_part.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            while len(body) < int(headers.get("Content-Length", 0)):
                data = sock.recv(65536)
                if not data:
                    break
                body += data
        return int(lines[0].split()[1]), headers, body

    def _head(self, method, path):
        return (
            f"{method} /api/sync/v1/{path} HTTP/1.1\r\n"
            f"Host: {urlsplit(self.base_url()).netloc}\r\n"
            f"Authorization: Bearer {self.api_key}\r\n"
            "Content-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()

    def test_chunked_body_over_the_limit_is_413_without_reading_it_all(self):
        name = f"chunked too large {self.tag}"
        chunk = json.dumps({"data": {"name": name, "comment": "x" * 3000}}).encode()
        status, headers, body = self._raw_exchange(self._head("POST", "res.partner"), chunk)
        self.assertEqual(status, 413, body)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        self.assertEqual(headers.get("Connection"), "close")
        answer = json.loads(body)
        self.assertEqual(answer["error"]["code"], "PAYLOAD_TOO_LARGE")
        self.assertEqual(answer["error"]["details"]["maximum"], 2000)
        self.assertEqual(answer["error"]["trace_id"], headers["X-Request-Id"])
        self.assertFalse(self.env["res.partner"].search([("name", "=", name)]))

    def test_body_left_unread_closes_the_connection(self):
        # A GET reads no body, but the rest of this one is still on the line.
        status, headers, body = self._raw_exchange(self._head("GET", "res.partner/search?limit=1"),
                                                   b"x" * 3000)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("Connection"), "close")

    def test_chunked_body_within_the_limit_is_read(self):
        name = f"chunked {self.tag}"
        parts = [b'{"data": ', json.dumps({"name": name}).encode(), b"}"]
        response = self.opener.post(
            self.base_url() + "/api/sync/v1/res.partner", data=iter(parts), timeout=60,
            headers={"Authorization": f"Bearer {self.api_key}",
                     "Content-Type": "application/json"},
        )
        self.assertEqual(self.assertJson(response, 201)["data"]["name"], name)
        self.assertTrue(self.env["res.partner"].search([("name", "=", name)]))
