import datetime as pydatetime
import logging
import re
from urllib.parse import urlparse

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import dateutil, safe_eval, time

from ..engine import batching, routes
from ..engine.routes import RESERVED_ENDPOINTS
from ..services import odoo_mapping, outbound

_logger = logging.getLogger(__name__)

# An inbound endpoint is one path segment under /api/sync/v1/: model-like names
# (res.partner), slugs (customers) and underscores, nothing that needs escaping.
ENDPOINT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Paths the API itself owns: an endpoint of that name would shadow them.



class DomainDatetime(pydatetime.datetime):
    """The ``datetime`` name of a filter domain: the class, so that the seed's
    ``datetime.now()`` works, and the module, so that ``datetime.datetime.now()``
    (Odoo's own spelling in domain fields) works too."""

    datetime = pydatetime.datetime
    date = pydatetime.date
    time = pydatetime.time
    timedelta = pydatetime.timedelta

    @classmethod
    def now(cls, tz=None):
        """Return the current local time as a plain datetime."""
        return pydatetime.datetime.now(tz)

    @classmethod
    def utcnow(cls):
        """Return the current UTC time as a plain, naive datetime."""
        return pydatetime.datetime.utcnow()

    @classmethod
    def today(cls):
        """Return the current local time as a plain datetime."""
        return pydatetime.datetime.today()


CONNECTION_TIMEOUT_RANGE = (1.0, 60.0)
READ_TIMEOUT_RANGE = (1.0, 300.0)
MAX_RETRIES_LIMIT = 10


