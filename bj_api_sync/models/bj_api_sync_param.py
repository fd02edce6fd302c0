from odoo import fields, models

PARAM_OPERATORS = [
    ("=", "="),
    ("!=", "!="),
    ("ilike", "contains (ilike)"),
    ("like", "contains (like)"),
    ("<", "<"),
    ("<=", "<="),
    (">", ">"),
    (">=", ">="),
    ("in", "in (comma separated)"),
]


class BjApiSyncParam(models.Model):
    """A URL parameter: sent in the query string (outbound) or, with a field,
    turned into a search filter `?key=value` (inbound)."""

    _name = "bj.api.sync.param"
    _inherit = ["bj.api.cache.mixin"]
    _description = "BJ API URL Parameter"
    _order = "sequence, id"

    config_id = fields.Many2one(
        "bj.api.sync.config", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    key = fields.Char(required=True)
    value = fields.Char(help="Outbound: the value sent. Inbound: unused (the client sends it).")
    model_id = fields.Many2one(related="config_id.model_id")
    field_id = fields.Many2one(
        "ir.model.fields",
        ondelete="cascade",
        domain="[('model_id', '=', model_id)]",
        help="Inbound: the field that ?key=value filters on.",
    )
    operator = fields.Selection(PARAM_OPERATORS, default="=")
