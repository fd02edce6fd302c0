"""Records mapped out: records + config lines -> JSON-ready dicts.

What an outbound request carries and what an inbound answer of a config with
lines holds. The Odoo layer turns a config's ``line_ids`` into a tuple of
:class:`LineSpec` and hands records to :func:`build_payloads` together
with a :class:`RecordAccess` adapter over the ORM. Nothing here imports Odoo,
so every mapping rule is testable with fake records.

Work that depends only on the lines (splitting dotted keys, normalising related
paths, checking key conflicts and nesting depth) is done once per ``lines``
tuple in a cached compiled plan; per record only the field reads, conversions
and scripts run.
"""
from __future__ import annotations

import base64
import datetime as _dt
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

_logger = logging.getLogger(__name__)

#: Deepest nesting of sub-mappings (a line's ``sub_lines``) accepted. Deeper
#: means a mapping config (indirectly) refers back to itself.
MAX_DEPTH = 10

VALUE_TYPES = frozenset({"plain", "relational", "python", "relational_python"})
PYTHON_MODES = frozenset({"evaluate", "execute"})
X2MANY_TYPES = frozenset({"one2many", "many2many"})
# datetime.UTC only exists from Python 3.11; Odoo 17 still runs on 3.10.
_UTC = _dt.timezone.utc

__all__ = [
    "MAX_DEPTH",
    "LineSpec",
    "MappingError",
    "RecordAccess",
    "ScriptRunner",
    "build_payloads",
    "compile_lines",
    "converter",
    "get_dotted",
    "set_dotted",
    "to_json_value",
]


@dataclass(frozen=True)
class LineSpec:
    """One field mapping of a config, detached from the database.

    ``external_key`` may be dotted (``address.city``) to build nested objects.
    ``value_type`` is ``plain``, ``relational``, ``python`` or
    ``relational_python``. ``related_path`` is relative to ``field_name``
    (a leading repeat of the field name is ignored); ``sub_lines`` is the nested
    mapping used for many2one / x2many sub-objects. ``python_mode`` is
    ``evaluate`` (the script's value goes to the key) or ``execute`` (run for
    its effects, the key is not set). ``label`` names the line in errors,
    ``line_id`` (the database id of the config line, if any) too.
    """

    external_key: str
    field_name: str | None = None
    value_type: str = "plain"
    related_path: str | None = None
    sub_lines: tuple[LineSpec, ...] | None = None
    python_code: str | None = None
    python_mode: str = "evaluate"
    label: str = ""
    line_id: int | None = None


class MappingError(Exception):
    """A line could not be mapped for a record (or the lines are inconsistent).

    The message names the config, the line and the record; the attributes
    ``config_name``, ``line_label``, ``line_id`` (the config line's database
    id, of the innermost line when mappings are nested), ``record_ref`` and
    ``cause`` (the original exception, or a message string) carry the same
    facts for callers that log or store them separately (see :attr:`details`).
    """

    def __init__(self, cause, *, config_name="", line_label="", record_ref="", line_id=None):
        self.cause = cause
        self.config_name = config_name or ""
        self.line_label = line_label or ""
        self.record_ref = record_ref or ""
        self.line_id = line_id
        super().__init__(self._compose())

    @property
    def details(self) -> dict:
        """The facts of the error as a JSON-ready dict (``details`` of an API error)."""
        details = {"config": self.config_name, "line": self.line_label,
                   "line_id": self.line_id, "record": self.record_ref}
        return {key: value for key, value in details.items() if value not in ("", None)}

    @property
    def cause_text(self) -> str:
        """The cause as a short human text (``Type: message`` for exceptions)."""
        cause = self.cause
        if isinstance(cause, BaseException):
            text = str(cause)
            return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
        return str(cause)

    def _compose(self) -> str:
        parts = []
        if self.config_name:
            parts.append(f'config "{self.config_name}"')
        if self.line_label:
            parts.append(self.line_label)
        if self.record_ref:
            parts.append(f"record {self.record_ref}")
        where = " for " + ", ".join(parts) if parts else ""
        return f"Mapping failed{where}: {self.cause_text}"


class RecordAccess(Protocol):
    """How the engine reads records; the Odoo layer implements it over the ORM."""

    def field_type(self, record, field_name: str) -> str:
        """Odoo type of ``field_name`` on ``record``'s model (``char``, ``many2one`` ...)."""

    def read(self, record, field_name: str):  # pylint: disable=method-required-super
        """Raw value as the ORM returns it (recordset for relational, False for empty)."""

    def ident(self, record) -> int | None:
        """Database id of a single record."""

    def iterate(self, records) -> list:
        """The records of a relational value (or recordset) one by one."""

    def ref(self, record) -> str:
        """A short reference for messages, e.g. ``res.partner(42)``."""


