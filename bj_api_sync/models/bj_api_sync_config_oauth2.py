"""OAuth2 client credentials of outbound configurations (CONTRACT section 5).

With ``auth_type`` ``oauth2`` every request carries ``Authorization: Bearer``
with an access token obtained from ``oauth2_token_url`` (grant type
client_credentials, ``engine/oauth2.py``), cached for all workers in
``bj.api.oauth2.token`` until 30 s before it expires and fetched again once
after a 401 (``services/oauth2.py``, ``RequestFactory.dispatch``). The client
secret is a manager-only field, masked in the logs like the other credentials;
the token is never shown.
"""
from urllib.parse import urlparse

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import http_client, masking, oauth2, policy
from ..services import oauth2 as oauth2_tokens
from ..services import outbound

MANAGER_GROUP = "bj_api_sync.group_bj_api_manager"
# Changing one of these makes the cached token useless (see services/oauth2.fingerprint).
OAUTH2_FIELDS = ("oauth2_token_url", "oauth2_client_id", "oauth2_client_secret",
                 "oauth2_scope", "auth_type")


class BjApiSyncConfigOauth2(models.Model):
    _inherit = "bj.api.sync.config"  # pylint: disable=consider-merging-classes-inherited

    auth_type = fields.Selection(
        selection_add=[("oauth2", "OAuth2 Client Credentials")],
        ondelete={"oauth2": "set default"},
    )
    oauth2_token_url = fields.Char(
        string="Token URL",
        help="Outbound, OAuth2: the token endpoint (https://auth.example.com/oauth/token). "
        "Tokens are asked for with grant_type=client_credentials.",
    )
    oauth2_client_id = fields.Char(string="Client ID")
    oauth2_client_secret = fields.Char(
        # Copied with the configuration, as the other credentials: a duplicate must
        # stay valid (the cached token is not copied, it is fetched again).
        string="Client Secret", groups=MANAGER_GROUP,
        help="Sent to the token server only (HTTP Basic, or in the form when the server "
        "refuses Basic); never in a log.",
    )
    oauth2_scope = fields.Char(
        string="Scope", help="Space-separated scopes asked for; empty: the server's default.")

    @api.constrains("request_type", "auth_type", "oauth2_token_url", "oauth2_client_id",
                    "oauth2_client_secret")
    def _check_oauth2(self):
        """An oauth2 configuration is outbound and has a token URL, a client id and a
        secret."""
        for config in self.sudo().filtered(lambda c: c.auth_type == "oauth2"):
            if config.request_type != "out":
                raise ValidationError(_(
                    "%s: OAuth2 client credentials are for outbound configurations; inbound "
                    "callers use Bearer (an Odoo API key) or Basic.", config.name))
            url = (config.oauth2_token_url or "").strip()
            parsed = urlparse(url)
            if not url:
                missing = config._fields["oauth2_token_url"].string
            elif parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValidationError(_(
                    "%(name)s: the Token URL must be an absolute http:// or https:// URL, "
                    "not %(url)r.", name=config.name, url=url))
            elif not (config.oauth2_client_id or "").strip():
                missing = config._fields["oauth2_client_id"].string
            elif not config.oauth2_client_secret:
                missing = config._fields["oauth2_client_secret"].string
            else:
                continue
            raise ValidationError(_("%(name)s: OAuth2 Client Credentials authentication "
                                    "needs %(missing)s.", name=config.name, missing=missing))

    def write(self, vals):
        """Update configurations; new OAuth2 settings drop the cached tokens once saved
        (until then the token's fingerprint already keeps it from being used)."""
        result = super().write(vals)
        if any(name in vals for name in OAUTH2_FIELDS):
            ids, dbname = list(self.ids), self.env.cr.dbname
            self.env.cr.postcommit.add(lambda: oauth2_tokens.forget_now(dbname, ids))
        return result

    def unlink(self):
        """Delete configurations and their cached tokens."""
        oauth2_tokens.forget(self.env, self.ids)
        return super().unlink()

    def action_test_connection(self):
        """OAuth2: fetch a token first and say what the token server answered (never
        the token); then test the connection with it as for any configuration."""
        self.ensure_one()
        if self.auth_type != "oauth2":
            return super().action_test_connection()
        config = self._get_outbound_config(self.id)
        factory = outbound.RequestFactory(config)
        token_url = oauth2.safe_url(config.oauth2_token_url)
        try:
            token = factory.oauth2.fetch_now()
        except oauth2.TokenError as exc:
            message = masking.mask_text(str(exc), factory.secrets)
            result = http_client.AttemptResult(
                outcome=policy.FAIL, status_code=exc.status, error=message,
                url=config.oauth2_token_url)
            self._bj_log_connection_test(factory, result, "POST", "failed")
            return self._notify("danger", message, sticky=True)
        answered = _("Token server %(url)s answered %(answer)s.", url=token_url,
                     answer=token.describe())
        # The same factory, with the token just fetched; the test's log row and its
        # message say what the token server answered.
        return self._bj_test_connection(config, factory, summary=answered)
