from odoo import api, fields, models


class BjApiOauth2Token(models.Model):
    """The OAuth2 access token of one outbound configuration, shared by all workers.

    Read and written only by ``services/oauth2.py``, in plain SQL on a cursor of
    its own (committed at once, so other workers see a new token immediately and
    a rollback of the delivery's transaction does not lose it). Nobody but the
    superuser has access: the row holds a live credential. ``config_id`` is a
    plain integer, not a foreign key: a configuration created in a transaction
    that has not committed yet can already have its token stored. The rows of a
    deleted configuration are deleted with it, and the retention cron drops
    those left behind (a configuration deleted by the database itself, as when
    its model's module is uninstalled, or no longer on OAuth2).
    """

    _name = "bj.api.oauth2.token"
    _description = "BJ API OAuth2 Access Token (cache)"
    _log_access = False

    config_id = fields.Integer(required=True, readonly=True,
                               help="The bj.api.sync.config this token belongs to.")
    access_token = fields.Char(readonly=True)
    expires_at = fields.Datetime(
        readonly=True, help="UTC; the token is not used from then on (30 s before the token "
        "server's expires_in, or its default when the answer had none).")
    auth_method = fields.Selection(
        [("client_secret_basic", "client_secret_basic"),
         ("client_secret_post", "client_secret_post")],
        readonly=True, help="The client authentication the token server accepted last.")
    fingerprint = fields.Char(
        readonly=True, help="HMAC of the token URL, client id, secret and scope the token "
        "was obtained with: a token of other settings is not used.")
    fetched_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("config_unique", "unique(config_id)", "One cached token per configuration."),
    ]

    @api.model
    def _purge_orphans(self):
        """Delete the tokens of configurations that are gone or no longer use
        OAuth2; return how many were deleted."""
        self.env.cr.execute("""
            DELETE FROM bj_api_oauth2_token t
             WHERE NOT EXISTS (SELECT 1 FROM bj_api_sync_config c
                                WHERE c.id = t.config_id AND c.auth_type = 'oauth2')
        """)
        return self.env.cr.rowcount