#: ``(code, mode, context) -> value``. The Odoo layer passes a wrapper around
#: ``safe_eval``; raising means the script failed. In ``evaluate`` mode the
#: value is the returned one, or ``context["result"]`` when None is returned.
ScriptRunner = Callable[[str, str, dict], Any]


# --------------------------------------------------------------------------
# scalar conversion
# --------------------------------------------------------------------------

def _date_str(value):
    if not value:
        return None
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _datetime_str(value):
    if not value:
        return None
    if isinstance(value, str):
        # Some callers hand over Odoo's string form ("2024-01-02 10:00:00").
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_UTC).replace(tzinfo=None)
        # isoformat is implemented in C and much cheaper than strftime.
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, _dt.date):
        return value.isoformat() + "T00:00:00Z"
    return str(value)


def _jsonable(value):
    """Turn the non-JSON standard types a script may return into JSON ones.

    Anything else (including ORM objects the engine cannot know) is left as is.
    """
    if isinstance(value, _dt.datetime):
        return _datetime_str(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _binary_str(value):
    if not value:
        return None
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        try:
            # The ORM returns binary fields already base64-encoded.
            return value.decode("ascii")
        except UnicodeDecodeError:
            # Raw content (e.g. read with bin_size tricks): encode it ourselves
            # rather than emitting undecodable bytes.
            return base64.b64encode(value).decode("ascii")
    return str(value)


def _ident(value, access):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, tuple | list):
        # (id, display_name) pairs, as name_get / read() return them.
        return value[0] if value else None
    if access is not None:
        return access.ident(value)
    return getattr(value, "id", None) or None


def _conv_char(value, access):
    if not value:
        return None
    # str() turns str subclasses (markupsafe.Markup for html) into plain str.
    return value if type(value) is str else str(value)


def _conv_boolean(value, access):
    return bool(value)


def _conv_integer(value, access):
    if value is None or value is False:
        return 0
    return value if type(value) is int else int(value)


def _conv_float(value, access):
    if value is None or value is False:
        return 0.0
    return value if type(value) is float else float(value)


def _conv_selection(value, access):
    if value is None or value is False or value == "":
        return None
    return value


def _conv_many2one(value, access):
    if not value:
        return None
    return _ident(value, access)


def _conv_x2many(value, access):
    if not value:
        # An empty relation stays an (empty) array so that consumers always
        # get the same JSON type for the key.
        return []
    if isinstance(value, list | tuple):
        return [_ident(v, access) for v in value]
    if access is not None:
        return [access.ident(r) for r in access.iterate(value)]
    ids = getattr(value, "ids", None)
    if ids is not None:
        return list(ids)
    return [getattr(r, "id", None) for r in value]


def _conv_json(value, access):
    return value


def _conv_reference(value, access):
    if not value:
        return None
    if isinstance(value, str):
        return value
    if access is not None:
        # "res.partner(42)" -> "res.partner,42", Odoo's own reference format.
        model, _sep, rest = access.ref(value).partition("(")
        return f"{model},{rest.rstrip(')')}"
    return f"{getattr(value, '_name', '')},{getattr(value, 'id', '')}"


def _conv_many2one_reference(value, access):
    if not value:
        return None
    return int(value)


def _conv_generic(value, access):
    if value is None or value is False:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return _binary_str(value)
    return _jsonable(value)


_CONVERTERS = {
    "char": _conv_char,
    "text": _conv_char,
    "html": _conv_char,
    "boolean": _conv_boolean,
    "integer": _conv_integer,
    "float": _conv_float,
    "monetary": _conv_float,
    "date": lambda value, access: _date_str(value),
    "datetime": lambda value, access: _datetime_str(value),
    "selection": _conv_selection,
    "many2one": _conv_many2one,
    "one2many": _conv_x2many,
    "many2many": _conv_x2many,
    "binary": lambda value, access: _binary_str(value),
    "json": _conv_json,
    "reference": _conv_reference,
    "many2one_reference": _conv_many2one_reference,
}


