from odoo import fields, models


class BjApiSyncHeader(models.Model):
    """A custom HTTP header sent (outbound) or required (inbound, custom auth)."""

    _name = "bj.api.sync.header"
    _inherit = ["bj.api.cache.mixin"]
    _description = "BJ API Custom Header"
    _order = "sequence, id"

    config_id = fields.Many2one(
        "bj.api.sync.config", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    key = fields.Char(required=True, help="Header name, e.g. X-API-Version.")
    value = fields.Char(help="Header value. Sent as is; masked in logs when it is a credential.")
