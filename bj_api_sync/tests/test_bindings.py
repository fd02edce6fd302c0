"""Bindings, URL placeholders, answers written back, scripts, envelope, only_changed."""
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import BjApiSyncCase
from .fault_server import FaultServer, Response


@tagged("post_install", "-at_install")
class TestBindings(BjApiSyncCase):
    """Two-way sync against a real HTTP server on 127.0.0.1 standing for a CRM."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FaultServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.Binding = cls.env["bj.api.sync.binding"]
        cls.Log = cls.env["bj.api.log"]
        cls.partners = cls.env["res.partner"].create([
            {"name": "Sync One", "email": "one@example.com"},
            {"name": "Sync Two", "email": "two@example.com"},
        ])
        cls.post = cls.make_out_config(name="CRM create", url=cls.server.url + "/customers")
        cls.lines(cls.post, ("name", "name"), ("email", "email"))

    @classmethod
    def lines(cls, config, *pairs, usage="request"):
        cls.env["bj.api.sync.config.line"].create([
            {"config_id": config.id, "external_key": key, "usage": usage,
             "field_id": cls._field("res.partner", name).id}
            for key, name in pairs
        ])

    def setUp(self):
        super().setUp()
        self.server.clear()

    def send(self, config, records):
        return self.Config._make_outbound_http_request(records, config.id)

    def binding(self, config, record):
        return self.Binding.search([("config_id", "=", config.id),
                                    ("res_model", "=", record._name),
                                    ("res_id", "=", record.id)])

    def put_config(self, **vals):
        config = self.make_out_config(
            name="CRM update", url=self.server.url + "/customers/{external_id}",
            http_method_ids=[(6, 0, self.method_put.ids)], binding_config_id=self.post.id,
            **vals)
        self.lines(config, ("name", "name"), ("email", "email"))
        return config

    # ------------------------------------------------------------- bindings
    def test_post_answer_id_becomes_the_binding(self):
        partner = self.partners[0]
        self.server.script("/customers", [Response(201, {"id": "crm_1", "name": "Sync One"})])
        result = self.send(self.post, partner)
        self.assertTrue(result.success, result)
        binding = self.binding(self.post, partner)
        self.assertEqual(len(binding), 1)
        self.assertEqual(binding.external_id, "crm_1")
        self.assertEqual(binding.state, "synced")
        self.assertTrue(binding.last_sync_at)
        self.assertEqual(len(binding.last_payload_hash), 32)
        self.assertFalse(binding.last_error)
        self.assertEqual(self.post.binding_count, 1)
        # A second delivery keeps one row per config and record.
        self.server.script("/customers", [Response(200, {"id": "crm_1"})])
        self.send(self.post, partner)
        self.assertEqual(len(self.binding(self.post, partner)), 1)

    def test_dotted_response_id_path(self):
        self.post.response_id_path = "data.id"
        self.server.script("/customers", [Response(201, {"data": {"id": 42}})])
        self.send(self.post, self.partners[0])
        self.assertEqual(self.binding(self.post, self.partners[0]).external_id, "42")

    def test_failure_marks_binding_failed_and_keeps_the_id(self):
        partner = self.partners[0]
        self.server.script("/customers", [Response(201, {"id": "crm_9"})])
        self.send(self.post, partner)
        self.server.script("/customers", [Response(422, {"error": "email taken"})])
        with mute_logger("odoo.addons.bj_api_sync.services.outbound"):
            result = self.send(self.post, partner)
        self.assertFalse(result.success)
        binding = self.binding(self.post, partner)
        self.assertEqual(binding.state, "failed")
        self.assertEqual(binding.external_id, "crm_9")
        self.assertIn("422", binding.last_error)

    def test_batch_ids_in_order_and_by_identifier(self):
        config = self.make_out_config(name="CRM batch", url=self.server.url + "/bulk",
                                      is_paginated=True, page_size=10)
        self.lines(config, ("name", "name"), ("email", "email"))
        config.line_ids.filtered(lambda line: line.external_key == "email").is_identifier = True
        one, two = self.partners
        # Answer in the other order, carrying the identifier: matched by it.
        self.server.script("/bulk", [Response(200, [
            {"email": "two@example.com", "id": "b"}, {"email": "one@example.com", "id": "a"}])])
        self.send(config, self.partners)
        self.assertEqual(self.binding(config, one).external_id, "a")
        self.assertEqual(self.binding(config, two).external_id, "b")
        # Without the identifier in the answer: by position.
        self.server.script("/bulk", [Response(200, [{"id": "x"}, {"id": "y"}])])
        self.send(config, self.partners)
        self.assertEqual(self.binding(config, one).external_id, "x")
        self.assertEqual(self.binding(config, two).external_id, "y")

    # ------------------------------------------------------- URL placeholders
    def test_put_uses_the_post_configs_external_id(self):
        partner = self.partners[0]
        self.server.script("/customers", [Response(201, {"id": "crm/7"})])
        self.send(self.post, partner)
        put = self.put_config()
        self.server.clear()
        result = self.send(put, partner)
        self.assertTrue(result.success, result)
        (request,) = self.server.requests
        self.assertEqual((request.method, request.raw_path), ("PUT", "/customers/crm%2F7"))
        self.assertEqual(put.binding_count, 1)
        self.assertFalse(self.Binding.search([("config_id", "=", put.id)]))

    def test_record_without_external_id_is_not_sent_and_log_says_why(self):
        put = self.put_config()
        result = self.send(put, self.partners[1])
        self.assertFalse(result.success)
        self.assertEqual(self.server.count(), 0)
        log = self.Log.browse(result.log_id)
        self.assertEqual(log.state, "failed")
        self.assertIn("no external id", log.error_message)
        self.assertEqual(log.status_text, "not sent")
        self.assertIn("CRM create", log.error_message)
        self.assertFalse(self.env["bj.api.outbox"].search([("config_id", "=", put.id)]))

    def test_a_put_queued_before_its_post_waits_for_the_id(self):
        partner = self.partners[0]
        put = self.put_config()
        Outbox = self.env["bj.api.outbox"]
        # As Odoo's rules do while creating a record: the update first, then the create.
        update = Outbox._enqueue(put, partner, "update")
        create = Outbox._enqueue(self.post, partner, "create")
        self.server.script("/customers", [Response(201, {"id": "crm_w"})])
        Outbox._cron_deliver(limit=5)
        self.assertEqual(create.state, "done")
        self.assertEqual((update.state, update.attempt_count), ("retrying", 0))
        self.assertIn("Waiting for the delivery", update.last_error)
        self.assertEqual([r.method for r in self.server.requests], ["POST"])
        update.next_attempt_at = update.create_date
        Outbox._cron_deliver(limit=5)
        self.assertEqual(update.state, "done", update.last_error)
        self.assertEqual(self.server.requests[-1].raw_path, "/customers/crm_w")

    def test_field_placeholders_are_url_encoded(self):
        config = self.make_out_config(name="By ref",
                                      url=self.server.url + "/c/{ref}?country={country_id.code}")
        partner = self.partners[0]
        partner.write({"ref": "A B/1", "country_id": self.env.ref("base.be").id})
        self.send(config, partner)
        (request,) = self.server.requests
        self.assertEqual(request.raw_path, "/c/A%20B%2F1?country=BE")

    def test_unknown_placeholder_field_is_refused_at_save(self):
        with self.assertRaisesMessage(ValidationError, r"\{nope\}.*has no field nope"):
            self.make_out_config(name="Bad", url="http://127.0.0.1:9/c/{nope}")
        with self.assertRaisesMessage(ValidationError, r"name of res.partner is not a relational"):
            self.make_out_config(name="Bad", url="http://127.0.0.1:9/c/{name.x}")
        with self.assertRaisesMessage(ValidationError, "unbalanced"):
            self.make_out_config(name="Bad", url="http://127.0.0.1:9/c/{ref")
        with self.assertRaisesMessage(ValidationError, "paginated"):
            self.make_out_config(name="Bad", url="http://127.0.0.1:9/c/{external_id}",
                                 is_paginated=True)

    def test_delete_after_the_record_is_gone_marks_binding_deleted(self):
        partner = self.env["res.partner"].create({"name": "Doomed"})
        self.server.script("/customers", [Response(201, {"id": "crm_d"})])
        self.send(self.post, partner)
        delete = self.make_out_config(
            name="CRM delete", url=self.server.url + "/customers/{external_id}",
            http_method_ids=[(6, 0, self.method_delete.ids)], binding_config_id=self.post.id)
        # Queued while the record exists (as the on-delete rule does), sent once it is gone.
        item = self.env["bj.api.outbox"]._enqueue(delete, partner, "delete")
        partner_id = partner.id
        partner.unlink()
        self.server.clear()
        self.env["bj.api.outbox"]._cron_deliver(limit=5)
        self.assertEqual(item.state, "done", item.last_error)
        (request,) = self.server.requests
        self.assertEqual((request.method, request.path), ("DELETE", "/customers/crm_d"))
        binding = self.Binding.search([("config_id", "=", self.post.id),
                                       ("res_id", "=", partner_id)])
        self.assertEqual(binding.state, "deleted")
        self.assertEqual(binding.external_id, "crm_d")

    # ---------------------------------------------------- answers written back
    def test_response_line_writes_the_answer_onto_the_record(self):
        self.lines(self.post, ("id", "ref"), usage="response")
        self.assertEqual(self.post.response_line_ids.mapped("external_key"), ["id"])
        self.assertNotIn("id", self.post.line_ids.mapped("external_key"))
        partner = self.partners[0]
        self.server.script("/customers", [Response(201, {"id": "crm_55", "other": 1})])
        result = self.send(self.post, partner)
        self.assertTrue(result.success, result)
        self.assertEqual(partner.ref, "crm_55")
        # The response lines are not sent.
        self.assertEqual(set(self.server.requests[0].json), {"name", "email"})

    def test_refused_write_back_is_logged_not_raised(self):
        self.lines(self.post, ("id", "ref"), usage="response")
        reader = new_test_user(self.env, login="bj_reader", groups="base.group_user")
        partner = self.partners[0]
        self.env["ir.rule"].create({
            "name": "no write on partners", "model_id": self.partner_model.id,
            "domain_force": "[(0, '=', 1)]", "perm_read": False, "perm_create": False,
            "perm_unlink": False, "perm_write": True,
            "groups": [(6, 0, self.env.ref("base.group_user").ids)],
        })
        self.server.script("/customers", [Response(201, {"id": "crm_66"})])
        with mute_logger("odoo.addons.bj_api_sync.services.outbound_sync"):
            result = self.Config.with_user(reader)._make_outbound_http_request(
                partner.with_user(reader), self.post.id)
        self.assertTrue(result.success, result)
        self.assertFalse(partner.ref)
        log = self.Log.browse(result.log_id)
        self.assertEqual(log.state, "success")
        self.assertIn("not written onto res.partner", log.error_message)
        self.assertEqual(self.binding(self.post, partner).external_id, "crm_66")

    # ------------------------------------------------ scripts, envelope, skip
    def test_envelope_nests_the_body(self):
        self.post.body_envelope = "payload.data"
        self.send(self.post, self.partners[0])
        self.assertEqual(self.server.requests[0].json,
                         {"payload": {"data": {"name": "Sync One", "email": "one@example.com"}}})

    def test_request_script_changes_or_replaces_the_body(self):
        self.post.request_script = "request_data['source'] = 'odoo-%s' % record.id"
        self.send(self.post, self.partners[0])
        self.assertEqual(self.server.requests[-1].json["source"],
                         f"odoo-{self.partners[0].id}")
        self.post.request_script = "{'only': request_data['name']}"
        self.send(self.post, self.partners[0])
        self.assertEqual(self.server.requests[-1].json, {"only": "Sync One"})

    def test_failing_request_script_stops_that_record_only(self):
        self.post.request_script = "secret_marker = 1\nif record.name == 'Sync Two':\n    1 / 0"
        result = self.send(self.post, self.partners)
        self.assertEqual(self.server.count(), 1)
        self.assertEqual(result.requests, 2)
        failed = [r for r in result.results if r["state"] == "failed"]
        self.assertEqual(len(failed), 1)
        self.assertIn("request script of CRM create failed", failed[0]["error"])
        self.assertIn(f"res.partner({self.partners[1].id})", failed[0]["error"])
        log = self.Log.browse(failed[0]["log_id"])
        self.assertNotIn("secret_marker", log.error_message)

    def test_response_script_runs_after_success(self):
        self.post.response_script = (
            "record.write({'comment': '%s %s' % (response['status_code'], "
            "response['data']['id'])})\n"
            "binding.write({'last_error': False})")
        self.server.script("/customers", [Response(201, {"id": "crm_r"})])
        self.send(self.post, self.partners[0])
        self.assertIn("201 crm_r", self.partners[0].comment)

    def test_only_changed_skips_unchanged_records(self):
        self.post.only_changed = True
        self.server.script("/customers", [Response(201, {"id": "a"}), Response(201, {"id": "b"})])
        first = self.send(self.post, self.partners)
        self.assertEqual((first.requests, first.skipped), (2, 0))
        self.server.clear()
        again = self.send(self.post, self.partners)
        self.assertEqual(self.server.count(), 0)
        self.assertEqual((again.requests, again.skipped, again.state), (0, 2, "success"))
        log = self.Log.browse(again.log_id)
        self.assertEqual(log.state, "skipped")
        self.assertIn("2 record(s) unchanged", log.summary)
        self.assertEqual(log.status_text, "not sent")
        self.assertFalse(log.error_message)
        self.partners[1].email = "changed@example.com"
        third = self.send(self.post, self.partners)
        self.assertEqual((third.requests, third.skipped), (1, 1))
        self.assertEqual(self.server.requests[0].json["email"], "changed@example.com")

    def test_only_changed_through_the_outbox(self):
        self.post.only_changed = True
        partner = self.partners[0]
        self.send(self.post, partner)
        self.server.clear()
        item = self.env["bj.api.outbox"]._enqueue(self.post, partner, "update")
        self.env["bj.api.outbox"]._cron_deliver(limit=5)
        self.assertEqual(item.state, "done")
        self.assertEqual(self.server.count(), 0)
        self.assertEqual(item.log_ids.state, "skipped")

    def test_failed_unit_does_not_count_as_last_success(self):
        self.post.only_changed = True
        partner = self.partners[0]
        self.server.script("/customers", [Response(400, {"e": 1})])
        with mute_logger("odoo.addons.bj_api_sync.services.outbound"):
            self.send(self.post, partner)
        self.server.clear()
        result = self.send(self.post, partner)
        self.assertEqual(result.requests, 1)
        self.assertEqual(self.server.count(), 1)
