from odoo import SUPERUSER_ID, api, models, tools

from ..services import inbound_spec


class BjApiSyncConfigInbound(models.Model):
    """Inbound API side of the configurations: cached snapshots for the REST API."""

    _name = "bj.api.sync.config"
    _inherit = ["bj.api.sync.config", "bj.api.cache.mixin"]

    @api.model
    @tools.ormcache("endpoint")
    def _bj_inbound_spec(self, endpoint):
        """Return the frozen ``ResourceSpec`` of the active inbound config of
        ``endpoint``, or None. Cached per registry; cleared on any config change."""
        config = self.sudo().search(
            [("request_type", "=", "in"), ("endpoint", "=", endpoint)], limit=1
        )
        return inbound_spec.build_spec(config) if config else None

    @api.model
    @tools.ormcache()
    def _bj_inbound_endpoints(self):
        """Return the endpoints of the active inbound configs, sorted (cached)."""
        configs = self.sudo().search([("request_type", "=", "in")])
        return tuple(sorted({c.endpoint for c in configs if c.endpoint}))

    @api.model
    @tools.ormcache("model_name", "self.env.uid", "self.env.lang")
    def _bj_field_sets(self, model_name):
        """Return the ``FieldSets`` of ``model_name`` for the current user (cached).

        Group changes of a user clear Odoo's caches, so the cache follows them.
        """
        return inbound_spec.field_sets(self.env[model_name])

    @api.model
    @tools.ormcache("uid")
    def _bj_is_api_user(self, uid):
        """Whether ``uid`` is an active internal user other than the superuser (cached).

        Odoo clears this cache when a user's ``active`` or groups change.
        """
        if not uid or uid == SUPERUSER_ID:
            return False
        self.env.cr.execute("SELECT active, share FROM res_users WHERE id = %s", (uid,))
        row = self.env.cr.fetchone()
        return bool(row and row[0] and not row[1])
