"""Retries keep their schedule; the original module's script names; line ids in errors;
webhook targets checked at delivery and webhook conditions checked on every path segment."""

import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..engine import url_guard
from ..engine.mapping_out import MappingError
from ..services import inbound_webhooks, odoo_mapping
from .fault_server import Response
from .test_outbound import OutboundCase


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


# Never early is the promise; how late is bounded loosely, so that a loaded
# 2-core CI machine does not make these tests flaky.
LATE = 3.0


@tagged("post_install", "-at_install")
class TestOutboundSchedule(OutboundCase):
    """The delivery worker sends retries when they are due, not at Odoo's next cron poll."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env.ref("bj_api_sync.ir_cron_outbox_deliver")

    def setUp(self):
        super().setUp()
        self.Trigger = self.env["ir.cron.trigger"].sudo()
        self.last_trigger = self.Trigger.search([], order="id desc", limit=1).id or 0

    def new_triggers(self):
        return self.Trigger.search([("cron_id", "=", self.cron.id), ("id", ">", self.last_trigger)])

    def gaps(self):
        times = [r.received_at for r in self.server.requests]
        return [later - earlier for earlier, later in zip(times, times[1:])]

    def test_worker_waits_for_near_retries_and_sends_them_when_due(self):
        self.server.script(None, [Response(500, {}), Response(500, {}), Response(200, {})])
        result = self.send()
        item = self.outbox_of(result)
        self.assertEqual(item.state, "retrying")
        start = time.monotonic()
        # One run of the worker: nothing is due yet, the retries are due in
        # about 1 s then 2 s more (backoff 1 s, +-25 % jitter).
        self.assertEqual(self.Outbox._cron_deliver(stay_seconds=10), 2)
        self.assertLess(time.monotonic() - start, 3 + 2 * LATE)
        self.assertEqual(item.state, "done")
        self.assertEqual(item.attempt_count, 3)
        first, second = self.gaps()
        self.assertGreaterEqual(first, 0.75)
        self.assertLess(first, 1.25 + LATE)
        self.assertGreaterEqual(second, 1.5)
        self.assertLess(second, 2.5 + LATE)

    def test_retry_after_is_honoured_to_the_fraction_never_earlier(self):
        self.server.script(None, [Response(429, {}, headers={"Retry-After": "2"}),
                                  Response(200, {})])
        before = utcnow()
        item = self.outbox_of(self.send())
        item.invalidate_recordset()  # as stored
        # Odoo's whole-second "now" would give a due time up to 1 s too early.
        self.assertGreaterEqual(item.next_attempt_at, before + timedelta(seconds=2))
        self.assertLess(item.next_attempt_at, utcnow() + timedelta(seconds=3))
        self.assertEqual(self.Outbox._cron_deliver(stay_seconds=10), 1)
        [gap] = self.gaps()
        self.assertGreaterEqual(gap, 2.0)
        self.assertLess(gap, 2.0 + LATE)

    def test_a_near_retry_starts_the_worker_at_once(self):
        self.server.script(None, [Response(503, {})])
        before = utcnow()
        self.send()
        # A trigger in the future would only be seen at the cron's next poll
        # (up to a minute later): the worker starts now and waits for the item.
        [trigger] = self.new_triggers()
        self.assertLessEqual(trigger.call_at, utcnow())
        self.assertGreaterEqual(trigger.call_at, before.replace(microsecond=0))

    def test_a_far_retry_ends_the_run_and_starts_the_worker_early_enough(self):
        self.server.script(None, [Response(429, {}, headers={"Retry-After": "300"})])
        item = self.outbox_of(self.send())
        due = item.next_attempt_at
        start = time.monotonic()
        self.assertEqual(self.Outbox._cron_deliver(stay_seconds=75), 0)
        self.assertLess(time.monotonic() - start, LATE, "the worker does not stay for it")
        calls = self.new_triggers().mapped("call_at")
        self.assertTrue(calls)
        # Started 75 s before it is due, the worker is there in time even if
        # Odoo only acts on the trigger at its next poll, about a minute later.
        for call in calls:
            self.assertAlmostEqual((due - call).total_seconds(), 75, delta=1)
        self.assertEqual(self.server.count(), 1)

    def test_a_run_is_bounded(self):
        self.server.script(None, [Response(429, {}, headers={"Retry-After": "30"})])
        self.outbox_of(self.send())
        start = time.monotonic()
        self.assertEqual(self.Outbox._cron_deliver(budget_seconds=0.6, stay_seconds=75), 0)
        self.assertLess(time.monotonic() - start, 0.6 + LATE)
        # The run ended before the item was due: the next one starts at once.
        self.assertTrue(any(t.call_at <= utcnow() for t in self.new_triggers()))


@tagged("post_install", "-at_install")
class TestOutboundScriptNames(OutboundCase):
    """What scripts written for the original module use."""

    def test_original_keyword_names(self):
        partner = self.partners[0]
        result = self.Config._make_outbound_http_request(
            record_ids=partner, config_id_ref=self.config.id)
        self.assertTrue(result.success)
        self.assertEqual(self.server.requests[0].json["full_name"], "Azure Interior")
        result = self.Config._make_outbound_http_request(record_ids=partner,
                                                         config_id=self.config.id)
        self.assertTrue(result.success)
        self.assertEqual(self.server.count(), 2)
        with self.assertRaisesMessage(UserError, "not both"):
            self.Config._make_outbound_http_request(partner, self.config.id,
                                                    config_id_ref=self.config.id)
        with self.assertRaisesMessage(UserError, "needs record"):
            self.Config._make_outbound_http_request(config_id_ref=self.config.id)

    def test_float_compare_in_line_scripts(self):
        config = self.make_out_config(name="Floats", url=self.server.url + "/f")
        self.env["bj.api.sync.config.line"].create({
            "config_id": config.id, "external_key": "same", "value_type": "python",
            "python_code": "float_compare(1.0, 1.004, precision_digits=2) == 0",
        })
        self.assertTrue(self.send(config=config).success)
        self.assertEqual(self.server.requests[0].json, {"same": True})

    def test_a_line_error_names_the_line_id(self):
        sub = self.make_out_config(name="Countries", model_id=self.country_model.id,
                                   url=self.server.url + "/c")
        Line = self.env["bj.api.sync.config.line"]
        bad_sub_line = Line.create({"config_id": sub.id, "external_key": "boom",
                                    "value_type": "python", "python_code": "1 / 0"})
        config = self.make_out_config(name="Lines", url=self.server.url + "/l")
        Line.create({"config_id": config.id, "sequence": 1, "external_key": "name",
                     "field_id": self._field("res.partner", "name").id})
        bad_line = Line.create({"config_id": config.id, "sequence": 2, "external_key": "oops",
                                "value_type": "python", "python_code": "1 / 0"})
        with self.assertRaises(MappingError) as caught:
            odoo_mapping.payloads_of(config, self.partners[0])
        self.assertEqual(caught.exception.line_id, bad_line.id)
        self.assertEqual(caught.exception.details["line_id"], bad_line.id)
        self.assertEqual(caught.exception.details["line"], "line 2 (oops)")
        # Through a nested mapping: the line that failed, in the sub-config.
        bad_line.unlink()
        Line.create({"config_id": config.id, "sequence": 3, "external_key": "country",
                     "field_id": self._field("res.partner", "country_id").id,
                     "value_type": "relational", "mapping_config_id": sub.id})
        with self.assertRaises(MappingError) as caught:
            odoo_mapping.payloads_of(config, self.partners[0])
        self.assertEqual(caught.exception.line_id, bad_sub_line.id)


@tagged("post_install", "-at_install")
class TestOutboundWebhookGuard(OutboundCase):
    """Webhook deliveries and conditions, registered as the API does."""

    def register(self, user, **body):
        body.setdefault("url", self.server.url + "/hook")
        body.setdefault("events", ["create"])
        body.setdefault("model", "res.partner")
        body.setdefault("fields", ["name"])
        env = self.env(user=user.id, su=False)
        inbound_webhooks.register(env, self.env(su=True), SimpleNamespace(uid=user.id), body,
                                  "webhooks")
        return self.env["bj.api.webhook"].search([("user_id", "=", user.id)], limit=1)

    def set_allow_internal(self, value):
        self.env["ir.config_parameter"].sudo().set_param(
            "bj_api_sync.webhook_allow_internal_urls", value)

    def test_internal_target_is_checked_again_at_delivery(self):
        self.set_allow_internal("True")
        webhook = self.register(self.bj_manager)
        # Allowed when registered; no longer when it is delivered (as when a
        # name comes to resolve to an internal address).
        self.set_allow_internal("False")
        self.env["res.partner"].create({"name": "Hooked Customer"})
        [item] = self.Outbox.search([("config_id", "=", webhook.config_id.id)])
        with mute_logger("odoo.addons.bj_api_sync.models.bj_api_webhook"):
            self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(self.server.count(), 0, "nothing was sent")
        self.assertEqual(item.state, "failed")
        self.assertIn("Delivery refused", item.last_error)
        self.assertIn("127.0.0.1", item.last_error)
        [log] = item.log_ids
        self.assertEqual(log.state, "failed")
        self.assertIn("Delivery refused", log.error_message)
        # Allowed again: the same item is delivered.
        self.set_allow_internal("True")
        item.action_retry()
        self.Outbox._cron_deliver()
        self.assertEqual(item.state, "done")
        self.assertEqual(self.server.requests[0].json["data"]["name"], "Hooked Customer")

    def test_a_name_that_changes_after_the_check_is_refused_at_the_connection(self):
        # DNS rebinding: the name looked public when it was checked, then the
        # connection reached this machine. Nothing is sent, and it is not retried.
        self.set_allow_internal("True")
        webhook = self.register(self.bj_manager)
        self.set_allow_internal("False")
        self.env["res.partner"].create({"name": "Rebound Customer"})
        [item] = self.Outbox.search([("config_id", "=", webhook.config_id.id)])
        with patch.object(url_guard, "internal_host", return_value=None):
            self.assertEqual(self.Outbox._cron_deliver(), 1)
        self.assertEqual(self.server.count(), 0, "nothing was sent")
        self.assertEqual(item.state, "failed")
        self.assertEqual(item.attempt_count, 1)
        self.assertIn("Delivery refused, nothing was sent: 127.0.0.1 resolved to 127.0.0.1",
                      item.last_error)

    def test_what_was_registered_cannot_be_edited_but_archiving_can(self):
        self.set_allow_internal("True")
        webhook = self.register(self.bj_manager, events=["create", "update", "delete"])
        rules = webhook.automation_ids
        self.assertEqual(len(rules), 3)
        with self.assertRaisesMessage(UserError, "delete it and register it again"):
            webhook.write({"events": "create"})
        with self.assertRaisesMessage(UserError, "Fields"):
            webhook.write({"field_names": "name,email"})
        self.assertEqual(webhook.events, "create,update,delete")
        self.assertEqual(webhook.automation_ids, rules)
        webhook.write({"events": "create,update,delete", "active": False})  # same value: fine
        self.assertFalse(webhook.active)
        self.env["res.partner"].create({"name": "Paused"})
        self.assertFalse(self.Outbox.search([("config_id", "=", webhook.config_id.id)]))

    def test_other_configs_are_not_guarded(self):
        self.set_allow_internal("False")
        self.assertTrue(self.send().success)
        self.assertEqual(self.server.count(), 1)

    def test_conditions_are_checked_on_every_path_segment(self):
        self.set_allow_internal("True")
        # signup_type is hidden from simple users, on the partner and on its parent.
        with self.assertRaisesMessage(ValidationError, r"signup_type of res.partner"):
            self.register(self.bj_user, conditions=[["parent_id.signup_type", "!=", False]])
        webhook = self.register(self.bj_user, conditions=[["parent_id.name", "!=", False]])
        self.assertTrue(webhook.config_id)

    def test_conditions_changed_later_are_checked_when_fired(self):
        self.set_allow_internal("True")
        webhook = self.register(self.bj_user, conditions=[["name", "like", "Cond"]])
        self.env["res.partner"].create({"name": "Cond 1"})
        self.assertEqual(self.Outbox.search_count([("config_id", "=", webhook.config_id.id)]), 1)
        webhook.config_id.filter_domain = "[('parent_id.signup_type', '=', False)]"
        with mute_logger("odoo.addons.bj_api_sync.models.bj_api_webhook"):
            self.env["res.partner"].create({"name": "Cond 2"})
        self.assertEqual(self.Outbox.search_count([("config_id", "=", webhook.config_id.id)]), 1)
