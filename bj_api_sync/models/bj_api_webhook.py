import logging
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval

from ..engine import serialize, url_guard

_logger = logging.getLogger(__name__)

#: Event names accepted by the API -> base.automation trigger.
EVENT_TRIGGERS = {
    "create": "on_create",
    "update": "on_write",
    "delete": "on_unlink",
    "record.created": "on_create",
    "record.updated": "on_write",
    "record.deleted": "on_unlink",
    "state.changed": "on_write",
}


class BjApiWebhook(models.Model):
    """An outbound webhook registered through ``POST /api/sync/v1/webhooks`` or
    ``/events/subscribe``.

    It owns an outbound configuration (where and how to call) and one
    automation rule per event; the rules' server actions call :meth:`_bj_fire`,
    which builds the event payloads *as the owner* (records the owner may not
    read are not sent) and queues them in the outbox, in the transaction of
    the change: a rolled-back change sends nothing.
    """

    _name = "bj.api.webhook"
    _description = "BJ API Webhook"
    _order = "id desc"

    name = fields.Char(required=True)
    public_id = fields.Char(
        string="Webhook ID", required=True, readonly=True, index=True, copy=False,
        default=lambda self: "wh_" + secrets.token_hex(8),
    )
    active = fields.Boolean(default=True)
    user_id = fields.Many2one(
        "res.users", string="Owner", required=True, ondelete="cascade", index=True,
        help="The API user who registered it; payloads are built with this user's rights.",
    )
    model_id = fields.Many2one("ir.model", required=True, ondelete="cascade")
    model_name = fields.Char(related="model_id.model", store=True, string="Model Name")
    events = fields.Char(required=True, help="Comma-separated event names, as registered.")
    field_names = fields.Char(string="Fields", help="Comma-separated field names sent in data.")
    config_id = fields.Many2one(
        "bj.api.sync.config", string="Outbound Configuration", ondelete="set null",
        help="Created with the webhook: URL, method and authentication of the calls.",
    )
    url = fields.Char(related="config_id.url", string="URL")
    automation_ids = fields.Many2many(
        "base.automation", string="Automation Rules",
        help="Created with the webhook, one per event; removed with it.",
    )

    _sql_constraints = [
        ("public_id_unique", "unique(public_id)", "Webhook ids are unique."),
    ]

    def _event_list(self):
        return [e for e in (self.events or "").split(",") if e]

    def _field_list(self):
        return [f for f in (self.field_names or "").split(",") if f]

    @api.constrains("config_id", "user_id", "automation_ids")
    def _check_condition_paths(self):
        """Refuse conditions that reach a field the owner may not read.

        Odoo evaluates an automation rule's conditions as superuser: a path
        such as ``parent_id.signup_type`` (a field simple users may not read)
        would otherwise tell the owner, through the events it receives, values
        hidden from them. Every segment of every path is checked, not only the
        first.
        """
        for webhook in self.filtered("config_id"):
            domains = [webhook.config_id._get_filter_domain()]
            domains += [webhook._automation_domain(rule) for rule in webhook.automation_ids]
            for domain in domains:
                webhook._check_domain_paths(domain)

    def _automation_domain(self, rule):
        text = (rule.sudo().filter_domain or "").strip()
        return safe_eval(text, rule._get_eval_context()) if text else []

    def _check_domain_paths(self, domain):
        """Raise ValidationError unless the owner may read (and search) every
        field on every path of ``domain``, and every model it goes through."""
        self.ensure_one()
        owner = self.user_id
        configs = self.env["bj.api.sync.config"].with_user(owner)
        for term in domain:
            if not isinstance(term, (list, tuple)) or len(term) != 3 \
                    or not isinstance(term[0], str):
                continue
            path = term[0]
            segments = path.split(".")
            model_name = self.model_name
            for position, segment in enumerate(segments):
                if segment == "id" and position == len(segments) - 1:
                    break
                readable = model_name in self.env and self.env[model_name].with_user(
                    owner).check_access_rights("read", raise_exception=False)
                desc = configs._bj_field_sets(model_name).readable.get(segment) \
                    if readable else None
                if desc is None or not desc.get("searchable", True):
                    raise ValidationError(_(
                        "Condition on %(path)s: %(field)s of %(model)s is not available "
                        "to the webhook's owner %(owner)s.",
                        path=path, field=segment, model=model_name, owner=owner.login,
                    ))
                if position < len(segments) - 1:
                    model_name = desc.get("relation")
                    if not model_name:
                        raise ValidationError(_(
                            "Condition on %(path)s: %(field)s is not a relational field.",
                            path=path, field=segment,
                        ))

    @api.model
    def _bj_guards_target(self, config):
        """Tell whether deliveries through ``config`` must not reach this server or a
        private network: configs created by a webhook, unless the system
        parameter allows internal targets."""
        webhooks = self.sudo().with_context(active_test=False)
        if not config.id or not webhooks.search_count([("config_id", "=", config.id)], limit=1):
            return False
        param = self.env["ir.config_parameter"].sudo().get_param(url_guard.ALLOW_INTERNAL_PARAM)
        return not url_guard.allows_internal(param)

    @api.model
    def _bj_target_refusal(self, config):
        """Return why a delivery through guarded ``config`` may not be sent now, or None.

        The URL's host is resolved again at every delivery (a name may point
        elsewhere than when it was registered) and refused when it is on this
        server or a private network. The address really connected to is
        checked again by the HTTP client (``refuse_internal``), so a name that
        changes between this check and the connection is refused too.
        """
        host = url_guard.internal_host(config.url or "")
        if not host:
            return None
        _logger.warning("bj_api_sync: webhook delivery of config %s to %s refused: internal "
                        "address", config.id, host)
        return _(
            "Delivery refused, nothing was sent: %(host)s is an address on this server or a "
            "private network, which a webhook may not target (the system parameter "
            "%(param)s allows it).",
            host=host, param=url_guard.ALLOW_INTERNAL_PARAM,
        )

    @api.model
    def _bj_subscribe(self, user_id, *, url, events, model_name, field_names, domain,
                      auth_values):
        """Create a webhook of ``user_id`` with its outbound config and automation rules.

        The arguments are checked already (see ``services.inbound_webhooks``):
        ``domain`` is a parsed domain, ``auth_values`` config values of the
        authentication. Returns the webhook.
        """
        model = self.env["ir.model"]._get(model_name)
        webhook = self.create({
            "name": f"{model_name} -> {url}"[:250],
            "user_id": user_id,
            "model_id": model.id,
            "events": ",".join(events),
            "field_names": ",".join(field_names),
        })
        domain_text = repr([list(t) if isinstance(t, tuple) else t for t in domain])
        field_ids = {f.name: f.id for f in model.field_id if f.name in field_names}
        config = self.env["bj.api.sync.config"].create({
            "name": f"Webhook {webhook.public_id} ({model_name})",
            "request_type": "out",
            "model_id": model.id,
            "url": url,
            "http_method_ids": [(6, 0, self.env.ref("bj_api_sync.http_method_post").ids)],
            "filter_domain": domain_text,
            "line_ids": [(0, 0, {"external_key": n, "field_id": field_ids[n]})
                         for n in field_names if n in field_ids],
            **auth_values,
        })
        automations = self.env["base.automation"]
        for event in events:
            automations |= automations.create(
                webhook._bj_rule_values(model, event, domain_text if domain else None))
        webhook.write({"config_id": config.id, "automation_ids": [(6, 0, automations.ids)]})
        return webhook

    def _bj_rule_values(self, model, event, domain_text):
        """Return the base.automation values of this webhook's rule for ``event``."""
        self.ensure_one()
        name = f"Webhook {self.public_id}: {event}"
        values = {
            "name": name,
            "model_id": model.id,
            "trigger": EVENT_TRIGGERS[event],
            "action_server_ids": [(0, 0, {
                "name": name,
                "model_id": model.id,
                "state": "code",
                "code": f"env['bj.api.webhook']._bj_fire({self.id}, records, {event!r})",
            })],
        }
        if event == "state.changed":
            values["trigger_field_ids"] = [
                (6, 0, model.field_id.filtered(lambda f: f.name == "state").ids)]
        if domain_text:
            values["filter_domain"] = domain_text
        # Everything in one create(): the rule's computed fields (filter domain,
        # trigger fields) would reset each other on later writes.
        return values

    #: What a registration decided: changing it would leave the rules and the
    #: configuration the webhook owns out of step with what the API reports.
    _REGISTERED_FIELDS = ("public_id", "user_id", "model_id", "events", "field_names")

    def write(self, vals):
        """Update webhooks; what was registered through the API cannot change here
        (delete the webhook and register it again), archiving can."""
        changed = [name for name in self._REGISTERED_FIELDS if name in vals
                   and any(webhook[name] != webhook._fields[name].convert_to_record(
                       webhook._fields[name].convert_to_cache(vals[name], webhook), webhook)
                       for webhook in self)]
        if changed:
            raise UserError(_(
                "A webhook keeps what was registered through the API (%(fields)s): delete "
                "it and register it again to change that. It can be archived to pause it.",
                fields=", ".join(self._fields[name].string for name in changed),
            ))
        return super().write(vals)

    def unlink(self):
        """Delete webhooks together with the automation rules and config they created."""
        automations = self.sudo().automation_ids
        configs = self.sudo().config_id
        result = super().unlink()
        actions = automations.action_server_ids
        automations.unlink()
        actions.exists().unlink()
        configs.exists().unlink()
        return result

    @api.model
    def _bj_fire(self, webhook_id, records, event):
        """Queue the ``event`` payloads of ``records`` for webhook ``webhook_id``.

        Called by the webhook's automation rules (as superuser). Payloads are
        built as the webhook's owner; records the owner cannot read are skipped.
        Returns the outbox items created.
        """
        webhook = self.sudo().browse(webhook_id).exists()
        Outbox = self.env["bj.api.outbox"].sudo()
        as_owner = webhook._bj_records_as_owner(records) if webhook else None
        if not as_owner:
            return Outbox.browse()
        readable = as_owner.fields_get(attributes=["type"])
        names = [f for f in webhook._field_list() if f in readable] or None
        old_values = self.env.context.get("old_values") or {}
        kept, payloads = records.browse(), []
        for record, data in zip(as_owner, webhook._bj_data(as_owner, names)):
            change = webhook._bj_change(record, event, old_values.get(record.id, {}),
                                        data, names, readable)
            if change is None:
                continue
            changed, extra = change
            payloads.append(webhook._bj_payload(record, event, data, changed, extra))
            kept |= record
        if not kept:
            return Outbox.browse()
        return Outbox._enqueue(webhook.config_id.sudo(), kept.sudo(), f"webhook:{event}",
                               payloads=payloads)

    def _bj_records_as_owner(self, records):
        """Return ``records`` as the owner, kept to those the owner may read and
        that meet the conditions for the owner; empty when the webhook is off."""
        self.ensure_one()
        owner = self.user_id
        if not self.active or not self.config_id or not records \
                or not owner.active or owner.share:
            return None
        as_owner = records.with_user(owner).with_context(active_test=False).exists()
        if not as_owner.check_access_rights("read", raise_exception=False):
            return None
        # The rule matched the conditions as superuser; they must hold for the
        # owner too: fields the owner may read, records their rules let through.
        domain = self.config_id._get_filter_domain()
        if domain:
            try:
                self._check_domain_paths(domain)
                return as_owner.search(expression.AND([[("id", "in", as_owner.ids)], domain]))
            except (ValidationError, AccessError) as exc:
                _logger.warning("bj_api_sync: webhook %s not fired: %s", self.public_id, exc)
                return None
        return as_owner._filter_access_rules("read")

    def _bj_change(self, record, event, old, data, names, readable):
        """Return ``(changed_fields, extra keys)`` of the event for ``record``, or
        None when it is no news for the subscriber (nothing watched changed)."""
        if event in ("create", "record.created"):
            return sorted(k for k in data if k != "id"), {}
        if event not in ("update", "record.updated", "state.changed"):
            return [], {}
        # Only the subscribed fields count (all readable ones when none were
        # given): recomputations of other fields are not news.
        if event == "state.changed":
            watched = {"state"}
        elif names:
            watched = set(names)
        else:
            watched = {f for f in readable if not record._fields[f].compute}
        changed = [f for f in old if f in watched and f in readable
                   and record._fields[f].convert_to_cache(record[f], record, validate=False)
                   != record._fields[f].convert_to_cache(old[f], record, validate=False)]
        if not changed:
            return None  # a write that changed nothing the owner can see
        if event == "state.changed":
            return changed, {"old_state": old.get("state"), "new_state": record.state}
        return changed, {}

    def _bj_payload(self, record, event, data, changed, extra):
        """Return the JSON payload of one event of ``record``."""
        return {
            "event": event,
            "timestamp": fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": record._name,
            "record_id": record.id,
            "data": data,
            "changed_fields": changed,
            **extra,
            "metadata": {
                "user_id": self.env.uid,
                "company_id": self.env.company.id,
                "database": self.env.cr.dbname,
                "webhook_id": self.public_id,
            },
        }

    def _bj_data(self, records, names):
        """Return the ``data`` of each record's payload: the webhook's fields, read as
        the owner in one read."""
        if names is None:
            fsets = self.env["bj.api.sync.config"].with_user(self.user_id)._bj_field_sets(
                records._name
            )
            names = list(fsets.default_read)
        described = records.fields_get(names, attributes=["type"])
        names = [n for n in names if n in described and n != "id"]
        return [serialize.serialize_record(row, described) for row in records.read(names)]

    def _bj_describe(self):
        """Return the JSON description of a webhook (``GET /webhooks``)."""
        self.ensure_one()
        return {
            "webhook_id": self.public_id,
            "url": self.config_id.url or "",
            "events": self._event_list(),
            "model": self.model_name,
            "fields": self._field_list(),
            "status": "active" if self.active else "inactive",
            "created_at": self.create_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
