"""Triggers owned by outbound configurations."""
import json

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .test_outbound import OutboundCase


@tagged("post_install", "-at_install")
class TestConfigTriggers(OutboundCase):
    """The rules and the schedule a configuration owns follow its trigger settings, and
    they queue (rules) or send (schedule) what the configuration sends."""

    ALL_EVENTS = {"trigger_on_create": True, "trigger_on_write": True,
                  "trigger_on_unlink": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Automation = cls.env["base.automation"].with_context(active_test=False)
        cls.Cron = cls.env["ir.cron"].with_context(active_test=False)
        cls.email_field = cls._field("res.partner", "email")
        cls.phone_field = cls._field("res.partner", "phone")
        # Only the companies this test made: demo data has many more.
        cls.config.filter_domain = repr([("is_company", "=", True),
                                         ("name", "like", "TRIG%")])

    def rules_by_trigger(self, config):
        return {rule.trigger: rule for rule in config.automation_ids}

    def queued(self, config=None):
        items = self.Outbox.search([("config_id", "=", (config or self.config).id)],
                                   order="id")
        return [(item.event, item.res_ids) for item in items]

    # --------------------------------------------------------------- ownership
    def test_flags_create_one_rule_per_event_with_its_server_action(self):
        self.config.write({**self.ALL_EVENTS,
                           "trigger_field_ids": [(6, 0, self.email_field.ids)]})
        rules = self.rules_by_trigger(self.config)
        self.assertEqual(set(rules), {"on_create", "on_write", "on_unlink"})
        for trigger, event in (("on_create", "create"), ("on_write", "update"),
                               ("on_unlink", "delete")):
            rule = rules[trigger]
            self.assertEqual(rule.model_id, self.partner_model, trigger)
            self.assertTrue(rule.active, trigger)
            self.assertIn(self.config.name, rule.name)
            # The config's domain is applied when queueing, not copied onto the rule.
            self.assertFalse(rule.filter_domain, trigger)
            self.assertFalse(rule.filter_pre_domain, trigger)
            [action] = rule.action_server_ids
            self.assertEqual(action.state, "code")
            self.assertEqual(action.model_id, self.partner_model)
            self.assertEqual(
                action.code,
                f"env['bj.api.sync.config']._bj_trigger({self.config.id}, records, '{event}')")
        self.assertEqual(rules["on_write"].trigger_field_ids, self.email_field)
        self.assertFalse(rules["on_create"].trigger_field_ids)
        self.assertFalse(self.config.cron_id)

    def test_settings_update_rules_in_place_and_disabled_events_remove_theirs(self):
        self.config.write({**self.ALL_EVENTS})
        rules = self.rules_by_trigger(self.config)
        self.config.trigger_field_ids = self.email_field | self.phone_field
        self.assertEqual(self.rules_by_trigger(self.config), rules)
        self.assertEqual(rules["on_write"].trigger_field_ids, self.email_field | self.phone_field)
        self.config.name = "Renamed sync"
        self.assertIn("Renamed sync", rules["on_unlink"].name)
        actions = rules["on_create"].action_server_ids
        self.config.trigger_on_create = False
        self.assertFalse(rules["on_create"].exists())
        self.assertFalse(actions.exists())
        self.assertEqual(set(self.rules_by_trigger(self.config)), {"on_write", "on_unlink"})
        self.config.write({"trigger_on_write": False, "trigger_on_unlink": False})
        self.assertFalse(self.config.automation_ids)
        self.assertFalse((rules["on_write"] | rules["on_unlink"]).exists())

    def test_changing_the_model_recreates_the_rules_on_it(self):
        config = self.make_out_config(name="Countries", trigger_on_create=True,
                                      trigger_on_unlink=True)
        old = config.automation_ids
        self.assertEqual(old.model_id, self.partner_model)
        config.model_id = self.country_model
        self.assertFalse(old.exists())
        self.assertEqual(len(config.automation_ids), 2)
        self.assertEqual(config.automation_ids.model_id, self.country_model)
        self.assertEqual(config.automation_ids.action_server_ids.model_id, self.country_model)

    def test_trigger_fields_belong_to_the_model(self):
        with self.assertRaisesMessage(ValidationError, "are not fields of res.partner"):
            self.config.write({"trigger_on_write": True, "trigger_field_ids": [
                (6, 0, self._field("res.country", "code").ids)]})
        with self.assertRaisesMessage(ValidationError, "cannot be negative"):
            self.config.cron_interval_number = -1

    def test_inbound_configs_own_nothing(self):
        # Inbound, the trigger settings are hidden and ignored (they take effect
        # again if the config is switched back to outbound).
        config = self.make_in_config(**self.ALL_EVENTS, cron_interval_number=1)
        self.assertFalse(config.automation_ids)
        self.assertFalse(config.cron_id)
        out = self.make_out_config(name="Switched", **self.ALL_EVENTS, cron_interval_number=1)
        rules, cron = out.automation_ids, out.cron_id
        self.assertEqual(len(rules), 3)
        out.write({"request_type": "in", "endpoint": "switched",
                   "user_id": self.env.ref("base.user_admin").id})
        self.assertFalse(rules.exists() or cron.exists())
        self.assertFalse(out.automation_ids or out.cron_id)
        self.assertFalse(self.Config._bj_trigger(out.id, self.partners, "create"))

    def test_archive_deactivates_unarchive_reactivates(self):
        self.config.write({**self.ALL_EVENTS, "cron_interval_number": 1})
        rules, cron = self.config.automation_ids, self.config.cron_id
        self.assertTrue(all(rules.mapped("active")) and cron.active)
        self.config.action_archive()
        self.assertEqual(self.config.automation_ids, rules)
        self.assertFalse(any(rules.mapped("active")))
        self.assertFalse(cron.active)
        self.config.action_unarchive()
        self.assertEqual(self.config.automation_ids, rules)
        self.assertTrue(all(rules.mapped("active")))
        self.assertEqual(self.config.cron_id, cron)
        self.assertTrue(cron.active)

    def test_unlink_deletes_rules_their_actions_and_the_cron(self):
        config = self.make_out_config(name="Doomed", **self.ALL_EVENTS,
                                      cron_interval_number=3)
        rules, cron = config.automation_ids, config.cron_id
        actions = rules.action_server_ids | cron.ir_actions_server_id
        self.assertEqual(len(actions), 4)
        config.unlink()
        self.assertFalse(rules.exists() or cron.exists() or actions.exists())

    def test_copy_owns_its_own_records(self):
        self.config.write({"trigger_on_write": True, "cron_interval_number": 2,
                           "trigger_field_ids": [(6, 0, self.email_field.ids)]})
        copy = self.config.copy({"name": "Copy"})
        self.assertEqual(len(copy.automation_ids), 1)
        self.assertFalse(copy.automation_ids & self.config.automation_ids)
        self.assertEqual(copy.automation_ids.trigger_field_ids, self.email_field)
        self.assertIn(f"_bj_trigger({copy.id}, ", copy.automation_ids.action_server_ids.code)
        self.assertTrue(copy.cron_id)
        self.assertNotEqual(copy.cron_id, self.config.cron_id)
        self.assertEqual(copy.cron_id.code, f"model._bj_run_schedule({copy.id})")

    # ------------------------------------------------------------ the rules fire
    def test_partner_changes_queue_create_update_delete(self):
        self.config.write({**self.ALL_EVENTS,
                           "trigger_field_ids": [(6, 0, self.email_field.ids)]})
        Partner = self.env["res.partner"]
        company = Partner.create({"name": "TRIG Company", "is_company": True,
                                  "email": "trig@example.com"})
        # Outside the config's Filter Domain: never queued.
        person = Partner.create({"name": "TRIG Person", "email": "p@example.com"})
        self.assertEqual(self.queued(), [("create", str(company.id))])
        company.write({"email": "new@example.com"})
        person.write({"email": "new-p@example.com"})
        # Not a trigger field: no update.
        company.write({"phone": "+32 2 000 00 00"})
        self.assertEqual(self.queued(), [("create", str(company.id)),
                                         ("update", str(company.id))])
        company_id = company.id
        company.unlink()
        person.unlink()
        items = self.Outbox.search([("config_id", "=", self.config.id)], order="id")
        self.assertEqual(items.mapped("event"), ["create", "update", "delete"])
        self.assertEqual(set(items.mapped("state")), {"pending"})
        # Payloads are built when queued: the deleted record's data is there.
        self.assertEqual(json.loads(items[2].payload),
                         {"full_name": "TRIG Company", "email_address": "new@example.com",
                          "external_id": company_id})
        self.assertEqual(json.loads(items[1].payload)["email_address"], "new@example.com")
        # Queued in the transaction, sent by the worker after commit: nothing yet.
        self.assertFalse(self.server.requests)

    def test_write_trigger_without_fields_fires_once_per_change(self):
        company = self.env["res.partner"].create({"name": "TRIG Any", "is_company": True})
        self.config.trigger_on_write = True
        company.write({"website": "https://trig.example.com"})
        self.assertEqual(self.queued(), [("update", str(company.id))])
        # email recomputes email_normalized, and Odoo runs update rules again for
        # it: the same delivery is queued once.
        company.write({"email": "any@example.com"})
        self.assertEqual(self.queued(), [("update", str(company.id))] * 2)
        company.write({"email": "other@example.com"})
        self.assertEqual(self.queued(), [("update", str(company.id))] * 3)

    def test_a_creation_is_not_sent_again_as_an_update(self):
        self.config.write({"trigger_on_create": True, "trigger_on_write": True})
        company = self.env["res.partner"].create({"name": "TRIG New", "is_company": True,
                                                  "email": "new@example.com"})
        self.env.flush_all()
        self.assertEqual(self.queued(), [("create", str(company.id))])
        # Nothing that is sent changed: the creation already carries it.
        company.write({"website": "https://new.example.com"})
        self.assertEqual(self.queued(), [("create", str(company.id))])
        company.write({"email": "changed@example.com"})
        self.assertEqual(self.queued(), [("create", str(company.id)),
                                         ("update", str(company.id))])

    def test_a_bulk_creation_queues_one_delivery_per_record(self):
        self.config.write({"trigger_on_create": True, "trigger_on_write": True})
        companies = self.env["res.partner"].create([
            {"name": f"TRIG Bulk {n}", "is_company": True, "email": f"b{n}@example.com"}
            for n in range(60)])
        self.env.flush_all()
        self.assertEqual(self.queued(), [("create", str(c.id)) for c in companies])

    def test_writeback_of_the_config_or_its_binding_owner_is_skipped(self):
        company = self.env["res.partner"].create({"name": "TRIG Back", "is_company": True})
        self.config.trigger_on_write = True
        other = self.make_out_config(name="PUT sync", url=self.server.url + "/put",
                                     trigger_on_write=True, filter_domain=self.config.filter_domain)
        if "binding_config_id" in other._fields:
            other.binding_config_id = self.config
        company.with_context(bj_api_sync_writeback=(self.config.id, self.config.id)).write(
            {"email": "answer@example.com"})
        self.assertEqual(self.queued(), [])
        if "binding_config_id" in other._fields:
            self.assertEqual(self.queued(other), [])
        company.with_context(bj_api_sync_writeback=(other.id + 1000,)).write(
            {"email": "user@example.com"})
        self.assertEqual(self.queued(), [("update", str(company.id))])
        self.assertEqual(self.queued(other), [("update", str(company.id))])

    def test_archived_or_missing_config_queues_nothing(self):
        self.config.trigger_on_create = True
        self.config.active = False
        self.assertFalse(self.Config._bj_trigger(self.config.id, self.partners[0], "create"))
        self.assertFalse(self.Config._bj_trigger(0, self.partners[0], "create"))
        self.env["res.partner"].create({"name": "TRIG Archived", "is_company": True})
        self.assertEqual(self.queued(), [])

    # ---------------------------------------------------------------- schedule
    def test_schedule_owns_a_cron_kept_in_step(self):
        self.config.write({"cron_interval_number": 15, "cron_interval_type": "minutes"})
        cron = self.config.cron_id
        self.assertTrue(cron)
        self.assertEqual(cron.model_id.model, "bj.api.sync.config")
        self.assertEqual(cron.state, "code")
        self.assertEqual(cron.code, f"model._bj_run_schedule({self.config.id})")
        self.assertEqual((cron.interval_number, cron.interval_type), (15, "minutes"))
        self.assertEqual(cron.numbercall, -1)
        self.assertTrue(cron.active)
        self.config.write({"cron_interval_number": 2, "cron_interval_type": "days"})
        self.assertEqual(self.config.cron_id, cron)
        self.assertEqual((cron.interval_number, cron.interval_type), (2, "days"))
        action = cron.ir_actions_server_id
        self.config.cron_interval_number = 0
        self.assertFalse(self.config.cron_id)
        self.assertFalse(cron.exists() or action.exists())

    def test_schedule_sends_every_record_of_the_filter_domain(self):
        self.partners[:2].write({"name": "TRIG " + "x"})
        self.partners[:2][1].name = "TRIG y"
        self.config.cron_interval_number = 1
        self.config.cron_id.method_direct_trigger()
        names = sorted(r.json["full_name"] for r in self.server.requests)
        self.assertEqual(names, ["TRIG x", "TRIG y"])
        self.server.clear()
        result = self.config._run_schedule()
        self.assertTrue(result.success)
        self.assertEqual(len(self.server.requests), 2)
        with self.assertLogs("odoo.addons.bj_api_sync.models.bj_api_sync_config_triggers",
                             "WARNING") as logs:
            self.assertIsNone(self.Config._bj_run_schedule(0))
        self.assertIn("scheduled send of missing configuration 0", logs.output[0])

    # ---------------------------------------------------------------- security
    def test_a_manager_enables_triggers_and_schedule(self):
        as_manager = self.env["bj.api.sync.config"].with_user(self.bj_manager)
        self.assertFalse(self.env["base.automation"].with_user(self.bj_manager)
                         .check_access_rights("create", raise_exception=False))
        config = as_manager.create({
            "name": "Manager's sync", "request_type": "out",
            "model_id": self.partner_model.id, "url": self.server.url + "/m",
            "http_method_ids": [(6, 0, self.method_post.ids)],
            "trigger_on_create": True, "cron_interval_number": 1,
        })
        config.write({"trigger_on_write": True,
                      "trigger_field_ids": [(6, 0, self.email_field.ids)]})
        self.assertEqual(set(config.sudo().automation_ids.mapped("trigger")),
                         {"on_create", "on_write"})
        self.assertTrue(config.sudo().cron_id)
        config.action_archive()
        self.assertFalse(any(config.sudo().automation_ids.mapped("active")))
        rules, cron = config.sudo().automation_ids, config.sudo().cron_id
        config.unlink()
        self.assertFalse(rules.exists() or cron.exists())

    def test_the_form_shows_the_triggers_page_outbound_only(self):
        arch = self.Config.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="triggers"', arch)
        self.assertIn("request_type != 'out'", arch)
        for name in ("trigger_on_create", "trigger_on_write", "trigger_field_ids",
                     "trigger_on_unlink", "cron_interval_number", "cron_interval_type",
                     "automation_ids", "cron_id"):
            self.assertIn(f'name="{name}"', arch, name)
        # Managers who are not administrators may not read rules and crons: no links.
        arch = self.Config.with_user(self.bj_manager).get_views(
            [(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="trigger_on_create"', arch)
        self.assertNotIn('name="automation_ids"', arch)
