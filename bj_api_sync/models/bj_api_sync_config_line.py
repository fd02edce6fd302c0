from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

VALUE_TYPES = [
    ("plain", "Plain"),
    ("relational", "Relational with Mapping Model"),
    ("python", "Python Script for Plain Value"),
    ("relational_python", "Relational with Python Script"),
]
RELATIONAL_TYPES = ("many2one", "one2many", "many2many")


class BjApiSyncConfigLine(models.Model):
    """One field mapping: an Odoo field and the key it has in the external JSON."""

    _name = "bj.api.sync.config.line"
    _inherit = ["bj.api.cache.mixin"]
    _description = "BJ API Field Mapping"
    _order = "sequence, id"

    config_id = fields.Many2one(
        "bj.api.sync.config", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    usage = fields.Selection(
        [("request", "Request"), ("response", "Response")], default="request", required=True,
        help="Request: a key of the body sent (or received, inbound). Response: a key of "
        "a successful answer, written onto the record that was sent.",
    )
    model_id = fields.Many2one(related="config_id.model_id")
    field_id = fields.Many2one(
        "ir.model.fields",
        ondelete="cascade",
        domain="[('model_id', '=', model_id)]",
    )
    field_type = fields.Selection(related="field_id.ttype", string="Field Type")
    field_name = fields.Char(related="field_id.name", string="Technical Name")
    external_key = fields.Char(
        string="External API Key",
        required=True,
        help="Key in the external JSON. Dotted keys (address.city) build and read "
        "nested objects.",
    )
    is_identifier = fields.Boolean(
        string="Record Identifier",
        help="Used to find the existing record (an inbound create becomes an update "
        "when it matches). At most one per configuration.",
    )
    value_type = fields.Selection(
        VALUE_TYPES, string="Value Calculation Type", default="plain", required=True
    )
    related_path = fields.Char(
        help="Relational: dotted path relative to the field (field partner_id with "
        "path name gives partner_id.name).",
    )
    mapping_config_id = fields.Many2one(
        "bj.api.sync.config",
        string="Mapping Model",
        ondelete="restrict",
        help="Relational: the configuration whose field mappings build the nested "
        "object(s) of a many2one or x2many field.",
    )
    python_code = fields.Text(
        help="Runs in Odoo's safe_eval sandbox with env, model, record, records, "
        "request_data, value, time, datetime, dateutil, timezone, b64encode, "
        "b64decode, UserError, Command, json, log, float_compare.",
    )
    python_mode = fields.Selection(
        [("evaluate", "Evaluate"), ("execute", "Execute")],
        default="evaluate",
        help="Evaluate: the expression's value (or the variable result) goes to the "
        "key. Execute: the statements run for their effects; nothing is assigned.",
    )

    def action_edit_script(self):
        """Open this line's Python script in a dialog that explains its variables."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Script of %s", self.external_key),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(self.env.ref("bj_api_sync.bj_api_sync_config_line_view_script_form").id,
                       "form")],
            "target": "new",
        }

    @api.constrains("is_identifier", "config_id")
    def _check_single_identifier(self):
        for config in self.config_id:
            if len(config.line_ids.filtered("is_identifier")) > 1:
                raise ValidationError(
                    _(
                        "Configuration %(name)s can have at most one Record Identifier line.",
                        name=config.name,
                    )
                )

    @api.constrains("external_key", "config_id")
    def _check_key_nesting(self):
        """A key cannot hold a value and be the parent of dotted keys (``a``, ``a.b``)."""
        for config in self.config_id:
            keys = {(line.external_key or "").strip() for line in config.line_ids}
            for key in sorted(keys):
                parts = key.split(".")
                for depth in range(1, len(parts)):
                    parent = ".".join(parts[:depth])
                    if parent in keys:
                        raise ValidationError(
                            _(
                                "Configuration %(name)s maps both %(parent)s and %(key)s: "
                                "%(parent)s cannot be a value and an object holding "
                                "%(key)s at once. Rename one of the keys.",
                                name=config.name,
                                parent=parent,
                                key=key,
                            )
                        )

    @api.constrains("field_id", "config_id")
    def _check_field_model(self):
        for line in self.filtered("field_id"):
            if line.field_id.model_id != line.config_id.model_id:
                raise ValidationError(
                    _(
                        "Field %(field)s of mapping %(key)s belongs to %(field_model)s, not "
                        "to %(model)s, the model of configuration %(name)s.",
                        field=line.field_id.name,
                        key=line.external_key,
                        field_model=line.field_id.model,
                        model=line.config_id.model_id.model,
                        name=line.config_id.name,
                    )
                )

    @api.constrains("value_type", "field_id", "python_code", "mapping_config_id")
    def _check_value_type(self):
        for line in self:
            if line.value_type in ("python", "relational_python") and not (
                line.python_code or ""
            ).strip():
                raise ValidationError(
                    _("Mapping %(key)s needs a Python script.", key=line.external_key)
                )
            if line.value_type in ("plain", "relational") and not line.field_id:
                raise ValidationError(
                    _("Mapping %(key)s needs a field.", key=line.external_key)
                )
            if line.value_type.startswith("relational") and line.field_id:
                if line.field_id.ttype not in RELATIONAL_TYPES:
                    raise ValidationError(
                        _(
                            "Mapping %(key)s is relational but field %(field)s is a "
                            "%(type)s field.",
                            key=line.external_key,
                            field=line.field_id.name,
                            type=line.field_id.ttype,
                        )
                    )
                sub = line.mapping_config_id
                if sub and sub.model_id.model != line.field_id.relation:
                    raise ValidationError(
                        _(
                            "The Mapping Model of %(key)s is for %(sub_model)s, but field "
                            "%(field)s points to %(relation)s.",
                            key=line.external_key,
                            sub_model=sub.model_id.model,
                            field=line.field_id.name,
                            relation=line.field_id.relation,
                        )
                    )
            if line.mapping_config_id == line.config_id and line.config_id:
                raise ValidationError(
                    _("Mapping %(key)s cannot use its own configuration as Mapping Model.",
                      key=line.external_key)
                )

    @api.onchange("field_id")
    def _onchange_field_id(self):
        for line in self:
            if line.field_id and not line.external_key:
                line.external_key = line.field_id.name
