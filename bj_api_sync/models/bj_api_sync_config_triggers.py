"""Triggers of outbound configurations: the automation rules and schedule a config owns.

An outbound configuration with trigger flags (CONTRACT section 4, "Triggers on the
config form") creates, updates and deletes, in step with itself:

- one ``base.automation`` per enabled event (on creation, on update, on deletion) on
  the configuration's model, each with one Python server action that calls
  :meth:`_bj_trigger`, which queues the deliveries in the outbox like any automated
  action (payloads built in the user's transaction, sent after commit);
- one ``ir.cron`` when ``cron_interval_number`` is positive, calling
  :meth:`_bj_run_schedule`.

They are ordinary records referenced by the configuration (no XML id): an upgrade of
the addon keeps them, archiving the configuration deactivates them, deleting it
deletes them. An inbound configuration owns none: its trigger settings are hidden
and ignored (they take effect again if it is switched back to outbound).
"""
import logging

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

#: (config flag, base.automation trigger, outbox event) of each owned rule.
TRIGGER_EVENTS = (
    ("trigger_on_create", "on_create", "create"),
    ("trigger_on_write", "on_write", "update"),
    ("trigger_on_unlink", "on_unlink", "delete"),
)
#: Config fields whose change may change the owned rules or the schedule.
TRIGGER_DEPENDENCIES = frozenset({
    "name", "active", "request_type", "model_id", "trigger_on_create", "trigger_on_write",
    "trigger_on_unlink", "trigger_field_ids", "cron_interval_number", "cron_interval_type",
})
#: Context key of the writes that put an answer back onto a record
#: (``services.outbound_sync.WRITEBACK_KEY``): the config ids whose triggers skip them.
WRITEBACK_KEY = "bj_api_sync_writeback"
#: Key of ``cr.precommit.data``: the outbox items the rules queued in this transaction.
QUEUED_MEMO = "bj_api_sync.trigger_items"


def _delivery_key(item):
    """What makes two outbox items the same delivery: where, what and for whom."""
    return (item.config_id.id, item.res_model, item.res_ids, item.request_url or False,
            item.payload)


