"""Frozen snapshots of inbound configurations and of the fields a user may use.

The inbound API looks a configuration up on every request. Reading it through
the ORM each time (config, lines, headers, params, methods, fields) costs a
dozen queries; instead :func:`build_spec` turns a config into an immutable
:class:`ResourceSpec` that ``bj.api.sync.config._bj_inbound_spec`` keeps in an
``ormcache`` (cleared whenever a config or one of its lines, headers or
params changes, in every worker through the registry's cache signalling).
"""
import types
from dataclasses import dataclass, field

from odoo.models import MAGIC_COLUMNS

from ..engine import mapping_out
from . import odoo_mapping

# Never written by clients, whatever fields_get says.
NOT_WRITABLE = frozenset(MAGIC_COLUMNS) | {"id", "display_name", "__last_update"}
NOT_WRITABLE_TYPES = frozenset({"properties", "properties_definition"})
# Not returned when no field selection is asked for: heavy or not record data.
DEFAULT_EXCLUDED_TYPES = frozenset({"binary", "properties", "properties_definition"})
FIELD_ATTRIBUTES = ("type", "string", "readonly", "required", "store", "selection", "relation",
                    "searchable", "size")


@dataclass(frozen=True)
class LineInfo:
    """One field mapping of an inbound config, detached from the database."""

    key: str
    field: str | None
    ftype: str | None
    relation: str | None
    value_type: str
    related_path: str | None
    python_code: str | None
    python_mode: str
    is_identifier: bool
    #: (model, field name, filter domain text) of the mapping config's identifier
    sub_identifier: tuple | None
    label: str
    line_id: int = 0


@dataclass(frozen=True)
class ResourceSpec:
    """What the inbound API needs to know about one active inbound config."""

    config_id: int
    name: str
    endpoint: str
    model: str
    user_id: int
    auth_type: str
    login: str
    password: str
    token: str
    headers: tuple  # ((name, value), ...) required by auth "custom"
    methods: frozenset
    lines: tuple  # LineInfo, sequence order
    identifier: LineInfo | None
    params: tuple  # ((key, field name, operator), ...) with a field
    rate_minute: int
    rate_hour: int
    page_size: int
    filter_domain: str
    has_active: bool
    output_lines: tuple = field(default=())  # engine.mapping_out.LineSpec
    #: the config's company (0: none): its filter domain keeps records to it
    company_id: int = 0
    #: ((mapping label, line id), ...) of every line, sub-configs' lines included
    line_labels: tuple = field(default=())

    @property
    def output_keys(self):
        """The external keys of the config's lines."""
        return frozenset(line.key for line in self.lines)

    def line_id(self, label):
        """Return the id of the line a mapping error's ``label`` names (0 if unknown)."""
        return dict(self.line_labels).get(label, 0)

    @property
    def secrets(self):
        """Every secret of the config, masked in logs wherever it appears."""
        values = [self.password, self.token] + [v for _k, v in self.headers]
        return tuple(v for v in values if v)

    @property
    def input_lines(self):
        """Lines that take a value from the request body, by external key."""
        return {line.key: line for line in self.lines}


def _text(value):
    return value or ""


def _sub_identifier(line):
    sub = line.mapping_config_id
    if not sub:
        return None
    ident = sub.line_ids.filtered("is_identifier")[:1]
    if not ident or not ident.field_id:
        return None
    return (sub.model_id.model, ident.field_id.name, sub.filter_domain or "[]")


def output_line_specs(config):
    """Return the config's lines as ``engine.mapping_out.LineSpec`` (sub-configs included;
    nothing when the config has no lines)."""
    return odoo_mapping.line_specs(config, with_defaults=False)


def _line_labels(config, prefix="", depth=0):
    """Return ``((label, line id), ...)`` with the labels :func:`odoo_mapping.line_specs`
    gives (``line 2 (country) > line 1 (iso)`` for a sub-config's line)."""
    pairs = []
    if depth > mapping_out.MAX_DEPTH:
        return pairs
    for index, line in enumerate(config.line_ids, start=1):
        label = f"{prefix}line {index} ({line.external_key})"
        pairs.append((label, line.id))
        if line.mapping_config_id and line.value_type in ("relational", "relational_python"):
            pairs += _line_labels(line.mapping_config_id, label + " > ", depth + 1)
    return pairs