def to_json_value(field_type: str, value, access=None) -> Any:
    """Convert a raw ORM value of an Odoo field type into a JSON-ready value.

    date -> ``"YYYY-MM-DD"``; datetime (naive = UTC) -> ``"YYYY-MM-DDTHH:MM:SSZ"``;
    empty values -> None, except boolean (False), integer (0), float/monetary
    (0.0) and x2many ([]); many2one -> id; x2many -> list of ids; binary ->
    base64 text; reference -> ``"model,id"``; Decimal -> float; json as is.
    ``access`` (a :class:`RecordAccess`) is used to get ids of records; without
    it, ``.id`` attributes are read.
    """
    conv = _CONVERTERS.get(field_type, _conv_generic)
    return conv(value, access)


# --------------------------------------------------------------------------
# dotted keys
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _split_key(dotted_key: str) -> tuple[str, ...]:
    return tuple(dotted_key.split("."))


def set_dotted(target: dict, dotted_key: str, value) -> None:
    """Set ``value`` at ``dotted_key`` in ``target``, creating nested dicts.

    ``set_dotted(d, "address.city", "Paris")`` gives ``{"address": {"city": "Paris"}}``;
    existing intermediate dicts are reused. Raises :class:`MappingError` when
    the key is malformed or when a part of the path is already a non-object
    value, or the final key already holds an object (a key cannot be both a
    value and a parent).
    """
    parts = _split_key(dotted_key) if dotted_key else ("",)
    if "" in parts:
        raise MappingError(f'invalid external key "{dotted_key}"')
    node = target
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise MappingError(
                f'external key "{dotted_key}" needs "{prefix}" to be an object, '
                f"but it already holds a value"
            )
        node = child
    leaf = parts[-1]
    if isinstance(node.get(leaf), dict):
        raise MappingError(
            f'external key "{dotted_key}" is already the parent of nested keys; '
            f"it cannot also hold a value"
        )
    node[leaf] = value


def get_dotted(source: dict, dotted_key: str, default=None):
    """Read ``dotted_key`` from ``source``: ``"address.city"`` reads ``source["address"]["city"]``.

    A literal key equal to the whole dotted key (``{"address.city": ...}``)
    wins over the nested reading, so flat payloads work too. Returns
    ``default`` when any part is missing or is not an object (pass a sentinel
    to tell "absent" from "null").
    """
    if not isinstance(source, dict) or not dotted_key:
        return default
    if dotted_key in source:
        return source[dotted_key]
    node = source
    for part in _split_key(dotted_key):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


# --------------------------------------------------------------------------
# compiled plans
# --------------------------------------------------------------------------

class _PlanError(Exception):
    """Lines are inconsistent; carries the label of the offending line."""

    def __init__(self, line_label, message, line_id=None):
        super().__init__(message)
        self.line_label = line_label
        self.message = message
        self.line_id = line_id


class _Line:
    """A LineSpec with everything that does not depend on the record precomputed."""

    __slots__ = ("code", "field", "key", "kind", "label", "leaf", "line_id", "mode", "parents",
                 "path", "path_text", "sets_key", "sub")


class _Plan:
    """Compiled lines of one (sub-)mapping."""

    __slots__ = ("lines", "script_label")


_SKIP = object()


def _normalise_path(field_name, related_path, label):
    if not related_path or not related_path.strip():
        return ()
    parts = tuple(p.strip() for p in related_path.strip().split("."))
    if "" in parts:
        raise _PlanError(label, f'related path "{related_path}" has an empty segment')
    if field_name and parts[0] == field_name:
        # "partner_id.name" on field partner_id means the same as "name".
        parts = parts[1:]
    return parts


def _compile_line(spec, position, depth):
    if not isinstance(spec, LineSpec):
        raise _PlanError(f"line {position}", f"expected a LineSpec, got {type(spec).__name__}")
    key = spec.external_key or ""
    line = _Line()
    line.label = spec.label or f"line {position} ({key})"
    line.line_id = spec.line_id
    label = line.label
    parts = tuple(key.split("."))
    if not key or "" in parts:
        raise _PlanError(label, f'invalid external key "{key}"')
    line.key = parts
    line.parents = parts[:-1]
    line.leaf = parts[-1]
    kind = spec.value_type or "plain"
    if kind not in VALUE_TYPES:
        raise _PlanError(label, f'unknown value type "{kind}"')
    line.kind = kind
    line.field = spec.field_name or None
    line.path = ()
    line.path_text = ""
    line.sub = None
    line.code = None
    line.mode = "evaluate"
    line.sets_key = True
    if kind in ("plain", "relational", "relational_python") and not line.field:
        raise _PlanError(label, f"a {kind} line needs a field")
    if kind in ("relational", "relational_python"):
        line.path = _normalise_path(line.field, spec.related_path, label)
        line.path_text = ".".join(line.path)
        if spec.sub_lines:
            if depth >= MAX_DEPTH:
                raise _PlanError(
                    label,
                    f"nested mappings deeper than {MAX_DEPTH} levels "
                    f"(cycle: a mapping config refers back to itself?)",
                )
            try:
                line.sub = _compile_plan(tuple(spec.sub_lines), depth + 1)
            except _PlanError as exc:
                raise _PlanError(f"{label} > {exc.line_label}", exc.message,
                                 exc.line_id) from exc
    if kind in ("python", "relational_python"):
        if not spec.python_code or not spec.python_code.strip():
            raise _PlanError(label, "the line has no python code")
        mode = spec.python_mode or "evaluate"
        if mode not in PYTHON_MODES:
            raise _PlanError(label, f'unknown python mode "{mode}"')
        line.code = spec.python_code
        line.mode = mode
        line.sets_key = mode == "evaluate"
    return line