class BjApiSyncConfigTriggers(models.Model):
    # One file per concern of the configuration (CONTRACT section 4), on purpose.
    _inherit = "bj.api.sync.config"  # pylint: disable=consider-merging-classes-inherited

    trigger_on_create = fields.Boolean(
        string="On Creation",
        help="Outbound: queue each new record of the model (that matches the Filter "
        "Domain) for delivery, as an automation rule would. Sent right after the "
        "transaction commits.",
    )
    trigger_on_write = fields.Boolean(
        string="On Update",
        help="Outbound: queue each updated record of the model (that matches the Filter "
        "Domain) for delivery. With Trigger Fields, only when one of them changed.",
    )
    trigger_field_ids = fields.Many2many(
        "ir.model.fields",
        relation="bj_api_sync_config_trigger_field_rel",
        column1="config_id",
        column2="field_id",
        string="Trigger Fields",
        domain="[('model_id', '=', model_id)]",
        help="On Update: send only when one of these fields changed (usually the mapped "
        "ones). Empty: any change of the record, including the fields Odoo recomputes "
        "after it (the repeats are not sent, but each one costs a payload).",
    )
    trigger_on_unlink = fields.Boolean(
        string="On Deletion",
        help="Outbound: queue each deleted record of the model (that matched the Filter "
        "Domain) for delivery; its payload is built before the record disappears.",
    )
    cron_interval_number = fields.Integer(
        string="Send Every", default=0,
        help="Outbound: send every record of the Filter Domain on this schedule, through "
        "a scheduled action the configuration owns. 0: no schedule.",
    )
    cron_interval_type = fields.Selection(
        [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")],
        string="Schedule Unit", default="hours", required=True,
        help="The unit of Send Every.",
    )
    automation_ids = fields.Many2many(
        "base.automation",
        relation="bj_api_sync_config_automation_rel",
        column1="config_id",
        column2="automation_id",
        string="Automation Rules",
        readonly=True,
        copy=False,
        # Archived rules too: those of an archived configuration are still its own.
        context={"active_test": False},
        help="The automation rules this configuration created for its triggers (one per "
        "event); kept in step with it, deleted with it.",
    )
    cron_id = fields.Many2one(
        "ir.cron", string="Scheduled Action", readonly=True, copy=False,
        ondelete="set null",
        help="The scheduled action this configuration created for Send Every; kept in "
        "step with it, deleted with it.",
    )

    # --------------------------------------------------------------- constraints
    @api.constrains("cron_interval_number")
    def _check_cron_interval(self):
        for config in self:
            if config.cron_interval_number < 0:
                raise ValidationError(_(
                    "%(name)s: Send Every cannot be negative (0 means no schedule).",
                    name=config.name,
                ))

    @api.constrains("model_id", "trigger_field_ids")
    def _check_trigger_fields(self):
        for config in self:
            foreign = config.trigger_field_ids.filtered(
                lambda f, model=config.model_id: f.model_id != model)
            if foreign:
                raise ValidationError(_(
                    "%(name)s: the Trigger Fields %(fields)s are not fields of %(model)s.",
                    name=config.name, model=config.model_id.model,
                    fields=", ".join(foreign.mapped("name")),
                ))

    @api.onchange("model_id")
    def _onchange_model_trigger_fields(self):
        for config in self:
            config.trigger_field_ids = config.trigger_field_ids.filtered(
                lambda f, model=config.model_id: f.model_id == model)

    # ------------------------------------------------------------- ORM overrides
    @api.model_create_multi
    def create(self, vals_list):
        """Create configurations and the automation rules and schedule they own."""
        configs = super().create(vals_list)
        configs._bj_sync_triggers()
        return configs

    def write(self, vals):
        """Update configurations and keep the rules and schedule they own in step
        (archiving deactivates them, unarchiving reactivates them)."""
        result = super().write(vals)
        if TRIGGER_DEPENDENCIES.intersection(vals):
            self._bj_sync_triggers()
        return result

    def unlink(self):
        """Delete configurations with the automation rules, their server actions and
        the scheduled action they own."""
        owned = self._bj_owned_records()
        result = super().unlink()
        self._bj_delete_owned(*owned)
        return result

    # ------------------------------------------------------------ owned records
    def _bj_owned_records(self):
        """Return ``(rules, crons)`` owned by these configurations, in sudo, archived ones
        included."""
        configs = self.sudo().with_context(active_test=False)
        return configs.automation_ids, configs.cron_id

    @api.model
    def _bj_delete_owned(self, rules, crons):
        """Delete owned rules with their server actions, and owned crons with theirs."""
        rules = rules.sudo().exists()
        actions = rules.action_server_ids
        rules.unlink()
        actions.exists().unlink()
        crons = crons.sudo().exists()
        cron_actions = crons.ir_actions_server_id
        crons.unlink()
        # An ir.cron delegates to its server action, which unlink() leaves behind.
        cron_actions.exists().unlink()

    def _bj_remove_owned_triggers(self):
        """Delete what these configurations own and forget it (for an uninstall hook:
        the rules' code calls this model, which would be gone)."""
        self._bj_delete_owned(*self._bj_owned_records())

    def _bj_sync_triggers(self):
        """Create, update or delete the rules and the cron each configuration owns so
        that they match its settings. Runs in sudo: managers of BJ API need no rights
        on automation rules, server actions or scheduled actions."""
        for config in self.sudo().with_context(active_test=False):
            rules = config._bj_sync_rules()
            cron = config._bj_sync_cron()
            vals = {}
            if rules != config.automation_ids:
                vals["automation_ids"] = [(6, 0, rules.ids)]
            if cron != config.cron_id:
                vals["cron_id"] = cron.id
            if vals:
                config.write(vals)

    def _bj_wanted_rules(self):
        """Return ``{trigger: event}`` of the rules this configuration must own."""
        self.ensure_one()
        if self.request_type != "out" or not self.model_id:
            return {}
        return {trigger: event for flag, trigger, event in TRIGGER_EVENTS if self[flag]}

    def _bj_sync_rules(self):
        """Bring this configuration's rules in step with it; return the rules it owns."""
        self.ensure_one()
        wanted = self._bj_wanted_rules()
        kept = self.env["base.automation"].sudo()
        obsolete = kept
        for rule in self.automation_ids:
            if rule.trigger in wanted and rule.model_id == self.model_id \
                    and rule.trigger not in kept.mapped("trigger"):
                self._bj_update_rule(rule, wanted[rule.trigger])
                kept |= rule
            else:
                # A disabled event, or a rule of the previous model: recreated if needed.
                obsolete |= rule
        self._bj_delete_owned(obsolete, self.env["ir.cron"])
        missing = [(trigger, event) for trigger, event in wanted.items()
                   if trigger not in kept.mapped("trigger")]
        if missing:
            kept |= self._bj_create_rules(missing)
        return kept

    def _bj_rule_name(self, event):
        labels = {"create": _("on creation"), "update": _("on update"),
                  "delete": _("on deletion")}
        return _("BJ API %(config)s: send %(event)s", config=self.name, event=labels[event])

    def _bj_rule_code(self, event):
        return f"env['bj.api.sync.config']._bj_trigger({self.id}, records, {event!r})"

    def _bj_rule_values(self, trigger, event):
        """Return the base.automation values of this configuration's rule for ``event``
        (its server action is created apart, see :meth:`_bj_create_rules`)."""
        self.ensure_one()
        values = {
            "name": self._bj_rule_name(event),
            "model_id": self.model_id.id,
            "trigger": trigger,
            "active": self.active,
        }
        if trigger == "on_write":
            values["trigger_field_ids"] = [(6, 0, self.trigger_field_ids.ids)]
        # Everything in one create(): the rule's computed fields (trigger, trigger
        # fields, domains) would reset each other on later writes, as for webhooks.
        return values

    def _bj_action_values(self, rule, event):
        """Return the values of the Python server action of ``rule`` for ``event``."""
        self.ensure_one()
        return {
            "name": self._bj_rule_name(event),
            "model_id": self.model_id.id,
            "usage": "base_automation",
            "base_automation_id": rule.id,
            "state": "code",
            "code": self._bj_rule_code(event),
        }

    def _bj_create_rules(self, missing):
        """Create the rules of ``missing`` (``[(trigger, event)]``) with their actions.

        The actions are created on their own, in sudo: ir.actions.server refuses
        x2many commands in sudo (``_allow_sudo_commands``), so ``action_server_ids``
        commands would run with the rights of a manager, who has none there.
        """
        self.ensure_one()
        rules = self.env["base.automation"].sudo().create(
            [self._bj_rule_values(trigger, event) for trigger, event in missing])
        self.env["ir.actions.server"].sudo().create(
            [self._bj_action_values(rule, event) for rule, (_t, event) in zip(rules, missing)])
        return rules

    def _bj_update_rule(self, rule, event):
        """Write onto ``rule`` what changed in this configuration since it was made."""
        vals = {}
        name = self._bj_rule_name(event)
        if rule.name != name:
            vals["name"] = name
        if rule.active != self.active:
            vals["active"] = self.active
        if rule.trigger == "on_write" and rule.trigger_field_ids != self.trigger_field_ids:
            # trigger_field_ids alone recomputes nothing the rule relies on (its
            # trigger depends on the model and trigger only).
            vals["trigger_field_ids"] = [(6, 0, self.trigger_field_ids.ids)]
        if vals:
            rule.write(vals)
        code = self._bj_rule_code(event)
        actions = rule.action_server_ids
        if len(actions) != 1 or actions.state != "code" or actions.code != code:
            # Someone edited the rule's actions: put back the one it must have.
            actions.unlink()
            actions.create(self._bj_action_values(rule, event))
        elif actions.name != name:
            actions.name = name

    def _bj_sync_cron(self):
        """Bring this configuration's scheduled action in step with it; return it."""
        self.ensure_one()
        cron = self.cron_id
        if self.request_type != "out" or self.cron_interval_number <= 0:
            self._bj_delete_owned(self.env["base.automation"], cron)
            return self.env["ir.cron"]
        vals = {
            "name": _("BJ API %(config)s: scheduled send", config=self.name),
            "interval_number": self.cron_interval_number,
            "interval_type": self.cron_interval_type,
            "active": self.active,
        }
        if cron:
            changed = {k: v for k, v in vals.items() if cron[k] != v}
            if changed:
                cron.write(changed)
            return cron
        return self.env["ir.cron"].sudo().create({
            **vals,
            "model_id": self.env["ir.model"]._get_id("bj.api.sync.config"),
            "state": "code",
            "code": f"model._bj_run_schedule({self.id})",
            "numbercall": -1,
            # Like the rules (which run as superuser), the schedule does not depend on
            # the rights, or the departure, of whoever configured it.
            "user_id": SUPERUSER_ID,
        })

    # -------------------------------------------------------------- entry points
    @api.model
    def _bj_trigger(self, config_id, records, event):
        """Queue ``records`` for delivery through config ``config_id`` after commit.

        Called by the automation rules the configuration owns (``event``: create,
        update or delete). Does nothing when the configuration is gone, archived or
        not outbound, or for a write that puts an answer of that configuration (or
        of the one whose bindings it uses) back onto the records. Records outside
        the Filter Domain are skipped. Returns the outbox items created.
        """
        Outbox = self.env["bj.api.outbox"].sudo()
        config = self.sudo().browse(config_id).exists()
        if not config or not config.active or config.request_type != "out":
            return Outbox.browse()
        skipped = self.env.context.get(WRITEBACK_KEY) or ()
        owner = config["binding_config_id"].id if "binding_config_id" in config._fields \
            else False
        if config.id in skipped or (owner and owner in skipped):
            return Outbox.browse()
        # Payloads are built now, so a deletion still has its data.
        items = Outbox._enqueue(config, config._select_records(records), event)
        return self._bj_drop_repeats(items)

    @api.model
    def _bj_drop_repeats(self, items):
        """Drop the deliveries the rules queued twice for one change in this
        transaction; return the items that remain of ``items``.

        Odoo runs update rules for each stored computed field that a change
        recomputes (``email`` gives ``email_normalized``), also while a record is
        being created, before its creation rule runs. So an update item that
        repeats one queued earlier in this transaction (same config, records, URL
        and body) is deleted, and a creation deletes the update items this
        transaction queued for the records it creates: the creation carries their
        state, and a POST configuration would otherwise create them twice.
        """
        # {(config id, res_ids): ids of the items queued for them}: lookups stay
        # cheap in a transaction that creates many records.
        memo = self.env.cr.precommit.data.setdefault(QUEUED_MEMO, {})
        Outbox = items.browse()

        def earlier(config_id, res_ids, events):
            ids = memo.get((config_id, res_ids), ())
            return Outbox.browse(ids).exists().filtered(
                lambda e: e.state == "pending" and e.event in events)

        repeats = Outbox
        for item in items:
            config_id = item.config_id.id
            if item.event == "update":
                if any(_delivery_key(e) == _delivery_key(item)
                       for e in earlier(config_id, item.res_ids, ("create", "update"))):
                    repeats |= item
            elif item.event == "create":
                keys = {item.res_ids} | {str(i) for i in item._res_id_list()}
                for res_ids in keys:
                    repeats |= earlier(config_id, res_ids, ("update",))
        repeats.unlink()
        kept = items - repeats
        for item in kept:
            memo.setdefault((item.config_id.id, item.res_ids), set()).add(item.id)
        return kept

    @api.model
    def _bj_run_schedule(self, config_id):
        """Run the schedule of config ``config_id`` (called by the cron it owns)."""
        config = self.sudo().browse(config_id).exists()
        if not config:
            _logger.warning("bj_api_sync: scheduled send of missing configuration %s",
                            config_id)
            return None
        return config._run_schedule()

    def _run_schedule(self):
        """Run what this configuration's schedule does: an import configuration
        imports (the result of :meth:`_run_import`); any other sends every record of
        its Filter Domain now (the ``OutboundResult`` of
        :meth:`_make_outbound_http_request`)."""
        self.ensure_one()
        if self.response_action == "import":
            return self._run_import()
        records = self.env[self.model_name].search(self._get_filter_domain())
        return self.env["bj.api.sync.config"]._make_outbound_http_request(records, self.id)
