"""Which inbound resources a caller of ``openapi.json`` can reach, as the
descriptions :func:`..engine.openapi.build_document` takes.

A resource is listed when the request carries credentials that would pass on
it (an Odoo API key for bearer/basic configs, the config's own token, login
or headers, or nothing for auth ``none``) and the user it would run as may
read its model; its fields are those that user sees.
"""
import logging
import re

from ..engine import auth_headers, openapi
from . import inbound_auth

_logger = logging.getLogger(__name__)


def _config_user(spec, headers, parsed):
    """The config's user when the request carries the config's own credentials."""
    if spec.auth_type == "none":
        return spec.user_id
    if spec.auth_type == "custom":
        results = [auth_headers.secrets_equal(headers.get(k), v) for k, v in spec.headers]
        return spec.user_id if spec.headers and all(results) else None
    if spec.auth_type == "bearer" and parsed and parsed[0] == "bearer":
        return spec.user_id if auth_headers.secrets_equal(parsed[1], spec.token) else None
    if spec.auth_type == "basic" and parsed and parsed[0] == "basic":
        ok = [auth_headers.secrets_equal(parsed[1], spec.login),
              auth_headers.secrets_equal(parsed[2], spec.password)]
        return spec.user_id if spec.login and all(ok) else None
    return None


# ``CHECK (... name IS NOT NULL ...)``: the column is required by the table.
_NOT_NULL_RE = re.compile(r"\b([a-z_][a-z0-9_]*)\s+IS\s+NOT\s+NULL\b", re.IGNORECASE)


def _table_required(model):
    """Fields that a CHECK constraint of the model wants NOT NULL (res.partner's name)."""
    names = set()
    for _name, definition, _message in getattr(model, "_sql_constraints", ()):
        if definition.strip().upper().startswith("CHECK"):
            names.update(_NOT_NULL_RE.findall(definition))
    return {name for name in names if name in model._fields}


def _described(model, desc, name, table_required, defaults):
    """``desc`` with what the document needs beyond ``fields_get``: required by
    the table, or given a value by a default when left out of a create."""
    desc = dict(desc)
    if name in table_required:
        desc["required"] = True
    if name in defaults or model._fields[name].compute:
        desc["has_default"] = True
    return desc


def _fields(env, spec, own_user):
    """Return ``(fields, selectable)``: the resource's keys with their descriptions
    (as ``build_document`` takes them) and the names ``fields`` accepts
    (``own_user``: as for ``inbound_crud.Resource``)."""
    fsets = env["bj.api.sync.config"]._bj_field_sets(spec.model)
    model = env[spec.model]
    if spec.lines:
        named = [(line.key, line.field) for line in spec.lines
                 if line.field and line.field in fsets.inputs]
        selectable = sorted({*spec.output_keys, *fsets.readable} if own_user
                            else spec.output_keys)
    else:
        named = [(name, name) for name in fsets.inputs]
        selectable = sorted(fsets.readable)
    table_required = _table_required(model)
    required = [f for _k, f in named
                if fsets.inputs[f].get("required") or f in table_required]
    defaults = set(model.default_get(required)) if required else set()
    fields = {
        key: _described(model, fsets.inputs[fname], fname, table_required, defaults)
        for key, fname in named
    }
    return fields, selectable


def _filters(env, spec):
    """The config's parameter filters on fields the user may read."""
    readable = env["bj.api.sync.config"]._bj_field_sets(spec.model).readable
    return [
        {"name": key, "field": fname, "operator": operator,
         "type": readable[fname].get("type")}
        for key, fname, operator in spec.params
        if fname in readable
    ]


def reachable_resources(env, infra, call, caller):
    """Return the resource descriptions for this call (see module docstring).

    ``caller`` is the API-key caller or None. Raises 401 when an
    Authorization header was sent that matches neither an API key nor any
    config's credentials.
    """
    headers = call.headers
    parsed = auth_headers.parse_authorization(headers.get("Authorization"))
    configs = infra["bj.api.sync.config"]
    resources = []
    matched_config_credentials = False
    for endpoint in configs._bj_inbound_endpoints():
        spec = configs._bj_inbound_spec(endpoint)
        if spec is None:
            continue
        uid = None
        own_user = False
        if caller and spec.auth_type in ("bearer", "basic"):
            uid, own_user = caller.uid, caller.method == "apikey"
        else:
            uid = _config_user(spec, headers, parsed)
            if uid and spec.auth_type != "none":
                matched_config_credentials = True
        uid = inbound_auth.check_user(infra, uid)
        if not uid:
            continue
        user_env = env(user=uid, su=False)
        if not user_env[spec.model].check_access_rights("read", raise_exception=False):
            continue
        fields, selectable = _fields(user_env, spec, own_user)
        conflict = openapi.key_conflict(fields)
        if conflict:
            # Lines saved before the constraint refused them: describe the
            # other resources rather than fail the whole document.
            _logger.warning("openapi.json: resource %r left out: %s", spec.endpoint, conflict)
            continue
        resources.append({
            "endpoint": spec.endpoint,
            "model": spec.model,
            "name": spec.name,
            "methods": sorted(spec.methods),
            "fields": fields,
            "selectable": selectable,
            "filters": _filters(user_env, spec),
            "identifier": spec.identifier.key if spec.identifier else None,
            "auth_type": spec.auth_type,
            "custom_headers": [name for name, _value in spec.headers],
        })
    if headers.get("Authorization") and not caller and not matched_config_credentials:
        raise inbound_auth.auth_error("bearer")
    return resources



def close_request_bodies(document):
    """Declare the top level of every JSON request body closed (``additionalProperties:
    false``): the API refuses unknown top-level keys, and clients should know."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            if schema.get("type") == "object" and "properties" in schema:
                schema.setdefault("additionalProperties", False)
    return document
