"""The ORM side of payload mapping: record access, script sandbox, line specs.

The mapping rules themselves live in :mod:`..engine.mapping_out`, which knows no
Odoo; this module gives it records, runs line scripts in ``safe_eval`` and turns
``bj.api.sync.config.line`` rows into frozen ``LineSpec`` tuples.
"""

import base64
import functools
import logging

from odoo import Command
from odoo.exceptions import UserError
from odoo.tools import float_compare
from odoo.tools.safe_eval import datetime, dateutil, json, pytz, safe_eval, time

from ..engine import mapping_out
from . import odoo_rows

_logger = logging.getLogger(__name__)

# Field types never sent when a config has no lines: file contents are heavy and
# belong to attachments, and the others are not data of the record itself.
DEFAULT_EXCLUDED_TYPES = frozenset({"binary", "one2many", "properties", "properties_definition"})
DEFAULT_EXCLUDED_FIELDS = frozenset({"__last_update", "display_name"})


class OdooRecordAccess:
    """``engine.mapping_out.RecordAccess`` over Odoo recordsets."""

    def field_type(self, record, field_name):
        """Return the Odoo type of ``field_name`` on the record's model."""
        field = record._fields.get(field_name)
        if field is None:
            raise KeyError(f"{record._name} has no field {field_name!r}")
        return field.type

    def read(self, record, field_name):  # pylint: disable=method-required-super
        """Return the field's value as the ORM gives it."""
        return record[field_name]

    def ident(self, record):
        """Return the record's id."""
        return record.id

    def iterate(self, records):
        """Return the records one by one (the prefetch set stays shared)."""
        return list(records)

    def ref(self, record):
        """Return ``model(id)`` for messages."""
        return f"{record._name}({record.id})"

    def display_name(self, record):
        """Return the record's display name as ``read()`` gives it for a many2one.

        ``read()`` reads it as superuser: who may read the record holding the
        many2one may see the id and name of its value.
        """
        return record.sudo().display_name


ACCESS = OdooRecordAccess()


@functools.lru_cache(maxsize=512)
def _is_expression(code):
    """True when ``code`` compiles as a single expression."""
    try:
        compile(code, "<bj_api_sync line>", "eval")
    except SyntaxError:
        return False
    return True


def run_script(code, mode, context):
    """Run a line script in ``safe_eval``; return its value (evaluate) or None.

    In evaluate mode an expression gives its value; statements give the value of
    the variable ``result``. Execute mode runs statements for their effects.
    """
    try:
        if mode == "evaluate" and _is_expression(code):
            return safe_eval(code, context, mode="eval", nocopy=True)
        safe_eval(code, context, mode="exec", nocopy=True)
    except ValueError as exc:
        # safe_eval appends the whole script to its message: errors travel to
        # API clients, logs and queue items, and a script may hold secrets.
        text, found, _code = str(exc).partition(" while evaluating\n")
        if found:
            raise ValueError(text) from exc
        raise
    return context.get("result") if mode == "evaluate" else None


def script_context(env, model_name, request_data=None):
    """Return the variables a line script sees (CONTRACT section 1)."""

    def log(message, level="info"):
        getattr(_logger, level if level in ("debug", "info", "warning", "error") else "info")(
            "bj_api_sync script: %s", message
        )

    return {
        "env": env,
        "model": env[model_name],
        "request_data": request_data,
        "time": time,
        "datetime": datetime,
        "dateutil": dateutil,
        "timezone": pytz.timezone,
        "b64encode": base64.b64encode,
        "b64decode": base64.b64decode,
        "UserError": UserError,
        "Command": Command,
        "float_compare": float_compare,
        "json": json,
        "log": log,
    }


def default_field_names(model):
    """Field names sent when a config has no lines: the stored fields a user may see."""
    return [
        name
        for name, field in model._fields.items()
        if field.store
        and not field.groups
        and field.type not in DEFAULT_EXCLUDED_TYPES
        and name not in DEFAULT_EXCLUDED_FIELDS
    ]


def line_specs(config, depth=0, with_defaults=True):
    """Return the config's lines as a tuple of ``LineSpec`` (sub-configs included).

    With no lines, one plain line per default field (or nothing, without
    ``with_defaults``). Sub-configs nested deeper than the engine's limit are
    cut, and the engine reports the cycle.
    """
    if depth > mapping_out.MAX_DEPTH + 1:
        return ()
    lines = config.line_ids
    if not lines and not with_defaults:
        return ()
    if not lines:
        return tuple(
            mapping_out.LineSpec(external_key=name, field_name=name, label=name)
            for name in default_field_names(config.env[config.model_name])
        )
    specs = []
    for index, line in enumerate(lines, start=1):
        sub = None
        if line.mapping_config_id and line.value_type in ("relational", "relational_python"):
            sub = line_specs(line.mapping_config_id, depth + 1, with_defaults) or None
        specs.append(
            mapping_out.LineSpec(
                external_key=line.external_key,
                field_name=line.field_id.name or None,
                value_type=line.value_type,
                related_path=line.related_path or None,
                sub_lines=sub,
                python_code=line.python_code or None,
                python_mode=line.python_mode or "evaluate",
                label=f"line {index} ({line.external_key})",
                line_id=line.id,
            )
        )
    return tuple(specs)


class PayloadBuilder:
    """Maps records with one config's lines; built once per run of requests.

    When every line reads plain stored columns (of the record or of records
    reached through many2one fields), payloads come from rows read with the
    ORM's own query and access rules (:mod:`.odoo_rows`); otherwise, or when
    that read meets a deleted or hidden record, from the generic engine over
    records.
    """

    def __init__(self, config, env):
        self.config = config
        # The row plan (field groups) and the related rows (record rules,
        # language) hold for this environment only.
        self.env = env
        self.specs = line_specs(config)
        self.row_plan = odoo_rows.plan_for(env, config.model_name, self.specs)
        # Related rows already read in this run (see odoo_rows.payloads).
        self.known_rows = {}

    def top_level_fields(self):
        """Return the names of the model fields the lines read directly."""
        fields = self.env[self.config.model_name]._fields
        names = dict.fromkeys(spec.field_name for spec in self.specs if spec.field_name)
        return [name for name in names if name in fields]

    def build(self, records):
        """Return one payload per record, in order.

        Raises ``engine.mapping_out.MappingError`` naming the config, line and record.
        """
        if records.env != self.env:
            return PayloadBuilder(self.config, records.env).build(records)
        if self.row_plan is not None and records and records._name == self.config.model_name:
            payloads = odoo_rows.payloads(self.row_plan, records, self.known_rows)
            if payloads is not None:
                return payloads
        return mapping_out.build_payloads(
            records,
            self.specs,
            ACCESS,
            run_script=run_script,
            script_context=script_context(records.env, records._name),
            config_name=self.config.name,
        )


def payloads_of(config, records):
    """Map ``records`` with the config's lines; one dict per record.

    Raises ``engine.mapping_out.MappingError`` naming the config, line and record.
    """
    return PayloadBuilder(config, records.env).build(records)
