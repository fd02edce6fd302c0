"""Signed deliveries of outbound configurations (CONTRACT section 5, Standard Webhooks).

With a ``signing_secret``, every attempt of the configuration's deliveries carries
``webhook-id`` (the delivery's Idempotency-Key), ``webhook-timestamp`` and
``webhook-signature``: see ``engine.signing``. The secret is a manager-only field
and is masked in the logs like the other credentials.
"""
from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import signing

MANAGER_GROUP = "bj_api_sync.group_bj_api_manager"


class BjApiSyncConfigSigning(models.Model):
    _inherit = "bj.api.sync.config"  # pylint: disable=consider-merging-classes-inherited

    signing_secret = fields.Char(
        groups=MANAGER_GROUP, copy=False,
        help="Standard Webhooks signing secret (whsec_ followed by base64). When set, "
        "every attempt carries the headers webhook-id (the Idempotency-Key, the same on "
        "every retry), webhook-timestamp and webhook-signature (v1, HMAC-SHA256 of "
        "'{id}.{timestamp}.{body}'), so the receiver can check that the call comes from "
        "this database and was not changed or replayed. Empty: deliveries are not signed.",
    )

    def action_generate_signing_secret(self):
        """Give the outbound configuration a new random signing secret (managers only).

        The new secret replaces the old one at once: deliveries from now on are
        signed with it, so receivers must be given the new secret.
        """
        self.ensure_one()
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only BJ API managers may generate a signing secret."))
        if self.request_type != "out":
            raise UserError(_("Only outbound configurations sign their deliveries."))
        replaced = bool(self.sudo().signing_secret)
        # Written as the manager: the field's group is checked like any other write.
        self.signing_secret = signing.generate_secret()
        if replaced:
            message = _("A new signing secret replaces the old one: deliveries are signed "
                        "with it from now on, give it to the receivers.")
        else:
            message = _("A signing secret was generated: deliveries are signed from now on, "
                        "give it to the receivers.")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": message,
                       "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }
