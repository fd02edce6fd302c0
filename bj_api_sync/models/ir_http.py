import logging

from werkzeug.exceptions import HTTPException

from odoo import models
from odoo.http import request

from ..engine import errors, routes

_logger = logging.getLogger(__name__)

# The code of each status for errors raised outside the pipeline. The
# Idempotency-Key codes are answered by the pipeline only: a werkzeug 409 or
# 422 says nothing about a key (409 stays DUPLICATE_RECORD, 422 is a 4xx).
_CODE_BY_STATUS = {
    status: code for code, status in errors.STATUS_BY_CODE.items()
    if not code.startswith("IDEMPOTENCY_")
}


class IrHttp(models.AbstractModel):
    """Last line of defence of the inbound API: errors raised before (or around)
    its controller, e.g. by werkzeug while reading a form body, are answered
    with the JSON envelope instead of Odoo's HTML error pages."""

    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        """Cache the raw body of API calls before Odoo parses it as a form.

        Clients often send JSON with curl's default form content type; once
        werkzeug parsed it as a form the raw bytes would be gone. A body over
        the API's limit is read no further than the limit (also a chunked one,
        without Content-Length): the controller answers 413.
        """
        super()._pre_dispatch(rule, args)
        if not routes.is_api_path(request.httprequest.path):
            return
        # pylint: disable=import-outside-toplevel
        from ..controllers import inbound
        from ..services import inbound_pipeline

        inbound.capture_body(request.httprequest, inbound_pipeline.max_body(request.env))

    @classmethod
    def _handle_error(cls, exception):
        """Return a JSON error response for paths under /api/sync/v1, else defer to Odoo."""
        path = request.httprequest.path if request else ""
        if not routes.is_api_path(path):
            return super()._handle_error(exception)
        trace_id = getattr(request, "bj_trace_id", None) or errors.new_trace_id()
        if isinstance(exception, HTTPException) and exception.code:
            status = exception.code
            code = _CODE_BY_STATUS.get(status, "VALIDATION_ERROR" if status < 500 else
                                       "INTERNAL_ERROR")
            message = exception.description or exception.name
        else:
            _logger.error("Inbound API error outside the controller (trace %s)", trace_id,
                          exc_info=exception)
            status, code, message = 500, "INTERNAL_ERROR", "Internal server error"
        body = errors.error_body(code, message, {}, trace_id)
        return request.make_json_response(body, headers={"X-Request-Id": trace_id},
                                          status=status)
