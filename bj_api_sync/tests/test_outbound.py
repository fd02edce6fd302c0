import base64
from datetime import datetime, timedelta, timezone

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import BjApiSyncCase
from .fault_server import FaultServer, Response, refused_url


@tagged("post_install", "-at_install")
class OutboundCase(BjApiSyncCase):
    """Outbound deliveries against a real HTTP server on 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Outbox = cls.env["bj.api.outbox"]
        cls.Log = cls.env["bj.api.log"]
        cls.partners = cls.env["res.partner"].create(
            [
                {"name": "Azure Interior", "email": "azure@example.com", "is_company": True,
                 "country_id": cls.env.ref("base.be").id},
                {"name": "Deco Addict", "email": False, "is_company": True},
                {"name": "Private Person", "is_company": False},
            ]
        )
        cls.config = cls.make_out_config(
            url=cls.server.url + "/customers",
            auth_type="bearer",
            bearer_token="sk_live_abc123xyz789",
            max_retries=2,
            retry_backoff=1.0,
        )
        L = cls.env["bj.api.sync.config.line"]
        L.create([
            {"config_id": cls.config.id, "sequence": 1, "external_key": "full_name",
             "field_id": cls._field("res.partner", "name").id},
            {"config_id": cls.config.id, "sequence": 2, "external_key": "email_address",
             "field_id": cls._field("res.partner", "email").id},
            {"config_id": cls.config.id, "sequence": 3, "external_key": "external_id",
             "field_id": cls._field("res.partner", "id").id, "is_identifier": True},
        ])

    def setUp(self):
        super().setUp()
        self.server.clear()

    def send(self, records=None, config=None, **kw):
        config = config or self.config
        return self.Config._make_outbound_http_request(
            records if records is not None else self.partners[0], config.id, **kw
        )

    def outbox_of(self, result):
        return self.Outbox.browse(result.outbox_ids)


class TestOutboundRequests(OutboundCase):
    def test_post_one_record_everything_the_server_receives(self):
        self.env["bj.api.sync.header"].create(
            {"config_id": self.config.id, "key": "X-API-Version", "value": "2.0"}
        )
        self.env["bj.api.sync.param"].create(
            {"config_id": self.config.id, "key": "source", "value": "odoo"}
        )
        self.server.script(None, [Response(201, {"id": "crm-1", "ok": True})])
        partner = self.partners[0]
        result = self.send(partner)
        self.assertTrue(result.success)
        self.assertEqual(result.state, "success")
        self.assertEqual(result.status_code, 201)
        self.assertEqual(result.data, {"id": "crm-1", "ok": True})
        self.assertEqual(result["data"]["id"], "crm-1")
        [req] = self.server.requests
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.path, "/customers")
        self.assertEqual(req.query, {"source": ["odoo"]})
        self.assertEqual(req.headers.get("Authorization"), "Bearer sk_live_abc123xyz789")
        self.assertEqual(req.headers.get("Content-Type"), "application/json")
        self.assertEqual(req.headers.get("X-API-Version"), "2.0")
        self.assertIn("bj_api_sync", req.headers.get("User-Agent"))
        self.assertRegex(req.headers.get("Idempotency-Key"), r"^[0-9a-f]{32}$")
        self.assertEqual(
            req.json,
            {"full_name": "Azure Interior", "email_address": "azure@example.com",
             "external_id": partner.id},
        )
        log = self.Log.browse(result.log_id)
        self.assertEqual(log.state, "success")
        self.assertEqual(log.status_code, 201)
        self.assertEqual(log.direction, "out")
        self.assertEqual(log.http_method, "POST")
        self.assertEqual(log.res_model, "res.partner")
        self.assertEqual(log.res_ids, str(partner.id))
        self.assertEqual(log.attempt, 1)
        self.assertIn('"full_name":"Azure Interior"', log.request_body)
        self.assertIn("crm-1", log.response_body)
        self.assertIn("Authorization: Bearer ********", log.request_headers)
        self.assertFalse(result.outbox_ids)

    def test_secrets_never_reach_the_log(self):
        basic = self.make_out_config(
            name="Basic", url=self.server.url + "/b?api_key=querysecret1", auth_type="basic",
            auth_login="api_user", auth_password="s3cret-pass-word",
        )
        custom = self.make_out_config(
            name="Custom", url=self.server.url + "/c", auth_type="custom",
            header_ids=[(0, 0, {"key": "X-Shop-Access", "value": "tok-very-private-42"})],
        )
        self.server.script(None, [Response(200, {"echo": "s3cret-pass-word"})])
        self.send(config=basic)
        self.send(config=custom)
        self.send()
        requests = self.server.requests
        expected = base64.b64encode(b"api_user:s3cret-pass-word").decode()
        self.assertEqual(requests[0].headers.get("Authorization"), f"Basic {expected}")
        self.assertEqual(requests[1].headers.get("X-Shop-Access"), "tok-very-private-42")
        logs = self.Log.search([("config_id", "in", (basic | custom | self.config).ids)])
        self.assertEqual(len(logs), 3)
        for log in logs:
            text = " ".join(str(log[f] or "") for f in (
                "url", "request_headers", "request_body", "response_headers", "response_body",
                "error_message"))
            for secret in ("s3cret-pass-word", expected, "tok-very-private-42",
                           "sk_live_abc123xyz789", "querysecret1"):
                self.assertNotIn(secret, text, log.config_id.name)
            # ... and the rows hold the calls, masked: an empty row would pass the above.
            name = log.config_id.name
            if name == "Basic":
                self.assertIn("Authorization: Basic ********", log.request_headers)
                self.assertIn("api_key=", log.url)
                self.assertIn("********", log.response_body)  # the echoed password
            elif name == "Custom":
                self.assertIn("X-Shop-Access: ********", log.request_headers)
            else:
                self.assertIn("Authorization: Bearer ********", log.request_headers)

    def test_get_sends_params_and_identifier_in_query_and_no_body(self):
        config = self.make_out_config(
            name="Lookup", url=self.server.url + "/lookup",
            http_method_ids=[(6, 0, self.method_get.ids)],
        )
        self.env["bj.api.sync.param"].create({"config_id": config.id, "key": "v", "value": "2"})
        self.env["bj.api.sync.config.line"].create(
            {"config_id": config.id, "external_key": "ref", "is_identifier": True,
             "field_id": self._field("res.partner", "id").id}
        )
        self.send(self.partners[1], config=config)
        [req] = self.server.requests
        self.assertEqual(req.method, "GET")
        self.assertEqual(req.query, {"v": ["2"], "ref": [str(self.partners[1].id)]})
        self.assertEqual(req.body, b"")
        self.assertIsNone(req.headers.get("Content-Type"))

    def test_delete_carries_identifier(self):
        config = self.make_out_config(
            name="Remover", url=self.server.url + "/remove",
            http_method_ids=[(6, 0, self.method_delete.ids)],
        )
        self.env["bj.api.sync.config.line"].create(
            {"config_id": config.id, "external_key": "ext", "is_identifier": True,
             "field_id": self._field("res.partner", "id").id}
        )
        self.send(self.partners[0], config=config)
        [req] = self.server.requests
        self.assertEqual(req.method, "DELETE")
        self.assertEqual(req.query, {"ext": [str(self.partners[0].id)]})
        self.assertEqual(req.json, {"ext": self.partners[0].id})

    def test_put_method_and_timeout_override(self):
        config = self.make_out_config(
            name="Put", url=self.server.url + "/p", http_method_ids=[(6, 0, self.method_put.ids)]
        )
        self.server.script(None, [Response(200, {}, delay=0.6)])
        result = self.send(config=config, timeout=(1, 0.2))
        self.assertEqual(self.server.requests[0].method, "PUT")
        self.assertEqual(result.state, "retrying")
        self.assertIn("read timeout", result.error.lower())

    def test_filter_domain_selects_records(self):
        self.config.filter_domain = "[('is_company', '=', True)]"
        result = self.send(self.partners)
        self.assertEqual(result.requests, 2)
        names = sorted(r.json["full_name"] for r in self.server.requests)
        self.assertEqual(names, ["Azure Interior", "Deco Addict"])

    def test_no_lines_sends_stored_fields_with_json_nulls_and_iso_dates(self):
        config = self.make_out_config(name="All fields", url=self.server.url + "/all")
        partner = self.partners[1]
        self.send(partner, config=config)
        body = self.server.requests[0].json
        self.assertEqual(body["id"], partner.id)
        self.assertEqual(body["name"], "Deco Addict")
        self.assertIsNone(body["email"])
        self.assertIs(body["is_company"], True)
        self.assertRegex(body["create_date"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
        self.assertNotIn("image_1920", body)  # binary contents are not sent

    def test_relational_mapping_and_python_lines(self):
        country_config = self.make_out_config(
            name="Countries", model_id=self.country_model.id, url=self.server.url + "/x"
        )
        L = self.env["bj.api.sync.config.line"]
        L.create([
            {"config_id": country_config.id, "external_key": "iso",
             "field_id": self._field("res.country", "code").id},
            {"config_id": country_config.id, "external_key": "label",
             "field_id": self._field("res.country", "name").id},
        ])
        config = self.make_out_config(name="Rich", url=self.server.url + "/rich")
        f_country = self._field("res.partner", "country_id")
        L.create([
            {"config_id": config.id, "sequence": 1, "external_key": "address.country",
             "field_id": f_country.id, "value_type": "relational",
             "mapping_config_id": country_config.id},
            {"config_id": config.id, "sequence": 2, "external_key": "address.country_code",
             "field_id": f_country.id, "value_type": "relational",
             "related_path": "country_id.code"},
            {"config_id": config.id, "sequence": 3, "external_key": "shout",
             "field_id": self._field("res.partner", "name").id, "value_type": "python",
             "python_code": "value.upper() + '!'"},
            {"config_id": config.id, "sequence": 4, "external_key": "country_label",
             "field_id": f_country.id, "value_type": "relational_python",
             "related_path": "name", "python_code": "result = 'Country: %s' % value"},
        ])
        self.send(self.partners[0], config=config)
        body = self.server.requests[0].json
        self.assertEqual(body["address"], {"country": {"iso": "BE", "label": "Belgium"},
                                           "country_code": "BE"})
        self.assertEqual(body["shout"], "AZURE INTERIOR!")
        self.assertEqual(body["country_label"], "Country: Belgium")

    def test_script_error_names_config_line_and_record(self):
        config = self.make_out_config(name="Broken", url=self.server.url + "/b")
        self.env["bj.api.sync.config.line"].create(
            {"config_id": config.id, "external_key": "boom", "value_type": "python",
             "python_code": "1 / 0"}
        )
        partner = self.partners[0]
        with self.assertRaisesMessage(
            UserError, rf'config "Broken", line 1 \(boom\), record res.partner\({partner.id}\)'
        ):
            self.send(partner, config=config)
        self.assertEqual(self.server.count(), 0)

    def test_script_error_does_not_carry_the_script(self):
        # safe_eval quotes the whole script in its error: a secret in it must
        # not reach the error, the log or a queue item.
        config = self.make_out_config(name="Leaky", url=self.server.url + "/b")
        self.env["bj.api.sync.config.line"].create(
            {"config_id": config.id, "external_key": "x", "value_type": "python",
             "python_code": 'API_SECRET = "hunter2-secret"\nresult = undefined_name'}
        )
        with self.assertRaises(UserError) as caught:
            self.send(self.partners[0], config=config)
        message = str(caught.exception)
        self.assertIn("undefined_name", message)
        self.assertNotIn("hunter2-secret", message)

    def test_wrong_model_or_config_is_a_clear_error(self):
        with self.assertRaisesMessage(UserError, "sends res.partner records, not res.country"):
            self.send(self.env.ref("base.be"))
        with self.assertRaisesMessage(UserError, "no BJ API configuration with id 999999"):
            self.Config._make_outbound_http_request(self.partners[0], 999999)
        inbound = self.make_in_config()
        with self.assertRaisesMessage(UserError, "is not an outbound configuration"):
            self.Config._make_outbound_http_request(self.partners[0], inbound.id)


class TestOutboundFailures(OutboundCase):
    def _run_due(self, item):
        """Make the item due now and run the delivery worker."""
        item.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        return self.Outbox._cron_deliver()

    def test_unexpected_delivery_error_is_stored_masked(self):
        from unittest import mock

        from ..services import outbound

        config = self.make_out_config(name="Crashing", url=self.server.url + "/c",
                                      auth_type="bearer", bearer_token="tok-crash-secret")
        item = self.Outbox._enqueue(config, self.partners[0], "test")
        good = self.Outbox._enqueue(config, self.partners[1], "test")
        attempt = outbound._attempt

        def crash(one, run):
            if one == item:
                raise RuntimeError("boom with tok-crash-secret")
            return attempt(one, run)

        with mock.patch.object(outbound, "_attempt", side_effect=crash), \
                mute_logger("odoo.addons.bj_api_sync.services.outbound"):
            self._run_due(item)
        self.assertEqual(item.state, "failed")
        self.assertIn("boom with", item.last_error)
        self.assertNotIn("tok-crash-secret", item.last_error)
        # The other item of the group went out.
        self.assertEqual(good.state, "done")
        self.assertEqual(self.server.count(), 1)

    def test_a_group_whose_writes_fail_is_delivered_one_item_at_a_time(self):
        from unittest import mock

        from ..services import outbound

        config = self.make_out_config(name="Bad write", url=self.server.url + "/w")
        items = self.Outbox._enqueue(config, self.partners[:2], "test")
        save = outbound._GroupRun.save
        calls = []

        def fail_the_group(run):
            calls.append(len(run.items))
            if len(run.items) > 1:
                run.env.cr.execute("SELECT 1/0")
            return save(run)

        with mock.patch.object(outbound._GroupRun, "save", fail_the_group), \
                mute_logger("odoo.addons.bj_api_sync.models.bj_api_outbox", "odoo.sql_db"):
            self.Outbox._cron_deliver()
        self.assertEqual(calls, [2, 1, 1])
        self.assertEqual(items.mapped("state"), ["done", "done"])
        # At least once: the group's requests were sent, then sent again one by one.
        self.assertEqual(len({r.idempotency_key for r in self.server.requests}), 2)

    def test_500_then_200_is_retried_with_the_same_idempotency_key(self):
        self.server.script(None, [Response(500, {"error": "boom"}), Response(200, {"ok": 1})])
        def utcnow():
            return datetime.now(timezone.utc).replace(tzinfo=None)

        before = utcnow()
        result = self.send()
        self.assertFalse(result.success)
        self.assertEqual(result.state, "retrying")
        item = self.outbox_of(result)
        self.assertEqual(item.state, "retrying")
        self.assertEqual(item.attempt_count, 1)
        # Backoff base 1 s with ±25 % jitter: the retry is due 0.75 to 1.25 s later.
        # Odoo datetimes are whole seconds: "now" is truncated before the delay is added.
        self.assertGreaterEqual(item.next_attempt_at,
                                before.replace(microsecond=0) + timedelta(seconds=0.7))
        self.assertLessEqual(item.next_attempt_at, utcnow() + timedelta(seconds=1.3))
        self.assertEqual(self._run_due(item), 1)
        self.assertEqual(item.state, "done")
        self.assertEqual(item.attempt_count, 2)
        keys = [r.idempotency_key for r in self.server.requests]
        self.assertEqual(len(keys), 2)
        self.assertEqual(keys[0], keys[1])
        self.assertEqual(self.server.requests[0].json, self.server.requests[1].json)
        logs = self.Log.search([("outbox_id", "=", item.id)], order="attempt")
        self.assertEqual(logs.mapped("attempt"), [1, 2])
        # The first attempt failed and was retried: once the delivery is done it is
        # no longer "Retrying" (that filter shows what is still waiting).
        self.assertEqual(logs.mapped("state"), ["failed", "success"])
        self.assertEqual(logs.mapped("status_code"), [500, 200])

    def test_429_retry_after_is_honoured(self):
        self.server.script(None, [Response(429, {"error": "slow down"}, headers={"Retry-After": "120"})])
        before = fields.Datetime.now()
        result = self.send()
        item = self.outbox_of(result)
        self.assertEqual(item.state, "retrying")
        self.assertGreaterEqual(item.next_attempt_at, before + timedelta(seconds=119))
        self.assertLessEqual(item.next_attempt_at, before + timedelta(seconds=200))
        # Not due yet: the worker leaves it alone.
        self.assertEqual(self.Outbox._cron_deliver(), 0)
        self.assertEqual(self.server.count(), 1)

    def test_connection_refused_is_retried_then_fails_when_exhausted(self):
        self.config.write({"url": refused_url() + "/x", "max_retries": 2})
        result = self.send()
        self.assertEqual(result.state, "retrying")
        self.assertIsNone(result.status_code)
        item = self.outbox_of(result)
        self._run_due(item)
        self.assertEqual(item.state, "retrying")
        logs = self.Log.search([("outbox_id", "=", item.id)], order="attempt")
        self.assertEqual(logs.mapped("state"), ["retrying", "retrying"])  # still waiting
        self._run_due(item)
        self.assertEqual(item.state, "failed")
        self.assertEqual(item.attempt_count, 3)
        self.assertEqual(item.last_status_text, "no response")
        logs = self.Log.search([("outbox_id", "=", item.id)], order="attempt")
        self.assertEqual(set(logs.mapped("status_text")), {"no response"})
        self.assertEqual(logs.mapped("state"), ["failed", "failed", "failed"])
        self.assertTrue(all("refused" in (e or "").lower() or "connect" in (e or "").lower()
                            for e in logs.mapped("error_message")))
        # Exhausted deliveries stay failed and visible; the worker ignores them.
        self._run_due(item)
        self.assertEqual(item.attempt_count, 3)
        # Retry from the UI gives fresh attempts.
        item.action_retry()
        self.assertEqual(item.state, "pending")
        self.assertEqual(item.max_attempts, 3 + 2 + 1)

    def test_400_fails_at_once_and_keeps_the_body(self):
        self.server.script(None, [Response(400, {"error": {"field": "email", "message": "invalid"}})])
        result = self.send()
        self.assertEqual(result.state, "failed")
        self.assertEqual(result.status_code, 400)
        self.assertEqual(result.data["error"]["field"], "email")
        self.assertEqual(self.server.count(), 1)
        log = self.Log.browse(result.log_id)
        self.assertEqual(log.state, "failed")
        self.assertIn('"message":"invalid"', log.response_body)
        self.assertIn("HTTP 400", log.error_message)
        item = self.outbox_of(result)
        self.assertEqual(item.state, "failed")
        self.assertEqual(self._run_due(item), 0)
        # Retry from the log form queues it again; the same key is reused.
        log.action_retry_delivery()
        self.assertEqual(item.state, "pending")
        self.Outbox._cron_deliver()
        self.assertEqual(item.state, "done")
        self.assertEqual(self.server.requests[0].idempotency_key, self.server.requests[1].idempotency_key)

    def test_no_retries_configured_means_failed_at_once(self):
        self.config.max_retries = 0
        self.server.script(None, [Response(503, {})])
        result = self.send()
        self.assertEqual(result.state, "failed")
        self.assertEqual(self.outbox_of(result).state, "failed")

    def test_batches_of_page_size_and_graceful_degradation(self):
        partners = self.env["res.partner"].create([{"name": f"Batch {i}"} for i in range(5)])
        self.config.write({"is_paginated": True, "page_size": 2})
        self.server.script(None, [Response(200, {}), Response(422, {"error": "bad chunk"}),
                                  Response(200, {})])
        result = self.send(partners)
        self.assertEqual(result.requests, 3)
        self.assertEqual(result.state, "failed")
        bodies = [r.json for r in self.server.requests]
        self.assertEqual([len(b) for b in bodies], [2, 2, 1])
        self.assertEqual([b["full_name"] for b in bodies[2]], ["Batch 4"])
        self.assertEqual([r["state"] for r in result.results], ["success", "failed", "success"])
        [item] = self.outbox_of(result)
        self.assertEqual(item.res_ids, ",".join(map(str, partners[2:4].ids)))
        item.action_retry()
        self.Outbox._cron_deliver()
        self.assertEqual(item.state, "done")
        self.assertEqual(self.server.count(), 4)
        self.assertEqual([b["full_name"] for b in self.server.requests[3].json],
                         ["Batch 2", "Batch 3"])


class TestOutbox(OutboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.automation = cls.env["base.automation"].create(
            {"name": "Push partners", "model_id": cls.partner_model.id, "trigger": "on_create"}
        )
        cls.env["ir.actions.server"].create({
            "name": "Queue partner",
            "model_id": cls.partner_model.id,
            "base_automation_id": cls.automation.id,
            "usage": "base_automation",
            "state": "code",
            "code": f"env['bj.api.sync.config']._make_outbound_http_request(records, {cls.config.id})",
        })

    def _items(self):
        return self.Outbox.search([("config_id", "=", self.config.id)], order="id")

    def test_automation_queues_instead_of_calling_and_cron_delivers(self):
        partner = self.env["res.partner"].create({"name": "Queued Customer", "email": "q@example.com"})
        self.assertEqual(self.server.count(), 0, "nothing is sent inside the user's transaction")
        [item] = self._items()
        self.assertEqual(item.state, "pending")
        self.assertEqual(item.res_ids, str(partner.id))
        self.assertIn("Queued Customer", item.payload)
        self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(item.state, "done")
        [req] = self.server.requests
        self.assertEqual(req.json["full_name"], "Queued Customer")
        self.assertEqual(req.idempotency_key, item.idempotency_key)

    def test_rolled_back_change_sends_nothing(self):
        with self.assertRaises(ValueError), self.env.cr.savepoint():
            self.env["res.partner"].create({"name": "Ghost"})
            raise ValueError("user error after the create")
        self.assertFalse(self._items())
        self.assertEqual(self.Outbox._cron_deliver(), 0)
        self.assertEqual(self.server.count(), 0)

    def test_deletion_payload_is_built_before_the_record_disappears(self):
        partner = self.env["res.partner"].create({"name": "Soon Gone", "email": "gone@example.com"})
        partner_id = partner.id
        created = self._items()
        created.state = "done"
        # Automations are created, never toggled, in tests: the registry patches
        # they install are not rolled back with the test's transaction.
        unlink_automation = self.env["base.automation"].create(
            {"name": "Push deletions", "model_id": self.partner_model.id, "trigger": "on_unlink"}
        )
        self.env["ir.actions.server"].create({
            "name": "Queue deletion",
            "model_id": self.partner_model.id,
            "base_automation_id": unlink_automation.id,
            "usage": "base_automation",
            "state": "code",
            "code": f"env['bj.api.sync.config']._make_outbound_http_request(records, {self.config.id})",
        })
        partner.unlink()
        [item] = self._items() - created
        self.assertIn("Soon Gone", item.payload)
        self.Outbox._cron_deliver()
        self.assertEqual(item.state, "done")
        self.assertEqual(self.server.requests[0].json,
                         {"full_name": "Soon Gone", "email_address": "gone@example.com",
                          "external_id": partner_id})

    def test_queue_context_and_enqueue_api(self):
        items = self.env["bj.api.outbox"]._enqueue(
            self.config, self.partners[:2], "webhook", payloads=[{"a": 1}, {"b": 2}]
        )
        self.assertEqual(len(items), 2)
        result = self.Config.with_context(bj_api_sync_queue=True)._make_outbound_http_request(
            self.partners[0], self.config.id
        )
        self.assertEqual(result.state, "pending")
        self.assertEqual(len(result.outbox_ids), 1)
        self.assertEqual(self.Outbox._cron_deliver(), 3)
        bodies = [r.json for r in self.server.requests]
        self.assertEqual(bodies[:2], [{"a": 1}, {"b": 2}])
        self.assertEqual(self.config._build_payloads(self.partners[0])[0]["full_name"],
                         "Azure Interior")

    def test_paginated_queue_groups_payloads(self):
        self.config.write({"is_paginated": True, "page_size": 2})
        items = self.config._enqueue_outbound(self.partners)
        self.assertEqual(len(items), 2)
        self.Outbox._cron_deliver()
        self.assertEqual([len(r.json) for r in self.server.requests], [2, 1])

    def test_send_now_queues_matching_records_built_at_delivery(self):
        self.config.filter_domain = f"[('id', 'in', {self.partners[:2].ids})]"
        # The confirmation says how many records match before anything is queued.
        dialog = self.config.action_send_now_confirm()
        wizard = self.env[dialog["res_model"]].browse(dialog["res_id"])
        self.assertEqual(wizard.record_count, 2)
        self.assertIn("2 record(s) of res.partner match the filter domain", wizard.summary)
        self.assertFalse(self._items())
        action = wizard.action_confirm()
        self.assertEqual(action["params"]["type"], "success")
        items = self._items()
        self.assertEqual(len(items), 2)
        self.assertFalse(items[0].payload)
        self.partners[0].name = "Renamed Before Delivery"
        self.Outbox._cron_deliver()
        names = sorted(r.json["full_name"] for r in self.server.requests)
        self.assertEqual(names, ["Deco Addict", "Renamed Before Delivery"])
        self.assertEqual(set(items.mapped("state")), {"done"})

    def test_mapping_error_in_automation_does_not_block_the_user(self):
        self.env["bj.api.sync.config.line"].create(
            {"config_id": self.config.id, "external_key": "boom", "value_type": "python",
             "python_code": "1 / 0"}
        )
        partner = self.env["res.partner"].create({"name": "Still Saved"})
        self.assertTrue(partner.exists())
        [item] = self._items()
        self.assertEqual(item.state, "failed")
        self.assertIn("ZeroDivisionError", item.last_error)

    def test_test_connection_button(self):
        action = self.config.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.server.requests[0].method, "HEAD")
        self.assertEqual(self.server.requests[0].headers.get("Authorization"),
                         "Bearer sk_live_abc123xyz789")
        self.server.script(None, [Response(401, {})])
        self.assertEqual(self.config.action_test_connection()["params"]["type"], "warning")
        self.config.url = refused_url()
        action = self.config.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Cannot reach", action["params"]["message"])
        # No answer: the status reads "no response", not 0.
        log = self.env["bj.api.log"].search([("config_id", "=", self.config.id)], limit=1)
        self.assertEqual((log.status_code, log.status_text), (0, "no response"))
        self.assertIn("(no response)", log.display_label)
        self.assertEqual(self.env["bj.api.log"].search_count(
            [("config_id", "=", self.config.id), ("is_connection_test", "=", False)]), 0)

    def _test_connection_says(self, status):
        self.server.clear()
        self.server.script(None, [Response(status, {})])
        params = self.config.action_test_connection()["params"]
        log = self.env["bj.api.log"].search([("config_id", "=", self.config.id)], limit=1)
        return params, log

    def test_test_connection_tells_what_the_answer_means(self):
        expected = {
            204: ("success", "Connected: HTTP 204", "success"),
            302: ("success", "Connected: HTTP 302", "success"),
            401: ("warning", "refused the credentials (HTTP 401)", "failed"),
            403: ("warning", "refused the credentials (HTTP 403)", "failed"),
            404: ("warning", "does not serve this URL or method (HTTP 404)", "failed"),
            405: ("warning", "does not serve this URL or method (HTTP 405)", "failed"),
            400: ("danger", "HTTP 400", "failed"),
            503: ("danger", "HTTP 503", "failed"),
        }
        for status, (kind, text, state) in expected.items():
            with self.subTest(status=status):
                params, log = self._test_connection_says(status)
                self.assertEqual(params["type"], kind)
                self.assertIn(text, params["message"])
                # the method really sent, not the config's verb
                self.assertEqual((log.http_method, log.status_code, log.state),
                                 ("HEAD", status, state))
                # marked as a test, not a delivery
                self.assertTrue(log.is_connection_test)
                self.assertTrue(log.display_label.startswith("Connection test: HEAD "),
                                log.display_label)
                # the form reloads after the notification, so its Logs count is current
                self.assertEqual(params["next"], {"type": "ir.actions.act_window_close"})


@tagged("post_install", "-at_install")
class TestQueueReadsWell(OutboundCase):
    """Queue items and webhooks as a user meets them in the screens."""

    def test_a_queue_item_is_named_by_config_records_and_event(self):
        self.server.script(None, [Response(500, {})])
        item = self.outbox_of(self.send())
        partner = self.partners[0]
        self.assertEqual(item.display_name,
                         f"{self.config.name} · res.partner {partner.id} · direct")
        item.res_ids = ",".join(map(str, self.partners[:3].ids))
        self.assertEqual(item.display_name,
                         f"{self.config.name} · res.partner, 3 records · direct")

    def test_the_queue_button_counts_waiting_deliveries(self):
        self.assertEqual(self.config.outbox_waiting_count, 0)
        self.server.script(None, [Response(500, {})])
        item = self.outbox_of(self.send())
        self.config.invalidate_recordset(["outbox_waiting_count"])
        self.assertEqual(self.config.outbox_waiting_count, 1)
        item.state = "done"
        self.config.invalidate_recordset(["outbox_waiting_count"])
        self.assertEqual(self.config.outbox_waiting_count, 0)
