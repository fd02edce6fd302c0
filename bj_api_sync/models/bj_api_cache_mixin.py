from odoo import api, models


class BjApiCacheMixin(models.AbstractModel):
    """Forgets the inbound API's cached config snapshots on every change.

    The inbound API caches each configuration with its lines, headers and
    params (``ormcache``); any create, write or unlink of those models clears
    the registry's cache, which Odoo also signals to the other workers.
    """

    _name = "bj.api.cache.mixin"
    _description = "BJ API Cache Invalidation Mixin"

    @api.model_create_multi
    def create(self, vals_list):
        """Create records and forget the inbound API's cached config snapshots."""
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        """Write records and forget the inbound API's cached config snapshots."""
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        """Delete records and forget the inbound API's cached config snapshots."""
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