class BjApiSyncConfig(models.Model):
    """One synchronisation: what model, which direction, where, how."""

    _name = "bj.api.sync.config"
    _description = "BJ API Synchronization Configuration"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", index=True, default=lambda self: self.env.company,
        help="Records of another company are neither sent (outbound) nor exposed (inbound); "
        "records without a company are. Empty: every company's records.",
    )
    request_type = fields.Selection(
        [("in", "In"), ("out", "Out")],
        required=True,
        default="out",
        help="In: an external system calls Odoo's REST API. "
        "Out: Odoo calls the external API.",
    )
    model_id = fields.Many2one(
        "ir.model", required=True, ondelete="cascade", index=True
    )
    model_name = fields.Char(
        related="model_id.model", store=True, index=True, string="Model Technical Name"
    )
    filter_domain = fields.Char(
        default="[]",
        help="Odoo domain. Outbound: which records are sent. "
        "Inbound: which records are visible and changeable. "
        "May use datetime, timedelta, relativedelta, context_today, time, uid, user.",
    )
    url = fields.Char(
        string="Request URL", help="Outbound: the full URL of the external endpoint."
    )
    endpoint = fields.Char(
        help="Inbound: resource name under /api/sync/v1/ (defaults to the model's "
        "technical name)."
    )
    http_method_ids = fields.Many2many(
        "bj.http.method",
        string="HTTP Methods",
        help="Inbound: the verbs allowed. Outbound: exactly one.",
    )
    endpoint_url = fields.Char(
        string="Endpoint URL", compute="_compute_endpoint_url",
        help="Inbound: the full URL external systems call (the server's base URL, the "
        "API's base path and the endpoint).",
    )
    http_method_id = fields.Many2one(
        "bj.http.method", string="HTTP Method", compute="_compute_http_method_id",
        inverse="_inverse_http_method_id",
        help="Outbound: the one verb of the requests (the HTTP Methods of the configuration).",
    )
    connection_timeout = fields.Float(default=5.0, help="Seconds, 1 to 60.")
    read_timeout = fields.Float(default=15.0, help="Seconds, 1 to 300.")
    auth_type = fields.Selection(
        [
            ("none", "No Authentication"),
            ("basic", "Basic Authentication"),
            ("bearer", "Bearer Token"),
            ("custom", "Custom Headers"),
        ],
        default="none",
        required=True,
        string="Authentication",
        help="Custom: the credentials travel only in the Headers tab.",
    )
    auth_login = fields.Char(string="Login", groups="bj_api_sync.group_bj_api_manager")
    auth_password = fields.Char(
        string="Password", groups="bj_api_sync.group_bj_api_manager"
    )
    bearer_token = fields.Char(groups="bj_api_sync.group_bj_api_manager")
    line_ids = fields.One2many(
        "bj.api.sync.config.line", "config_id", string="Field Mappings", copy=True,
        domain=[("usage", "=", "request")],
    )
    header_ids = fields.One2many(
        "bj.api.sync.header", "config_id", string="Headers", copy=True
    )
    param_ids = fields.One2many(
        "bj.api.sync.param", "config_id", string="Parameters", copy=True
    )
    is_paginated = fields.Boolean(
        help="Outbound: send records in batches of Page Size."
    )
    page_size = fields.Integer(
        default=100,
        help="Records per batch (outbound) or default page size (inbound search).",
    )
    max_retries = fields.Integer(
        default=3, help="Outbound: retries after the first attempt (0 to 10)."
    )
    retry_backoff = fields.Float(
        default=1.0,
        help="Outbound: base seconds of exponential backoff (1, 2, 4, ... with jitter); "
        "a Retry-After header from the server is honoured.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Run As User",
        domain="[('share', '=', False)]",
        help="Inbound: the user a request runs as when it is authenticated by this "
        "configuration's own credentials, or with no authentication.",
    )
    rate_limit_per_minute = fields.Integer(
        default=100, help="Inbound: requests per caller per minute (0 = no limit)."
    )
    rate_limit_per_hour = fields.Integer(
        default=1000, help="Inbound: requests per caller per hour (0 = no limit)."
    )
    log_ids = fields.One2many("bj.api.log", "config_id", string="Logs")
    log_count = fields.Integer(compute="_compute_log_count")
    outbox_waiting_count = fields.Integer(
        compute="_compute_outbox_waiting_count", string="Waiting Deliveries",
        help="Outbound deliveries of this configuration still waiting (pending or retrying).",
    )

    def _compute_log_count(self):
        counts = dict(
            self.env["bj.api.log"]._read_group(
                [("config_id", "in", self.ids)], ["config_id"], ["__count"]
            )
        )
        for config in self:
            config.log_count = counts.get(config, 0)

    def _compute_outbox_waiting_count(self):
        counts = dict(
            self.env["bj.api.outbox"]._read_group(
                [("config_id", "in", self.ids), ("state", "in", ("pending", "retrying"))],
                ["config_id"], ["__count"],
            )
        )
        for config in self:
            config.outbox_waiting_count = counts.get(config, 0)

    # ------------------------------------------------------------------ defaults
    @api.onchange("model_id", "request_type")
    def _onchange_default_endpoint(self):
        for config in self:
            if config.request_type == "in" and not config.endpoint and config.model_id:
                config.endpoint = config.model_id.model

    @api.model_create_multi
    def create(self, vals_list):
        """Create configurations; an inbound one gets its model's name as endpoint."""
        for vals in vals_list:
            self._method_from_choice(vals, vals.get("request_type") == "out")
            if vals.get("request_type") == "in" and not vals.get("endpoint"):
                model = self.env["ir.model"].browse(vals.get("model_id"))
                if model.exists():
                    vals["endpoint"] = model.model
        return super().create(vals_list)

    def write(self, vals):
        """Update configurations (the outbound method choice sets the HTTP Methods)."""
        outbound = (vals["request_type"] == "out" if "request_type" in vals
                    else self and all(c.request_type == "out" for c in self))
        return super().write(self._method_from_choice(vals, outbound))

    @api.model
    def _method_from_choice(self, vals, outbound):
        """Let the outbound one-method choice decide the HTTP Methods it is saved with:
        the form sends both fields, and the many2many would otherwise win. Inbound,
        the HTTP Methods are the choice (the one-method field is only computed)."""
        method = vals.pop("http_method_id", None)
        if method and outbound:
            vals["http_method_ids"] = [(6, 0, [method])]
        return vals

    @api.depends("endpoint", "request_type")
    def _compute_endpoint_url(self):
        base = (self.env["ir.config_parameter"].sudo().get_param("web.base.url") or "").rstrip("/")
        for config in self:
            config.endpoint_url = (f"{base}{routes.API_BASE}/{config.endpoint}"
                                   if config.request_type == "in" and config.endpoint else False)

    @api.depends("http_method_ids")
    def _compute_http_method_id(self):
        for config in self:
            config.http_method_id = config.http_method_ids[:1]

    def _inverse_http_method_id(self):
        for config in self:
            config.http_method_ids = config.http_method_id

    # --------------------------------------------------------------- constraints
    @api.constrains("request_type", "url", "http_method_ids")
    def _check_outbound_target(self):
        for config in self.filtered(lambda c: c.request_type == "out"):
            if not config.url:
                raise ValidationError(
                    _("Outbound configuration %(name)s needs a Request URL.", name=config.name)
                )
            parsed = urlparse(config.url.strip())
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValidationError(
                    _(
                        "The Request URL of %(name)s must be an absolute http:// or "
                        "https:// URL, not %(url)r.",
                        name=config.name,
                        url=config.url,
                    )
                )
            if len(config.http_method_ids) != 1:
                raise ValidationError(
                    _(
                        "Outbound configuration %(name)s needs exactly one HTTP method "
                        "(it has %(count)s).",
                        name=config.name,
                        count=len(config.http_method_ids),
                    )
                )

    @api.constrains("request_type", "auth_type", "bearer_token", "auth_login", "user_id",
                    "header_ids")
    def _check_credentials(self):
        """Refuse an authentication that can never work, naming the missing setting."""
        for config in self.sudo():
            missing = config._missing_credentials()
            if missing:
                raise ValidationError(_(
                    "%(name)s: %(auth)s authentication needs %(missing)s.",
                    name=config.name, missing=missing,
                    auth=dict(self._fields["auth_type"]._description_selection(self.env))[
                        config.auth_type],
                ))

    def _missing_credentials(self):
        """Return the label of the setting this config's authentication lacks, or None.

        Outbound, the credentials it sends; inbound, the Run As User that its own
        credentials (or no authentication) run as. An inbound Bearer or Basic
        config without credentials of its own is fine: callers then use their
        own Odoo API keys.
        """
        self.ensure_one()
        fields_ = self._fields
        kind = self.auth_type
        if self.request_type == "out":
            if kind == "bearer" and not self.bearer_token:
                return fields_["bearer_token"].string
            if kind == "basic" and not self.auth_login:
                return fields_["auth_login"].string
            if kind == "custom" and not self.header_ids:
                return _("at least one header (Headers tab)")
            return None
        if kind == "custom" and not self.header_ids:
            return _("at least one header (Headers tab)")
        own_credentials = (kind == "none" or kind == "custom"
                           or (kind == "bearer" and self.bearer_token)
                           or (kind == "basic" and self.auth_login))
        if own_credentials and not self.user_id:
            return fields_["user_id"].string
        return None

    @api.constrains("connection_timeout", "read_timeout")
    def _check_timeouts(self):
        for config in self:
            for label, value, (low, high) in (
                (_("Connection Timeout"), config.connection_timeout, CONNECTION_TIMEOUT_RANGE),
                (_("Read Timeout"), config.read_timeout, READ_TIMEOUT_RANGE),
            ):
                if not low <= value <= high:
                    raise ValidationError(
                        _(
                            "%(label)s must be between %(low)s and %(high)s seconds.",
                            label=label,
                            low=low,
                            high=high,
                        )
                    )

    @api.constrains("page_size", "max_retries", "retry_backoff")
    def _check_batching_and_retries(self):
        for config in self:
            if config.page_size < 1:
                raise ValidationError(_("Page Size must be a positive number."))
            if not 0 <= config.max_retries <= MAX_RETRIES_LIMIT:
                raise ValidationError(
                    _("Max Retries must be between 0 and %(max)s.", max=MAX_RETRIES_LIMIT)
                )
            if config.retry_backoff < 0:
                raise ValidationError(_("Retry Backoff cannot be negative."))

    @api.constrains("rate_limit_per_minute", "rate_limit_per_hour")
    def _check_rate_limits(self):
        for config in self:
            if config.rate_limit_per_minute < 0 or config.rate_limit_per_hour < 0:
                raise ValidationError(_("Rate limits cannot be negative (0 means no limit)."))

    @api.constrains("model_id", "filter_domain", "company_id")
    def _check_filter_domain(self):
        for config in self:
            config._get_filter_domain()

    @api.constrains("request_type", "endpoint", "active")
    def _check_endpoint(self):
        for config in self.filtered(lambda c: c.request_type == "in"):
            endpoint = config.endpoint or ""
            if not ENDPOINT_RE.match(endpoint) or endpoint in RESERVED_ENDPOINTS:
                raise ValidationError(
                    _(
                        "Endpoint %(endpoint)r is not usable in a URL: use letters, digits, "
                        "dots, dashes and underscores (at most 128), and none of %(reserved)s.",
                        endpoint=endpoint,
                        reserved=", ".join(sorted(RESERVED_ENDPOINTS)),
                    )
                )
            if not config.active:
                continue
            duplicate = self.search(
                [
                    ("id", "!=", config.id),
                    ("request_type", "=", "in"),
                    ("endpoint", "=", endpoint),
                ],
                limit=1,
            )
            if duplicate:
                raise ValidationError(
                    _(
                        "Endpoint %(endpoint)r is already used by the active inbound "
                        "configuration %(other)s.",
                        endpoint=endpoint,
                        other=duplicate.name,
                    )
                )

    # ----------------------------------------------------------------- helpers
    def _get_eval_context(self):
        """Return the variables a filter domain may use, as Odoo's domain fields do."""
        return {
            "datetime": DomainDatetime,
            "timedelta": pydatetime.timedelta,
            "relativedelta": dateutil.relativedelta.relativedelta,
            "context_today": lambda: fields.Date.context_today(self),
            "time": time,
            "uid": self.env.uid,
            "user": self.env.user,
        }

    def _get_filter_domain(self):
        """Return the filter domain evaluated and validated for the config's model.

        Raises ValidationError naming the configuration when it does not parse or
        does not fit the model.
        """
        self.ensure_one()
        if not self.model_id:
            return []
        text = (self.filter_domain or "").strip() or "[]"
        try:
            domain = safe_eval(text, self._get_eval_context())
            if not isinstance(domain, (list, tuple)):
                raise ValueError(_("a domain is a list, got %s", type(domain).__name__))
            domain = list(domain)
            model = self.env[self.model_id.model].sudo()
            expression.expression(expression.normalize_domain(domain), model)
            company = self._company_domain(model)
            if company:
                domain = expression.AND([domain, company]) if domain else company
        except Exception as exc:  # any parse or field error is the user's to fix
            raise ValidationError(
                _(
                    "The filter domain of %(name)s is not valid for %(model)s: %(error)s",
                    name=self.name,
                    model=self.model_id.model,
                    error=exc,
                )
            ) from exc
        return domain

    def _company_domain(self, model):
        """Return the domain keeping ``model``'s records to the config's company (and
        those of no company), or [] when the config or the model has no company."""
        field = model._fields.get("company_id")
        if not self.company_id or field is None or field.type != "many2one" \
                or field.comodel_name != "res.company":
            return []
        return ["|", ("company_id", "=", False), ("company_id", "=", self.company_id.id)]

    # ------------------------------------------------------------ outbound API
    def _make_outbound_http_request(self, record=None, config_id=None, timeout=None, *,
                                    record_ids=None, config_id_ref=None):
        """Send ``record`` (one or many records) to the API of config ``config_id``.

        Callable from server actions, scheduled actions and automated actions.
        ``record_ids`` and ``config_id_ref`` are the original module's names of
        ``record`` and ``config_id``, accepted for its scripts.
        ``timeout`` overrides the config's timeouts (seconds, or a (connect, read)
        tuple). Records outside the config's filter domain are skipped. Inside an
        automated action (or with ``bj_api_sync_queue`` in the context) the
        delivery is queued in the outbox and sent after commit; otherwise it is
        sent now, and a failure is retried through the outbox. Returns an
        ``OutboundResult`` (dict with attribute access: success, state,
        status_code, body, data, error, log_id, log_ids, outbox_ids, ...); an
        external failure is logged and reported there, never raised.
        """
        record = self._one_of("record", record, "record_ids", record_ids)
        config_id = self._one_of("config_id", config_id, "config_id_ref", config_id_ref)
        config = self._get_outbound_config(config_id)
        records = config._select_records(record)
        if self.env.context.get("__action_done") is not None or self.env.context.get(
            "bj_api_sync_queue"
        ):
            items = self.env["bj.api.outbox"]._enqueue(config, records, "automation")
            return outbound.empty_result("pending", items.ids)
        return outbound.send_now(config, records, timeout)

    @api.model
    def _one_of(self, name, value, alias, alias_value):
        """Return the argument given as ``name`` or as its alias; refuse both or neither."""
        if alias_value is None:
            if value is None:
                raise UserError(_("_make_outbound_http_request needs %s.", name))
            return value
        if value is not None:
            raise UserError(_("Give %(name)s or %(alias)s, not both.", name=name, alias=alias))
        return alias_value

    def _get_outbound_config(self, config_id):
        """Return the active outbound config ``config_id`` in sudo, or raise UserError."""
        if isinstance(config_id, models.BaseModel):
            config_id = config_id.id
        config = self.sudo().browse(int(config_id or 0)).exists()
        if not config:
            raise UserError(_("There is no BJ API configuration with id %s.", config_id))
        if config.request_type != "out":
            raise UserError(_("Configuration %s is not an outbound configuration.", config.name))
        if not config.active:
            raise UserError(_("Configuration %s is archived.", config.name))
        return config

    def _select_records(self, record):
        """Return the records of ``record`` that match this config's model and domain."""
        self.ensure_one()
        if not isinstance(record, models.BaseModel):
            raise UserError(_("_make_outbound_http_request needs a recordset, got %r.", record))
        if record._name != self.model_name:
            raise UserError(
                _(
                    "Configuration %(name)s sends %(model)s records, not %(other)s.",
                    name=self.name, model=self.model_name, other=record._name,
                )
            )
        domain = self._get_filter_domain()
        if not domain or not record:
            return record
        # Matching is done in SQL by chunks: records may be many.
        kept = []
        for ids in batching.chunk_ids(record.ids, 1000):
            kept += record.browse(ids).with_context(active_test=False).search(
                expression.AND([[("id", "in", ids)], domain])
            ).ids
        keep = set(kept)
        return record.browse([i for i in record.ids if i in keep])

    def _build_payloads(self, records):
        """Return the JSON payloads of ``records`` built by this config's mapping."""
        self.ensure_one()
        return odoo_mapping.payloads_of(self.sudo(), records)

    def _enqueue_outbound(self, records, event="manual"):
        """Queue ``records`` (filtered by the domain) for delivery after commit."""
        self.ensure_one()
        config = self._get_outbound_config(self.id)
        return self.env["bj.api.outbox"]._enqueue(config, config._select_records(records), event)

    def _send_now_ids(self):
        """Return the ids of the records Send Now would queue (those of the domain)."""
        self.ensure_one()
        return self.env[self.model_name].search(self._get_filter_domain()).ids

    def action_send_now_confirm(self):
        """Ask for confirmation, saying how many records Send Now would queue."""
        self.ensure_one()
        self._get_outbound_config(self.id)
        wizard = self.env["bj.api.sync.send.now"].create({"config_id": self.id})
        return {
            "type": "ir.actions.act_window",
            "name": _("Send Now"),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_send_now(self):
        """Queue every record matching the domain and start the delivery worker."""
        self.ensure_one()
        config = self._get_outbound_config(self.id)
        ids = config.with_env(self.env)._send_now_ids()
        Outbox = self.env["bj.api.outbox"].sudo()
        size = config.page_size if config.is_paginated else 1
        # The payloads are built at delivery: Send Now may queue many records.
        vals = [outbound.item_values(config, "manual", config.model_name, chunk)
                for chunk in batching.chunk_ids(ids, size)]
        Outbox.create(vals)
        Outbox._trigger_delivery()
        return self._notify(
            "success" if ids else "warning",
            _("%(count)s record(s) of %(model)s queued for delivery in %(items)s request(s).",
              count=len(ids), model=config.model_name, items=len(vals)),
        )

    def action_test_connection(self):
        """Reach the config's URL with its authentication and report the answer."""
        self.ensure_one()
        config = self._get_outbound_config(self.id)
        return self._bj_test_connection(config, outbound.RequestFactory(config))

    def _bj_test_connection(self, config, factory, summary=None):
        """HEAD the config's URL through ``factory``, log the test (with ``summary``,
        which also opens the message) and return the notification."""
        req = factory.request(None, outbound.new_key())
        req.method = "HEAD"
        result = factory.dispatch(req)
        status = result.status_code
        if status is None:
            kind = "danger"
            message = _("Cannot reach %(url)s: %(error)s", url=config.url, error=result.error)
        elif status in (401, 403):
            kind = "warning"
            message = _("Reached the server, but it refused the credentials (HTTP %(status)s).",
                        status=status)
        elif status in (404, 405):
            kind = "warning"
            message = _("Reached the server, but it does not serve this URL or method "
                        "(HTTP %(status)s).", status=status)
        elif status >= 400:
            kind = "danger"
            message = _("The server answered HTTP %(status)s: %(error)s", status=status,
                        error=result.error)
        else:
            kind = "success"
            message = _("Connected: HTTP %(status)s in %(ms)s ms.", status=status,
                        ms=round(result.duration_ms))
        # The log says what went on the wire: a test is a HEAD, whatever the config's verb.
        self._bj_log_connection_test(factory, result, req.method,
                                     "success" if kind == "success" else "failed", summary)
        if summary:
            message = f"{summary}\n{message}"
        return self._notify(kind, message, sticky=kind != "success")

    def _bj_log_connection_test(self, factory, result, method, state, summary=None):
        """Write the log row of a connection test (which is no delivery)."""
        values = factory.attempt_log_values(result, state=state, attempt=1, res_model=False,
                                            res_ids=[])
        values.update(http_method=method, is_connection_test=True)
        if summary:
            values["summary"] = summary
        return self.env["bj.api.log"].sudo().create(values)

    def _notify(self, kind, message, sticky=False):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message, "sticky": sticky,
                       "title": self.name,
                       # Reload the form, so its Logs count includes this call.
                       "next": {"type": "ir.actions.act_window_close"}},
        }

    def action_view_outbox(self):
        """Open the outbound queue of this configuration."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("bj_api_sync.action_bj_api_outbox")
        action["domain"] = [("config_id", "=", self.id)]
        return action

    def action_view_logs(self):
        """Open the logs of this configuration."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("bj_api_sync.action_bj_api_log")
        action["domain"] = [("config_id", "=", self.id)]
        action["context"] = {"default_config_id": self.id}
        return action
