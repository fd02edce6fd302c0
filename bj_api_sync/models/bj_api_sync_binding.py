"""The other side's id of each record synced by an outbound configuration."""
from odoo import _, api, fields, models

BINDING_STATES = [("synced", "Synced"), ("failed", "Failed"), ("deleted", "Deleted")]


class BjApiSyncBinding(models.Model):
    """What the other side calls one record of one configuration, and how its
    last delivery went: the id read from the answer, the payload's hash (for
    Only Changed) and the last error."""

    _name = "bj.api.sync.binding"
    _description = "BJ API Sync Binding"
    _order = "last_sync_at desc, id desc"
    _rec_name = "external_id"
    # Written in bulk after every delivery: the ORM's four audit columns (and
    # their two foreign keys checked per row) would cost more than the rest of
    # the row; last_sync_at says when.
    _log_access = False

    config_id = fields.Many2one(
        # Indexed by the unique (config_id, res_model, res_id) constraint.
        "bj.api.sync.config", string="Configuration", required=True, ondelete="cascade",
        readonly=True,
    )
    res_model = fields.Char(string="Model", required=True, readonly=True)
    res_id = fields.Integer(string="Record ID", required=True, readonly=True)
    external_id = fields.Char(
        string="External ID", index=True,
        help="The record's id on the other side, read from the answer at the "
        "configuration's Response ID Path.",
    )
    state = fields.Selection(BINDING_STATES, required=True, default="synced")
    last_sync_at = fields.Datetime(string="Last Sync", readonly=True)
    last_payload_hash = fields.Char(
        readonly=True, help="Digest of the last payload delivered successfully (Only Changed).")
    last_error = fields.Text(readonly=True)
    record_name = fields.Char(compute="_compute_record_name", string="Record")

    _sql_constraints = [
        ("record_unique", "unique(config_id, res_model, res_id)",
         "A record has one binding per configuration."),
    ]

    def init(self):
        """Leave room in each page, so that the update after a delivery stays on its
        page and touches no index (a HOT update: no indexed column changes)."""
        self.env.cr.execute("ALTER TABLE bj_api_sync_binding SET (fillfactor = 70)")

    @api.depends("res_model", "res_id")
    def _compute_record_name(self):
        for binding in self:
            model = binding.res_model
            record = (self.env[model].browse(binding.res_id).exists()
                      if model in self.env and binding.res_id else None)
            binding.record_name = (record.sudo().display_name if record
                                   else f"{model},{binding.res_id}")

    def action_open_record(self):
        """Open the Odoo record this binding is about."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Synced record"),
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
