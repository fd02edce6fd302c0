import json
import time
from unittest.mock import patch

import odoo.sql_db
from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from ..engine import ratelimit
from ..services import inbound_crud
from .http_common import BjApiHttpCase


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundErrors(BjApiHttpCase):
    """Error codes, JSON everywhere, trace ids and the log."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.admin_like = cls.make_user("sys", "base.group_user,base.group_system")
        cls.admin_key = cls.make_key(cls.admin_like)
        cls.countries = cls.make_config(model=cls.country_model, endpoint="res.country",
                                        user_id=cls.admin_like.id)
        cls.readonly = cls.make_config(endpoint="partners-ro", methods=("GET",))

    def test_unknown_resource_and_paths_are_json_404(self):
        for path in ("nope", "nope/1", "res.partner/1/extra", "", "res.partner/1/extra/more"):
            with self.subTest(path=path):
                self.assertJson(self.call("GET", path), 404, "NOT_FOUND")
        # A query-string "subpath" does not choose the resource: the path does.
        partner = self.env["res.partner"].create({"name": "not by query"})
        self.assertJson(self.call("GET", f"?subpath=res.partner/{partner.id}"), 404,
                        "NOT_FOUND")
        # Inactive configs are not reachable.
        self.readonly.active = False
        self.assertJson(self.call("GET", "partners-ro/search"), 404, "NOT_FOUND")

    def test_verbs_outside_the_config_are_405_with_allow(self):
        response = self.call("POST", "partners-ro", {"data": {"name": "x"}})
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "")
        response = self.call("POST", "partners-ro/batch", {"operations": []})
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "")
        response = self.call("DELETE", "partners-ro/1")
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "GET, HEAD")
        response = self.call("PATCH", "res.partner/1", {"data": {}})
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "GET, HEAD, PUT, DELETE")
        response = self.call("PUT", "res.partner/search", {"data": {}})
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "GET, HEAD")

    def test_malformed_json_and_wrong_body(self):
        for raw in ("{bad", "", "null", "[1]", '"text"', "\xff\xfe"):
            with self.subTest(raw=raw):
                self.assertJson(self.call("POST", "res.partner", raw=raw), 400,
                                "VALIDATION_ERROR")

    def test_form_content_type_still_read_as_json(self):
        response = self.call("POST", "res.partner", raw=json.dumps({"data": {"name": "Form"}}),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(self.assertJson(response, 201)["data"]["name"], "Form")

    def test_body_too_large_is_413(self):
        self.env["ir.config_parameter"].set_param("bj_api_sync.max_body_bytes", "2000")
        response = self.call("POST", "res.partner", {"data": {"name": "x" * 5000}})
        body = self.assertJson(response, 413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(body["error"]["details"]["maximum"], 2000)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "x" * 5000)]))
        self.assertJson(self.call("POST", "res.partner", {"data": {"name": "small"}}), 201)

    def test_duplicate_is_409_and_rolled_back(self):
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        response = self.call("POST", "res.country", {"data": {"name": f"Land {self.tag}",
                                                              "code": "BE"}},
                             headers=headers)
        self.assertJson(response, 409, "DUPLICATE_RECORD")
        self.assertFalse(self.env["res.country"].search([("name", "=", f"Land {self.tag}")]))
        log = self.log_of(response)
        self.assertEqual((log.state, log.status_code), ("failed", 409))

    def test_archive_without_active_field_is_400(self):
        country = self.env["res.country"].create({"name": f"Tmp {self.tag}", "code": "QQ"})
        body = self.assertJson(self.call(
            "DELETE", f"res.country/{country.id}", {"options": {"archive_instead": True}},
            headers={"Authorization": f"Bearer {self.admin_key}"},
        ), 400, "VALIDATION_ERROR")
        self.assertIn("active", body["error"]["message"])
        self.assertTrue(country.exists())

    def test_user_error_is_400_with_message(self):
        partner = self.env["res.partner"].create({"name": "Parent"})
        body = self.assertJson(self.call("PUT", f"res.partner/{partner.id}",
                                         {"data": {"parent_id": partner.id}}),
                               400, "VALIDATION_ERROR")
        self.assertIn("recursive", body["error"]["message"].lower())

    def test_internal_error_is_500_without_traceback(self):
        partner = self.env["res.partner"].create({"name": "Boom"})

        def boom(*_args, **_kwargs):
            raise RuntimeError("secret internals")

        with patch.object(inbound_crud.Resource, "do_read", boom), \
                self.assertLogs("odoo.addons.bj_api_sync.services.inbound_errors", "ERROR"):
            response = self.call("GET", f"res.partner/{partner.id}")
        body = self.assertJson(response, 500, "INTERNAL_ERROR")
        self.assertNotIn("secret internals", response.text)
        self.assertEqual(body["error"]["message"], "Internal server error")

    def test_trace_id_header_body_and_log_match(self):
        response = self.call("GET", "res.partner/999999999")
        body = self.assertJson(response, 404, "NOT_FOUND")
        log = self.log_of(response)
        self.assertEqual(log.trace_id, body["error"]["trace_id"])
        self.assertEqual(log.direction, "in")
        self.assertEqual(log.http_method, "GET")
        self.assertEqual(log.status_code, 404)
        self.assertEqual(log.state, "failed")
        self.assertEqual(log.config_id, self.config)
        self.assertIn("NOT_FOUND", log.error_message)
        self.assertIn("/api/sync/v1/res.partner/999999999", log.url)

    def test_a_valid_client_request_id_is_reused_and_logged(self):
        response = self.call("GET", "res.partner/search?limit=1",
                             headers={"X-Request-Id": f"req_client{self.tag}"})
        self.assertJson(response, 200)
        self.assertEqual(response.headers["X-Request-Id"], f"req_client{self.tag}")
        log = self.log_of(response)
        self.assertEqual((log.state, log.status_code, log.res_model),
                         ("success", 200, "res.partner"))
        self.assertTrue(log.res_ids)
        self.assertGreater(log.duration_ms, 0)
        self.assertTrue(log.response_body.startswith('{"success":true'))

    def test_an_invalid_client_request_id_is_replaced(self):
        response = self.call("GET", "res.partner/search?limit=1",
                             headers={"X-Request-Id": "evil value; x=1"})
        self.assertNotEqual(response.headers["X-Request-Id"], "evil value; x=1")
        # ... by a trace id of our own, the one of the log row.
        self.assertRegex(response.headers["X-Request-Id"], r"^req_[A-Za-z0-9_-]{8,64}$")
        self.assertEqual(self.log_of(response).state, "success")

    def test_log_of_failed_create_survives_rollback(self):
        response = self.call("POST", "res.partner", {"data": {"name": False}})
        self.assertJson(response, 400, "VALIDATION_ERROR")
        log = self.log_of(response)
        self.assertEqual(log.state, "failed")
        self.assertIn('"name":false', log.request_body)
        response = self.call("POST", "res.partner", {"data": {"name": "Logged"}})
        body = self.assertJson(response, 201)
        self.assertEqual(self.log_of(response).res_ids, str(body["id"]))

    def test_no_html_anywhere(self):
        requests = [
            ("GET", "nope", None), ("POST", "nope", "x"), ("PATCH", "res.partner", None),
            ("OPTIONS", "res.partner", None), ("GET", "", None), ("GET", "res.partner/x", None),
            ("POST", "res.partner", "{"), ("GET", "res.partner/search?domain=((", None),
            ("DELETE", "res.partner", None), ("GET", "webhooks/zzz/extra", None),
            ("HEAD", "nope", None),
        ]
        for method, path, raw in requests:
            for auth in (True, False):
                with self.subTest(method=method, path=path, auth=auth):
                    response = self.call(method, path, raw=raw, auth=auth)
                    self.assertGreaterEqual(response.status_code, 400)
                    self.assertTrue(response.headers["Content-Type"].startswith(
                        "application/json"), response.headers["Content-Type"])
                    self.assertNotIn("<html", response.text.lower())
                    if method != "HEAD":
                        self.assertIs(response.json()["success"], False)


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundRateLimit(BjApiHttpCase):
    """Per-caller limits shared through PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config(rate_limit_per_minute=3, rate_limit_per_hour=100)

    def test_limit_headers_and_429(self):
        # Stay inside one minute window so the counts are predictable.
        if time.time() % 60 > 50:
            time.sleep(61 - time.time() % 60)
        self.api_key = self.make_key(
            self.make_user("fresh", "base.group_user,base.group_partner_manager"))
        first = self.call("GET", "res.partner/search?limit=1")
        self.assertJson(first, 200)
        self.assertEqual(first.headers["X-RateLimit-Limit"], "3")
        self.assertEqual(first.headers["X-RateLimit-Remaining"], "2")
        reset = int(first.headers["X-RateLimit-Reset"])
        self.assertGreater(reset, time.time())
        self.assertLessEqual(reset, time.time() + 61)
        # A failed (rolled back) request counts too.
        failed = self.call("POST", "res.partner", {"data": {"name": False}})
        self.assertJson(failed, 400, "VALIDATION_ERROR")
        self.assertEqual(failed.headers["X-RateLimit-Remaining"], "1")
        self.assertJson(self.call("GET", "res.partner/search?limit=1"), 200)
        refused = self.call("GET", "res.partner/search?limit=1")
        self.assertJson(refused, 429, "RATE_LIMIT_EXCEEDED")
        self.assertEqual(refused.headers["X-RateLimit-Remaining"], "0")
        self.assertGreaterEqual(int(refused.headers["Retry-After"]), 1)
        self.assertLessEqual(int(refused.headers["Retry-After"]), 60)
        # Another caller has its own bucket.
        other = self.make_key(self.make_user("other", "base.group_user"))
        self.assertJson(self.call("GET", "res.partner/search?limit=1", key=other), 200)

    def test_failed_authentication_is_limited_per_address(self):
        self.config.rate_limit_per_minute = 2
        statuses = []
        for _attempt in range(4):
            response = self.call("GET", "res.partner/search?limit=1", key="guess")
            statuses.append(response.status_code)
            if response.status_code == 429:
                self.assertJson(response, 429, "RATE_LIMIT_EXCEEDED")
                self.assertGreaterEqual(int(response.headers["Retry-After"]), 1)
                break
            self.assertJson(response, 401, "AUTHENTICATION_ERROR")
        self.assertEqual(statuses[-1], 429, statuses)
        # The right credentials are counted in their own bucket.
        good = self.make_key(self.make_user("good", "base.group_user"))
        self.assertJson(self.call("GET", "res.partner/search?limit=1", key=good), 200)

    def test_counters_are_in_the_database_and_purged(self):
        self.assertJson(self.call("GET", "res.partner/search?limit=1"), 200)
        bucket = ratelimit.caller_key("key", self.api_key)
        # The counters are committed on their own cursor: the test transaction's
        # snapshot does not see them, a new cursor does.
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT window_name, count FROM bj_api_rate_limit WHERE caller_key = %s",
                       (bucket,))
            self.assertEqual(dict(cr.fetchall()), {"minute": 1, "hour": 1})
            cr.execute("UPDATE bj_api_rate_limit SET expires_at = 0 WHERE caller_key = %s",
                       (bucket,))
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.assertGreaterEqual(env["bj.api.rate.limit"]._cron_purge_windows(), 2)
            cr.execute("SELECT count(*) FROM bj_api_rate_limit WHERE caller_key = %s",
                       (bucket,))
            self.assertEqual(cr.fetchone()[0], 0)


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundOpenApi(BjApiHttpCase):
    """openapi.json describes what the caller reaches and is a valid document."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.public = cls.make_config(model=cls.country_model, endpoint="countries",
                                     methods=("GET",), auth_type="none")
        cls.hidden = cls.make_config(
            model=cls.env["ir.model"]._get("bj.api.log"), endpoint="logs", methods=("GET",),
        )

    def test_document_is_valid_and_scoped(self):
        from openapi_spec_validator import validate

        response = self.opener.get(self.base_url() + "/api/sync/v1/openapi.json",
                                   headers={"Authorization": f"Bearer {self.api_key}"},
                                   timeout=60)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("application/json"))
        document = response.json()
        validate(document)
        paths = document["paths"]
        self.assertIn("/api/sync/v1/res.partner", paths)
        self.assertIn("/api/sync/v1/res.partner/{id}", paths)
        self.assertEqual(set(paths["/api/sync/v1/res.partner/{id}"]) - {"parameters"},
                         {"get", "put", "delete"})
        self.assertIn("/api/sync/v1/countries/search", paths)
        self.assertNotIn("post", paths.get("/api/sync/v1/countries", {}))
        # The API user may not read bj.api.log: the resource is not described.
        self.assertNotIn("/api/sync/v1/logs/search", paths)
        # Without credentials, only auth "none" resources.
        response = self.opener.get(self.base_url() + "/api/sync/v1/openapi.json", timeout=60)
        document = response.json()
        validate(document)
        self.assertIn("/api/sync/v1/countries/search", document["paths"])
        self.assertNotIn("/api/sync/v1/res.partner/search", document["paths"])
        response = self.opener.get(self.base_url() + "/api/sync/v1/openapi.json",
                                   headers={"Authorization": "Bearer wrong"}, timeout=60)
        self.assertJson(response, 401, "AUTHENTICATION_ERROR")


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundBusinessErrors(BjApiHttpCase):
    """Odoo's business exceptions and the config's own mapping errors are clear JSON
    answers, never an internal error with a traceback."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        field = cls.env["ir.model.fields"]._get
        cls.scripted = cls.make_config(
            endpoint="scripted", methods=("GET",),
            line_ids=[
                (0, 0, {"external_key": "full_name",
                        "field_id": field("res.partner", "name").id}),
                (0, 0, {"external_key": "ratio", "value_type": "python",
                        "python_code": "1 / 0"}),
            ],
        )

    def test_redirect_warning_is_400_with_odoo_message(self):
        # A user who may manage users gets Odoo's RedirectWarning (no UserError)
        # when deleting a contact linked to a user.
        manager = self.make_user(
            "redir", "base.group_user,base.group_partner_manager,base.group_erp_manager")
        linked = self.make_user("linked", "base.group_user")
        response = self.call("DELETE", f"res.partner/{linked.partner_id.id}",
                             key=self.make_key(manager))
        body = self.assertJson(response, 400, "VALIDATION_ERROR")
        self.assertIn("linked to an active user", body["error"]["message"])
        self.assertTrue(linked.partner_id.exists())

    def test_business_exceptions_map_to_their_codes(self):
        from odoo.exceptions import (
            AccessDenied,
            AccessError,
            MissingError,
            RedirectWarning,
            UserError,
            ValidationError,
        )

        from ..services import inbound_errors

        for exc, code in (
            (UserError("u"), "VALIDATION_ERROR"), (ValidationError("v"), "VALIDATION_ERROR"),
            (RedirectWarning("r", 1, "Go"), "VALIDATION_ERROR"),
            (AccessError("a"), "PERMISSION_DENIED"), (AccessDenied(), "PERMISSION_DENIED"),
            (MissingError("m"), "NOT_FOUND"),
        ):
            with self.subTest(exc=type(exc).__name__):
                error = inbound_errors.to_api_error(exc)
                self.assertEqual(error.code, code)
                self.assertEqual(error.message, exc.args[0])

    def test_mapping_script_error_on_read_names_the_line(self):
        partner = self.env["res.partner"].create({"name": "Scripted"})
        line = self.scripted.line_ids.filtered(lambda li: li.external_key == "ratio")
        with self.assertNoLogs("odoo.addons.bj_api_sync.services.inbound_errors", "ERROR"), \
                self.assertLogs("odoo.addons.bj_api_sync.services.inbound_crud",
                                "WARNING") as logged:
            response = self.call("GET", f"scripted/{partner.id}")
        body = self.assertJson(response, 500, "INTERNAL_ERROR")
        self.assertEqual(body["error"]["details"]["line_id"], line.id)
        self.assertEqual(body["error"]["details"]["config_id"], self.scripted.id)
        self.assertIn("ZeroDivisionError", body["error"]["message"])
        self.assertIn("line 2 (ratio)", body["error"]["message"])
        # the cause's own text stays in the server log
        self.assertNotIn("division by zero", body["error"]["message"])
        self.assertIn("division by zero", "\n".join(logged.output))
        self.assertNotIn("Traceback", "\n".join(logged.output))
        # Keys without the failing line still answer.
        body = self.assertJson(self.call("GET", f"scripted/{partner.id}?fields=full_name"), 200)
        self.assertEqual(body["data"], {"id": partner.id, "full_name": "Scripted"})

    def test_nul_character_is_400_not_500(self):
        body = self.assertJson(self.call("POST", "res.partner", {"data": {"name": "a\x00b"}}),
                               400, "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["errors"][0]["field"], "name")
        self.assertJson(self.call("GET", 'res.partner/search?domain=[["name","=","a\\u0000"]]'),
                        400, "VALIDATION_ERROR")


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundOpenApiExamples(BjApiHttpCase):
    """The document's examples and required keys come from the resource's own keys."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        field = cls.env["ir.model.fields"]._get
        cls.mapped = cls.make_config(
            endpoint="mapped",
            line_ids=[
                (0, 0, {"external_key": "full_name",
                        "field_id": field("res.partner", "name").id}),
                (0, 0, {"external_key": "email_address",
                        "field_id": field("res.partner", "email").id}),
                (0, 0, {"external_key": "lang", "field_id": field("res.partner", "lang").id}),
            ],
            param_ids=[(0, 0, {"key": "mail", "field_id": field("res.partner", "email").id,
                               "operator": "="})],
        )
        cls.partner = cls.env["res.partner"].create({"name": f"Example {cls.tag}"})

    def _document(self):
        response = self.opener.get(self.base_url() + "/api/sync/v1/openapi.json",
                                   headers={"Authorization": f"Bearer {self.api_key}"},
                                   timeout=60)
        self.assertEqual(response.status_code, 200, response.text[:500])
        return response.json()

    def test_examples_are_accepted_by_the_resource(self):
        from openapi_spec_validator import validate

        document = self._document()
        validate(document)
        parameters = document["components"]["parameters"]
        domain = parameters["Mapped.domain"]["example"]
        self.assertEqual(json.loads(domain), [["full_name", "!=", False]])
        fields = parameters["Mapped.fields"]
        self.assertEqual(fields["example"], ["full_name", "email_address"])
        # Keys and the field names the caller may read, nothing else.
        enum = set(fields["schema"]["items"]["enum"])
        self.assertTrue({"id", "full_name", "email_address", "lang", "name", "email"} <= enum)
        self.assertNotIn("customer_rank", enum)
        order = parameters["Mapped.order"]["example"]
        response = self.opener.get(
            self.base_url() + "/api/sync/v1/mapped/search",
            params={"domain": domain, "fields": ",".join(fields["example"]), "order": order},
            headers={"Authorization": f"Bearer {self.api_key}"}, timeout=60)
        body = self.assertJson(response, 200)
        self.assertTrue(body["records"])
        self.assertEqual(set(body["records"][0]), {"id", "full_name", "email_address"})
        body = self.assertJson(self.call(
            "GET", f"mapped/{self.partner.id}?fields={','.join(fields['example'])}"), 200)
        self.assertEqual(body["data"]["full_name"], self.partner.name)

    def test_lines_saved_before_the_key_constraint_do_not_break_the_document(self):
        field = self.env["ir.model.fields"]._get
        legacy = self.make_config(endpoint="legacy", line_ids=[
            (0, 0, {"external_key": "addr.city", "field_id": field("res.partner", "city").id}),
        ])
        # The constraint refuses "addr" next to "addr.city" now: write it as
        # an older database could hold it.
        self.env.cr.execute(
            "INSERT INTO bj_api_sync_config_line (config_id, external_key, field_id, "
            "value_type, sequence, usage) VALUES (%s, 'addr', %s, 'plain', 20, 'request')",
            (legacy.id, field("res.partner", "street").id),
        )
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        with self.assertLogs("odoo.addons.bj_api_sync.services.inbound_openapi", "WARNING"):
            paths = self._document()["paths"]
        self.assertNotIn("/api/sync/v1/legacy/search", paths)
        self.assertIn("/api/sync/v1/mapped/search", paths)

    def test_parameter_filters_are_declared(self):
        document = self._document()
        search = document["paths"]["/api/sync/v1/mapped/search"]["get"]
        inline = [p for p in search["parameters"] if "$ref" not in p]
        self.assertEqual([(p["name"], p["schema"]) for p in inline],
                         [("mail", {"type": "string"})])
        self.partner.email = f"filter{self.tag}@example.com"
        body = self.assertJson(
            self.call("GET", f"mapped/search?mail=filter{self.tag}@example.com"), 200)
        self.assertEqual([r["id"] for r in body["records"]], [self.partner.id])

    def test_required_keys_are_declared(self):
        schemas = self._document()["components"]["schemas"]
        create = schemas["MappedInput"]
        # res.partner's name is required by a CHECK constraint, not by the field;
        # lang has a default.
        self.assertEqual(create["required"], ["full_name"])
        self.assertIs(create["additionalProperties"], False)
        self.assertNotIn("nullable", schemas["MappedUpdate"]["properties"]["full_name"])
        # What the document says is what the API does.
        body = self.assertJson(self.call("POST", "mapped", {"data": {"lang": "en_US"}}),
                               400, "VALIDATION_ERROR")
        self.assertTrue(body["error"]["message"])
