"""Line scripts and record access for the inbound API.

Python lines run in Odoo's ``safe_eval`` sandbox with the context names of
CONTRACT section 1 (``env``, ``model``, ``record``, ``records``,
``request_data``, ``value``, ``time``, ``datetime``, ``dateutil``,
``timezone``, ``b64encode``, ``b64decode``, ``UserError``, ``Command``,
``json``, ``log``). The outbound engine on ``main`` has the same adapter
(``services/odoo_mapping.py``); the two can be merged into one module.
"""
import base64
import functools
import logging

from odoo import Command
from odoo.exceptions import UserError
from odoo.tools.safe_eval import datetime, dateutil, json, pytz, safe_eval, time

from ..engine import mapping

_logger = logging.getLogger(__name__)


class RecordAccess:
    """``engine.mapping.RecordAccess`` over Odoo recordsets (the caller's rights apply)."""

    def field_type(self, record, field_name):
        """Return the Odoo type of ``field_name`` on the record's model."""
        field = record._fields.get(field_name)
        if field is None:
            raise KeyError(f"{record._name} has no field {field_name!r}")
        return field.type

    def read(self, record, field_name):
        """Return the field's value as the ORM gives it."""
        return record[field_name]

    def ident(self, record):
        """Return the record's id."""
        return record.id

    def iterate(self, records):
        """Return the records one by one (they share one prefetch set)."""
        return list(records)

    def ref(self, record):
        """Return ``model(id)`` for messages."""
        return f"{record._name}({record.id})"


ACCESS = RecordAccess()


@functools.lru_cache(maxsize=512)
def _is_expression(code):
    try:
        compile(code, "<bj_api_sync line>", "eval")
    except SyntaxError:
        return False
    return True


def run_script(code, mode, context):
    """Run a line script; return its value (evaluate mode) or None (execute mode).

    In evaluate mode an expression gives its value; statements give the value
    of the variable ``result``.
    """
    if mode == "evaluate" and _is_expression(code):
        return safe_eval(code, context, mode="eval", nocopy=True)
    safe_eval(code, context, mode="exec", nocopy=True)
    return context.get("result") if mode == "evaluate" else None


def _log(message, level="info"):
    level = level if level in ("debug", "info", "warning", "error") else "info"
    getattr(_logger, level)("bj_api_sync script: %s", message)


def script_context(env, model_name, request_data=None, record=None, value=None):
    """Return the variables a line script sees."""
    model = env[model_name]
    record = model.browse() if record is None else record
    return {
        "env": env,
        "model": model,
        "record": record,
        "records": record,
        "request_data": request_data,
        "value": value,
        "time": time,
        "datetime": datetime,
        "dateutil": dateutil,
        "timezone": pytz.timezone,
        "b64encode": base64.b64encode,
        "b64decode": base64.b64decode,
        "UserError": UserError,
        "Command": Command,
        "json": json,
        "log": _log,
    }


def build_payloads(spec, records, lines):
    """Map ``records`` with ``lines`` (``engine.mapping.LineSpec``); one dict per record."""
    return mapping.build_payloads(
        records,
        lines,
        ACCESS,
        run_script=run_script,
        script_context=script_context(records.env, records._name),
        config_name=spec.name,
    )