def _compile_plan(lines, depth):
    compiled = []
    for position, spec in enumerate(lines, start=1):
        try:
            compiled.append(_compile_line(spec, position, depth))
        except _PlanError as exc:
            if exc.line_id is None:
                exc.line_id = getattr(spec, "line_id", None)
            raise
    # A key cannot be a value and the parent of other keys at once. Duplicate
    # leaf keys are allowed: the later line wins, like successive assignments.
    owners = {}
    for line in compiled:
        if line.sets_key:
            owners[line.key] = line.label
    for line in compiled:
        if not line.sets_key:
            continue
        for i in range(1, len(line.key)):
            prefix = line.key[:i]
            if prefix in owners:
                raise _PlanError(
                    line.label,
                    f'external key "{".".join(line.key)}" needs "{".".join(prefix)}" '
                    f"to be an object, but {owners[prefix]} sets "
                    f'"{".".join(prefix)}" as a value',
                    line.line_id,
                )
    plan = _Plan()
    plan.lines = tuple(compiled)
    plan.script_label = None
    for line in compiled:
        if line.code is not None:
            plan.script_label = line.label
        elif line.sub is not None and line.sub.script_label:
            plan.script_label = f"{line.label} > {line.sub.script_label}"
        if plan.script_label:
            break
    return plan


@functools.lru_cache(maxsize=256)
def _compile(lines: tuple) -> _Plan:
    _logger.debug("compiling mapping plan of %d lines", len(lines))
    return _compile_plan(lines, 1)


# --------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------

class _MappingRun:
    """Per-call state shared by every record and nesting level."""

    __slots__ = ("access", "base_ctx", "config_name", "run_script")


class _LineProblem(Exception):
    """A data problem found while evaluating a line (wrapped into MappingError)."""


def _safe_ref(access, record):
    try:
        return access.ref(record)
    except Exception:  # noqa: BLE001 - a broken ref() must not hide the real error
        return repr(record)


def compile_lines(lines: Iterable[LineSpec], config_name: str = "") -> tuple:
    """Return the compiled form of ``lines`` (one object per line).

    Each object has ``kind``, ``field``, ``path`` (related path segments after
    ``field``), ``sub`` (compiled sub-lines or None), ``code``, ``parents`` and
    ``leaf`` (the external key split on dots). Raises :class:`MappingError`
    naming the line when the lines are inconsistent.
    """
    try:
        return _compile(tuple(lines)).lines
    except _PlanError as exc:
        raise MappingError(
            exc.message, config_name=config_name, line_label=exc.line_label,
            line_id=exc.line_id,
        ) from None


def converter(field_type: str) -> Callable[[Any, Any], Any]:
    """Return the ``(value, access)`` function :func:`to_json_value` uses for a type."""
    return _CONVERTERS.get(field_type, _conv_generic)


def _prepare(lines, access, run_script, script_context, config_name):
    try:
        plan = _compile(tuple(lines))
    except _PlanError as exc:
        raise MappingError(
            exc.message, config_name=config_name, line_label=exc.line_label,
            line_id=exc.line_id,
        ) from None
    if plan.script_label and run_script is None:
        raise MappingError(
            "the line runs a python script but no script runner was given",
            config_name=config_name,
            line_label=plan.script_label,
        )
    run = _MappingRun()
    run.access = access
    run.run_script = run_script
    base = dict(script_context or {})
    # "result" is how statement scripts hand back their value; never let a
    # caller-provided one leak into it.
    base.pop("result", None)
    run.base_ctx = base
    run.config_name = config_name
    return plan, run


