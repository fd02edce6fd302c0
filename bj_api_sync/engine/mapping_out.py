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

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from . import serialize

_logger = logging.getLogger(__name__)

#: Deepest nesting of sub-mappings (a line's ``sub_lines``) accepted. Deeper
#: means a mapping config (indirectly) refers back to itself.
MAX_DEPTH = 10

VALUE_TYPES = frozenset({"plain", "relational", "python", "relational_python"})
PYTHON_MODES = frozenset({"evaluate", "execute"})
X2MANY_TYPES = frozenset({"one2many", "many2many"})

__all__ = [
    "MAX_DEPTH",
    "LineSpec",
    "MappingError",
    "RecordAccess",
    "ScriptRunner",
    "build_payloads",
    "compile_lines",
    "get_dotted",
    "set_dotted",
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

    def display_name(self, record) -> str:
        """The record's display name (``name`` of a many2one in the ANSWER profile)."""


#: ``(code, mode, context) -> value``. The Odoo layer passes a wrapper around
#: ``safe_eval``; raising means the script failed. In ``evaluate`` mode the
#: value is the returned one, or ``context["result"]`` when None is returned.
ScriptRunner = Callable[[str, str, dict], Any]


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

    __slots__ = ("access", "base_ctx", "config_name", "converters", "run_script")


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


def _prepare(lines, access, run_script, script_context, config_name, profile):
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
    run.converters = serialize.PROFILES[profile]
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


#: What a script line gets as ``value``: the field's value in the OUTBOUND
#: profile, whatever the profile of the run (scripts were written against it).
_SCRIPT_VALUE = serialize.PROFILES[serialize.OUTBOUND]


def _line_value(record, line, run):
    kind = line.kind
    access = run.access
    if kind == "plain":
        return _plain(record, line.field, access, run.converters)
    if kind == "relational":
        return _relational(record, line, run, run.converters)
    if kind == "python":
        value = _plain(record, line.field, access, _SCRIPT_VALUE) if line.field else None
        return _script(record, line, value, run)
    return _script(record, line, _relational(record, line, run, _SCRIPT_VALUE), run)


def _plain(record, field, access, converters):
    ftype = access.field_type(record, field)
    convert = converters.get(ftype) or serialize.converter(ftype)
    return convert(access.read(record, field), access)


def _relational(record, line, run, converters):
    access = run.access
    field = line.field
    raw = access.read(record, field)
    value, _multi = _resolve(raw, access.field_type(record, field), 0, line, run, converters)
    return value


def _resolve(raw, ftype, pos, line, run, converters):
    """Follow ``line.path`` from ``pos``; returns (json value, produced-by-x2many)."""
    access = run.access
    path = line.path
    if pos == len(path):
        if line.sub is not None:
            return _nested(raw, ftype, line, run), ftype in X2MANY_TYPES
        convert = converters.get(ftype) or serialize.converter(ftype)
        return convert(raw, access), ftype in X2MANY_TYPES
    seg = path[pos]
    if ftype == "many2one":
        if not raw:
            return None, False
        return _resolve(
            access.read(raw, seg), access.field_type(raw, seg), pos + 1, line, run, converters
        )
    if ftype in X2MANY_TYPES:
        out = []
        for sub in access.iterate(raw):
            value, multi = _resolve(
                access.read(sub, seg), access.field_type(sub, seg), pos + 1, line, run,
                converters,
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
    return serialize.jsonable(result)


def build_payloads(records, lines: Iterable[LineSpec], access: RecordAccess, *,
                   run_script: ScriptRunner | None = None,
                   script_context: dict | None = None,
                   config_name: str = "",
                   profile: str = serialize.OUTBOUND) -> list[dict]:
    """Build one JSON object per record (records taken via ``access.iterate``).

    Field values are converted by :mod:`.serialize` in ``profile``:
    ``OUTBOUND`` for request bodies, ``ANSWER`` for inbound answers.

    ``run_script`` executes python lines (required when there is one);
    ``script_context`` is the base context for scripts (``record``,
    ``records`` and ``value`` are added per line). Raises
    :class:`MappingError` naming config, line and record on any failure. The
    lines are compiled once for all records.
    """
    plan, run = _prepare(lines, access, run_script, script_context, config_name, profile)
    return [_build(record, plan, run) for record in access.iterate(records)]