def build_spec(config, lines=None):
    """Return the :class:`ResourceSpec` of one inbound config (read with sudo).

    ``lines``: the mapping lines to use instead of the config's request lines
    (an outbound config's response lines map an answer as inbound lines map
    ``data``).
    """
    config = config.sudo()
    source_lines = config.line_ids if lines is None else lines.sudo()
    lines = []
    for index, line in enumerate(source_lines, start=1):
        lines.append(
            LineInfo(
                key=line.external_key,
                field=line.field_id.name or None,
                ftype=line.field_id.ttype or None,
                relation=line.field_id.relation or None,
                value_type=line.value_type or "plain",
                related_path=line.related_path or None,
                python_code=line.python_code or None,
                python_mode=line.python_mode or "evaluate",
                is_identifier=bool(line.is_identifier),
                sub_identifier=_sub_identifier(line),
                label=f"line {index} ({line.external_key})",
                line_id=line.id,
            )
        )
    identifier = next((li for li in lines if li.is_identifier and li.field), None)
    model = config.model_id.model
    return ResourceSpec(
        config_id=config.id,
        name=config.name,
        endpoint=config.endpoint,
        model=model,
        user_id=config.user_id.id or 0,
        auth_type=config.auth_type or "none",
        login=_text(config.auth_login),
        password=_text(config.auth_password),
        token=_text(config.bearer_token),
        headers=tuple((h.key, _text(h.value)) for h in config.header_ids if h.key),
        methods=frozenset(m.name.upper() for m in config.http_method_ids),
        lines=tuple(lines),
        identifier=identifier,
        params=tuple(
            (p.key, p.field_id.name, p.operator or "=") for p in config.param_ids if p.field_id
        ),
        rate_minute=max(config.rate_limit_per_minute, 0),
        rate_hour=max(config.rate_limit_per_hour, 0),
        page_size=max(config.page_size, 1),
        filter_domain=(config.filter_domain or "").strip() or "[]",
        has_active="active" in config.env[model]._fields,
        output_lines=output_line_specs(config),
        line_labels=tuple(_line_labels(config)),
        company_id=config.company_id.id or 0,
    )


@dataclass(frozen=True)
class FieldSets:
    """The fields of a model one user may read and write (``fields_get`` as that user).

    ``readable``: name -> description; ``inputs``: the same descriptions with
    ``readonly`` forced where the API never writes (magic, computed, ...);
    ``writable``: names a client may set; ``default_read``: names returned
    when no selection is asked for.
    """

    readable: types.MappingProxyType
    inputs: types.MappingProxyType
    writable: frozenset
    default_read: tuple


def field_sets(model):
    """Return the :class:`FieldSets` of ``model`` (a recordset bound to the user)."""
    described = model.fields_get(attributes=list(FIELD_ATTRIBUTES))
    readable = {}
    inputs = {}
    writable = set()
    default_read = []
    for name, desc in described.items():
        field_obj = model._fields.get(name)
        if field_obj is None:
            continue
        desc = dict(desc)
        desc.setdefault("store", bool(field_obj.store))
        readable[name] = desc
        can_write = (
            not desc.get("readonly")
            and name not in NOT_WRITABLE
            and desc.get("type") not in NOT_WRITABLE_TYPES
            and (field_obj.store or field_obj.inverse or not field_obj.compute)
        )
        inputs[name] = desc if can_write else {**desc, "readonly": True}
        if can_write:
            writable.add(name)
        if field_obj.store and desc.get("type") not in DEFAULT_EXCLUDED_TYPES and (
            name not in ("__last_update",)
        ):
            default_read.append(name)
    return FieldSets(
        readable=types.MappingProxyType(readable),
        inputs=types.MappingProxyType(inputs),
        writable=frozenset(writable),
        default_read=tuple(default_read),
    )
