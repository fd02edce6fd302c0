"""Two-way sync settings of outbound configurations (CONTRACT section 4):
bindings, URL placeholders, answers written back, scripts and the envelope."""
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import url_template


class BjApiSyncConfigSync(models.Model):
    _inherit = "bj.api.sync.config"  # pylint: disable=consider-merging-classes-inherited

    response_id_path = fields.Char(
        string="Response ID Path", default="id",
        help="Where the other side's id of a record is in a successful answer (dotted: id, "
        "data.id). For a batch, the answer's array items, in order or matched by the "
        "Record Identifier.",
    )
    binding_config_id = fields.Many2one(
        "bj.api.sync.config", string="Use Bindings Of", ondelete="set null",
        domain="[('request_type', '=', 'out'), ('id', '!=', id)]",
        help="Use the external ids another configuration stored (a PUT or DELETE "
        "configuration reusing the ids its POST configuration received). Empty: its own.",
    )
    only_changed = fields.Boolean(
        help="Skip a record whose payload is the same as the last one delivered "
        "successfully (counted as skipped).",
    )
    body_envelope = fields.Char(
        help="Wrap the body under this key: data gives {\"data\": {...}}, what "
        "/api/sync/v1 of another Odoo expects. Dotted keys nest.",
    )
    request_script = fields.Text(
        groups="bj_api_sync.group_bj_api_manager",
        help="Python run after mapping, before sending, with request_data (a dict, or a "
        "list when paginated), records, record, config and the variables of line "
        "scripts. It may change request_data; its value (or result) replaces the body.",
    )
    response_script = fields.Text(
        groups="bj_api_sync.group_bj_api_manager",
        help="Python run after a successful answer, for its effects, with response "
        "(status_code, headers, data, text), records, record, config, binding and the "
        "variables of line scripts.",
    )
    response_line_ids = fields.One2many(
        "bj.api.sync.config.line", "config_id", string="Response Mappings", copy=True,
        domain=[("usage", "=", "response")], context={"default_usage": "response"},
        help="Keys of the successful answer written onto the record that was sent.",
    )
    binding_ids = fields.One2many("bj.api.sync.binding", "config_id", string="Bindings")
    binding_count = fields.Integer(compute="_compute_binding_count")

    def _compute_binding_count(self):
        owners = {config.id: config._bj_binding_owner().id for config in self}
        counts = dict(self.env["bj.api.sync.binding"]._read_group(
            [("config_id", "in", list(set(owners.values())))], ["config_id"], ["__count"]))
        by_id = {config.id: count for config, count in counts.items()}
        for config in self:
            config.binding_count = by_id.get(owners[config.id], 0)

    def _bj_binding_owner(self):
        """Return the config whose bindings this one reads and writes."""
        self.ensure_one()
        return self.binding_config_id or self

    @api.constrains("url", "model_id", "is_paginated", "request_type")
    def _check_url_placeholders(self):
        """Refuse a URL placeholder that names no field of the model, or that a
        batch of several records could not fill."""
        for config in self.filtered(lambda c: c.request_type == "out" and c.url):
            try:
                names = url_template.placeholders(config.url)
            except url_template.TemplateError as exc:
                raise ValidationError(_("The Request URL of %(name)s: %(error)s.",
                                        name=config.name, error=exc)) from exc
            if not names:
                continue
            if config.is_paginated:
                raise ValidationError(_(
                    "%(name)s: URL placeholders (%(names)s) are filled from one record; "
                    "a paginated configuration sends several per request.",
                    name=config.name, names=", ".join("{%s}" % n for n in names)))
            for path in url_template.field_paths(config.url):
                problem = config._bj_field_path_problem(path)
                if problem:
                    raise ValidationError(_(
                        "The Request URL of %(name)s uses {%(path)s}: %(problem)s",
                        name=config.name, path=path, problem=problem))

    def _bj_field_path_problem(self, path):
        """Return why ``path`` is not a field path of the config's model, or None."""
        if not self.model_name or self.model_name not in self.env:
            return _("the configuration has no model.")
        model = self.env[self.model_name]
        parts = path.split(".")
        for position, name in enumerate(parts):
            field = model._fields.get(name)
            if field is None:
                return _("%(model)s has no field %(field)s.", model=model._name, field=name)
            if position < len(parts) - 1:
                if not field.relational:
                    return _("%(field)s of %(model)s is not a relational field.",
                             field=name, model=model._name)
                model = self.env[field.comodel_name]
        return None

    @api.constrains("binding_config_id")
    def _check_binding_config(self):
        for config in self.filtered("binding_config_id"):
            owner = config.binding_config_id
            if owner == config:
                raise ValidationError(_("%s cannot use its own bindings as another's.",
                                        config.name))
            if owner.model_id != config.model_id:
                raise ValidationError(_(
                    "%(name)s sends %(model)s records: it cannot use the bindings of "
                    "%(other)s, which sends %(other_model)s.", name=config.name,
                    model=config.model_name, other=owner.name, other_model=owner.model_name))

    def action_view_bindings(self):
        """Open the bindings this configuration reads and writes."""
        self.ensure_one()
        owner = self._bj_binding_owner()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "bj_api_sync.action_bj_api_sync_binding")
        action["domain"] = [("config_id", "=", owner.id)]
        action["context"] = {"default_config_id": owner.id}
        return action
