from odoo import _, api, fields, models


class BjApiSyncSendNow(models.TransientModel):
    """The confirmation of Send Now: how many records it is about to queue."""

    _name = "bj.api.sync.send.now"
    _description = "BJ API Send Now Confirmation"

    config_id = fields.Many2one("bj.api.sync.config", required=True, ondelete="cascade")
    record_count = fields.Integer(compute="_compute_summary", string="Records")
    summary = fields.Char(compute="_compute_summary")

    @api.depends("config_id")
    def _compute_summary(self):
        for wizard in self:
            config = wizard.config_id
            count = len(config._send_now_ids()) if config else 0
            wizard.record_count = count
            wizard.summary = _(
                "%(count)s record(s) of %(model)s match the filter domain of %(name)s and "
                "will be queued for delivery now.",
                count=count, model=config.model_name, name=config.name,
            ) if config else False

    def action_confirm(self):
        """Queue the records (Send Now) and close the dialog."""
        self.ensure_one()
        return self.config_id.action_send_now()
