"""Shared fixtures of the inbound API's HTTP tests (real requests through Odoo)."""

import json
import uuid

from odoo.tests.common import HttpCase, new_test_user
from odoo.tools import mute_logger

from ..services import inbound_auth

API = "/api/sync/v1/"


class BjApiHttpCase(HttpCase):
    """An API user with an Odoo API key and helpers to call the inbound API."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = uuid.uuid4().hex[:8]
        cls.methods = {
            name: cls.env.ref(f"bj_api_sync.http_method_{name.lower()}")
            for name in ("GET", "POST", "PUT", "DELETE")
        }
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        cls.country_model = cls.env["ir.model"]._get("res.country")
        cls.api_user = cls.make_user("bot", "base.group_user,base.group_partner_manager")
        cls.api_key = cls.make_key(cls.api_user)

    @classmethod
    def make_user(cls, name, groups, **kw):
        """Create a user with a unique login in ``groups`` (comma list of xml ids)."""
        return new_test_user(cls.env, login=f"bj_{name}_{cls.tag}", groups=groups, **kw)

    @classmethod
    def make_key(cls, user):
        """Return a new Odoo API key of ``user``."""
        return cls.env["res.users.apikeys"].with_user(user)._generate(None, "bj test")

    @classmethod
    def make_config(cls, model=None, methods=("GET", "POST", "PUT", "DELETE"), **vals):
        """Create an active inbound config (no rate limit unless given)."""
        model = model or cls.partner_model
        values = {
            "name": f"API {model.model}",
            "request_type": "in",
            "model_id": model.id,
            "http_method_ids": [(6, 0, [cls.methods[m].id for m in methods])],
            "auth_type": "bearer",
            "user_id": cls.api_user.id,
            "rate_limit_per_minute": 0,
            "rate_limit_per_hour": 0,
        }
        values.update(vals)
        return cls.env["bj.api.sync.config"].create(values)

    def setUp(self):
        super().setUp()
        self.env.registry.clear_cache()
        inbound_auth.clear_cache()
        # Constraint violations are expected answers here, not noise for the log.
        muted = mute_logger("odoo.sql_db")
        muted.__enter__()
        self.addCleanup(muted.__exit__, None, None, None)

    # ------------------------------------------------------------------ calls
    def call(self, method, path, body=None, *, key=None, headers=None, raw=None, auth=True):
        """Send ``method`` to ``/api/sync/v1/<path>``; ``body`` is sent as JSON."""
        hdrs = {"Content-Type": "application/json"}
        if auth:
            hdrs["Authorization"] = f"Bearer {key or self.api_key}"
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.opener.request(
            method, self.base_url() + API + path, data=data, headers=hdrs, timeout=60
        )

    def assertJson(self, response, status, code=None):
        """Assert a JSON answer with ``status`` (and error ``code``); return the body."""
        self.assertEqual(response.status_code, status, response.text[:2000])
        self.assertTrue(
            response.headers.get("Content-Type", "").startswith("application/json"),
            response.headers.get("Content-Type"),
        )
        body = response.json()
        trace = response.headers.get("X-Request-Id", "")
        self.assertRegex(trace, r"^req_[A-Za-z0-9_-]{8,64}$")
        if status >= 400:
            self.assertIs(body["success"], False)
            self.assertEqual(body["error"]["trace_id"], trace)
            if code:
                self.assertEqual(body["error"]["code"], code, body)
            self.assertNotIn("Traceback", response.text)
        else:
            self.assertIs(body["success"], True, body)
        return body

    def log_of(self, response):
        """Return the bj.api.log row of a response (by its X-Request-Id)."""
        self.env.invalidate_all()
        logs = self.env["bj.api.log"].search(
            [("trace_id", "=", response.headers["X-Request-Id"])]
        )
        self.assertEqual(len(logs), 1, "exactly one log row per call")
        return logs