def _build(record, plan, run):
    payload = {}
    for line in plan.lines:
        try:
            value = _line_value(record, line, run)
        except MappingError as exc:
            if not exc.line_label:
                # Raised by a script or adapter itself: wrap like any error.
                raise MappingError(
                    exc.cause,
                    config_name=run.config_name,
                    line_label=line.label,
                    record_ref=_safe_ref(run.access, record),
                    line_id=line.line_id,
                ) from exc
            # Error from a nested mapping: keep its record and line, prefix our line.
            raise MappingError(
                exc.cause,
                config_name=run.config_name,
                line_label=f"{line.label} > {exc.line_label}",
                record_ref=exc.record_ref,
                line_id=exc.line_id if exc.line_id is not None else line.line_id,
            ) from (exc.__cause__ or exc)
        except Exception as exc:
            cause = str(exc) if isinstance(exc, _LineProblem) else exc
            raise MappingError(
                cause,
                config_name=run.config_name,
                line_label=line.label,
                record_ref=_safe_ref(run.access, record),
                line_id=line.line_id,
            ) from exc
        if value is _SKIP:
            continue
        node = payload
        # The plan guarantees no key is both a value and a parent, so every
        # existing intermediate node is a dict we created.
        for part in line.parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        node[line.leaf] = value
    return payload


def _line_value(record, line, run):
    kind = line.kind
    access = run.access
    if kind == "plain":
        return _plain(record, line.field, access)
    if kind == "relational":
        return _relational(record, line, run)
    if kind == "python":
        value = _plain(record, line.field, access) if line.field else None
        return _script(record, line, value, run)
    return _script(record, line, _relational(record, line, run), run)


def _plain(record, field, access):
    return to_json_value(access.field_type(record, field), access.read(record, field), access)


def _relational(record, line, run):
    access = run.access
    field = line.field
    raw = access.read(record, field)
    value, _multi = _resolve(raw, access.field_type(record, field), 0, line, run)
    return value


def _resolve(raw, ftype, pos, line, run):
    """Follow ``line.path`` from ``pos``; returns (json value, produced-by-x2many)."""
    access = run.access
    path = line.path
    if pos == len(path):
        if line.sub is not None:
            return _nested(raw, ftype, line, run), ftype in X2MANY_TYPES
        return to_json_value(ftype, raw, access), ftype in X2MANY_TYPES
    seg = path[pos]
    if ftype == "many2one":
        if not raw:
            return None, False
        return _resolve(
            access.read(raw, seg), access.field_type(raw, seg), pos + 1, line, run
        )
    if ftype in X2MANY_TYPES:
        out = []
        for sub in access.iterate(raw):
            value, multi = _resolve(
                access.read(sub, seg), access.field_type(sub, seg), pos + 1, line, run
            )
            # One element per sub-record; lists coming from a deeper x2many
            # are merged in (one level of flattening per x2many on the path).
            if multi:
                out.extend(value)
            else:
                out.append(value)
        return out, True
    done = ".".join((line.field, *path[:pos]))
    raise _LineProblem(
        f'related path "{line.path_text}" cannot continue past "{done}": '
        f"it is a {ftype} field, not a relational one"
    )


def _nested(raw, ftype, line, run):
    if ftype == "many2one":
        return _build(raw, line.sub, run) if raw else None
    if ftype in X2MANY_TYPES:
        return [_build(sub, line.sub, run) for sub in run.access.iterate(raw)]
    raise _LineProblem(
        f"a nested mapping needs a many2one, one2many or many2many field, not {ftype}"
    )


def _script(record, line, value, run):
    ctx = dict(run.base_ctx)
    ctx["record"] = record
    ctx["records"] = record
    ctx["value"] = value
    result = run.run_script(line.code, line.mode, ctx)
    if line.mode == "execute":
        return _SKIP
    if result is None:
        # Statement scripts assign `result` instead of being an expression.
        result = ctx.get("result")
    return _jsonable(result)


def build_payloads(records, lines: Iterable[LineSpec], access: RecordAccess, *,
                   run_script: ScriptRunner | None = None,
                   script_context: dict | None = None,
                   config_name: str = "") -> list[dict]:
    """Build one JSON object per record (records taken via ``access.iterate``).

    ``run_script`` executes python lines (required when there is one);
    ``script_context`` is the base context for scripts (``record``,
    ``records`` and ``value`` are added per line). Raises
    :class:`MappingError` naming config, line and record on any failure. The
    lines are compiled once for all records.
    """
    plan, run = _prepare(lines, access, run_script, script_context, config_name)
    return [_build(record, plan, run) for record in access.iterate(records)]
