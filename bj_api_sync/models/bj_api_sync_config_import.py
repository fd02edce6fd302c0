"""Pull settings of outbound GET configurations (CONTRACT section 4, "Pull")."""
from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import importer

PAGINATION_STYLES = [
    ("none", "None (one request)"),
    ("page", "Page number"),
    ("offset", "Offset and limit"),
    ("cursor", "Cursor"),
    ("next_link", "Next link"),
]


class BjApiSyncConfigImport(models.Model):
    _inherit = "bj.api.sync.config"  # pylint: disable=consider-merging-classes-inherited

    response_action = fields.Selection(
        [("log", "Log the answer"), ("import", "Import records")], default="log",
        required=True,
        help="Import (GET configurations): create or update records of the model from "
        "the answer, mapped by the Field Mappings as the inbound API maps data, the Record "
        "Identifier deciding between create and update.",
    )
    import_items_path = fields.Char(
        string="Items Path",
        help="Dotted path of the item list in the answer (records, data.items). Empty: "
        "the answer itself (a list, or one object).",
    )
    import_pagination = fields.Selection(
        PAGINATION_STYLES, default="none", required=True, string="Pagination",
        help="How the next page is asked for. Page number and offset stop at a page "
        "shorter than Page Size; cursor when the answer has no next cursor; next link when "
        "the answer (or a Link: <...>; rel=\"next\" header) has no next URL.",
    )
    import_page_param = fields.Char(
        string="Page Parameter", default="page",
        help="Query name of the page number (for offset: of the offset; page gives offset).")
    import_size_param = fields.Char(
        string="Size Parameter", default="per_page",
        help="Query name of the page size, Page Size being the value (for offset: of the "
        "limit; per_page gives limit).")
    import_cursor_path = fields.Char(
        string="Cursor Path", help="Cursor: dotted path of the next cursor in the answer.")
    import_cursor_param = fields.Char(
        string="Cursor Parameter", help="Cursor: query name the next cursor is sent as.")
    import_next_path = fields.Char(
        string="Next Link Path",
        help="Next link: dotted path of the next page's URL in the answer (pagination.next "
        "for another Odoo's /api/sync/v1 search); a relative link is resolved against the "
        "page's URL. A Link header with rel=\"next\" is followed too.")
    import_max_pages = fields.Integer(
        string="Max Pages", default=1000, help="Safety bound on the pages of one run.")

    @api.constrains("response_action", "request_type", "http_method_ids", "import_max_pages",
                    "import_pagination", "import_cursor_path", "import_next_path")
    def _check_import(self):
        """Refuse an import that cannot run, naming what is missing."""
        for config in self.filtered(lambda c: c.response_action == "import"):
            if config.request_type != "out":
                raise ValidationError(_("%s: only outbound configurations import records.",
                                        config.name))
            if config.http_method_ids[:1].name != "GET" or len(config.http_method_ids) != 1:
                raise ValidationError(_("%s: an import reads with GET; set the HTTP Method "
                                        "to GET.", config.name))
            if config.import_max_pages < 1:
                raise ValidationError(_("%s: Max Pages must be at least 1.", config.name))
            if config.import_pagination == "cursor" and not config.import_cursor_path:
                raise ValidationError(_("%s: cursor pagination needs the Cursor Path.",
                                        config.name))

    def _run_import(self):
        """Import the external records of this GET configuration, page by page.

        Runs as the Run As User when set (else the calling user); returns
        ``{"created", "updated", "failed", "pages"}`` (plus ``log_ids`` and
        ``error``, the reason a run stopped early, or None). A page that fails
        after its retries stops the run; what was imported is kept.
        """
        self.ensure_one()
        config = self._get_outbound_config(self.id)
        if config.response_action != "import":
            raise UserError(_("%s does not import records (Response Action).", config.name))
        user = config.user_id or self.env.user
        env = self.env(user=user.id, su=False)
        return importer.run_import(config, env)

    def action_import_now(self):
        """Import now and tell the user what was created, updated and failed."""
        self.ensure_one()
        result = self._run_import()
        message = _("%(created)s created, %(updated)s updated, %(failed)s failed, in "
                    "%(pages)s page(s).", **{k: result[k] for k in
                                             ("created", "updated", "failed", "pages")})
        if result["error"]:
            message = f"{message} {result['error']}"
        kind = "danger" if result["error"] else "warning" if result["failed"] else "success"
        return self._notify(kind, message, sticky=kind != "success")
