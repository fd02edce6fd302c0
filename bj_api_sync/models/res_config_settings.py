from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    """BJ API settings in Settings > General Settings."""

    _inherit = "res.config.settings"

    bj_api_log_retention_days = fields.Integer(
        string="BJ API Log Retention (days)",
        config_parameter="bj_api_sync.log_retention_days",
        default=30,
        help="Logs, and delivered queue items, older than this are deleted every day. "
        "0 keeps them forever.",
    )
    bj_api_log_body_limit = fields.Integer(
        string="BJ API Log Body Limit (characters)",
        config_parameter="bj_api_sync.log_body_limit",
        default=65536,
        help="Request and response bodies longer than this are truncated in the logs.",
    )
