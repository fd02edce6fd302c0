"""OpenAPI 3.0.3 description of the inbound API (``GET /api/sync/v1/openapi.json``).

The Odoo layer passes the resources the caller can reach, each already reduced
to what the caller may see; this module only shapes the document. Output is
deterministic for a given input (resources are sorted by endpoint), so that
clients may cache and diff it.
"""
import copy
import json
import re

from .batch_request import MAX_BATCH_OPERATIONS
from .errors import STATUS_BY_CODE
from .mapping_in import INT4_MAX, INT4_MIN
from .query import MAX_LIMIT, MAX_OFFSET, max_page
from .routes import API_BASE, RESERVED_ENDPOINTS

OPENAPI_VERSION = "3.0.3"

#: Text the API stores: PostgreSQL cannot hold NUL characters (mapping_in refuses them).
NO_NUL_PATTERN = "^[^\\x00]*$"
_X2MANY = ("one2many", "many2many")
_NUMERIC = ("integer", "float", "monetary")
_ERROR_RESPONSES = (
    # (status, component name, description, extra headers)
    ("400", "ValidationError", "Invalid input (VALIDATION_ERROR)", ()),
    ("401", "AuthenticationError", "Missing or invalid credentials (AUTHENTICATION_ERROR)",
     ("WWW-Authenticate",)),
    ("403", "PermissionDenied", "Insufficient access rights (PERMISSION_DENIED)", ()),
    ("404", "NotFound", "Unknown resource or record (NOT_FOUND)", ()),
    ("405", "MethodNotAllowed", "Verb not enabled for this resource (METHOD_NOT_ALLOWED)",
     ("Allow",)),
    ("409", "DuplicateRecord", "The record already exists (DUPLICATE_RECORD)", ()),
    ("413", "PayloadTooLarge", "Request body too large (PAYLOAD_TOO_LARGE)", ()),
    ("429", "RateLimitExceeded", "Too many requests (RATE_LIMIT_EXCEEDED)",
     ("Retry-After",)),
    ("500", "InternalError", "Unexpected server error (INTERNAL_ERROR)", ()),
)
# Answers of the write operations that take an Idempotency-Key:
# (status, component name, description, code of the example).
_IDEMPOTENCY_RESPONSES = (
    ("409", "WriteConflict", "The record already exists (DUPLICATE_RECORD), or the first "
     "request with this Idempotency-Key is still running (IDEMPOTENCY_KEY_IN_USE)",
     "IDEMPOTENCY_KEY_IN_USE"),
    ("422", "IdempotencyKeyReused", "This Idempotency-Key was used with another request "
     "(IDEMPOTENCY_KEY_REUSED)", "IDEMPOTENCY_KEY_REUSED"),
)
_COMMON_HEADERS = ("X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                   "X-RateLimit-Reset")
_HEADER_COMPONENTS = {
    "X-Request-Id": {
        "description": "Trace id of the request (also in error bodies and the API log). "
        "A valid client-sent X-Request-Id (req_ + 8-64 of A-Za-z0-9_-) is reused.",
        "required": True,
        "schema": {"type": "string", "pattern": "^req_[A-Za-z0-9_-]{8,64}$"},
    },
    "X-RateLimit-Limit": {
        "description": "Request limit of the binding rate-limit window "
        "(absent when no limit applies).",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the binding window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Epoch second at which the binding window resets.",
        "schema": {"type": "integer"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Allow": {
        "description": "Verbs enabled for this resource.",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "Authentication scheme expected.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "true: this is the kept answer of an earlier request with the same "
        "Idempotency-Key; nothing was written.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_WEBHOOK_SECURITY = [{"bearerAuth": []}, {"basicAuth": []}]
#: Events a callback can subscribe to through ``/events/subscribe``.
SUBSCRIBE_EVENTS = ("record.created", "record.updated", "record.deleted", "state.changed")


def _ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema_name(endpoint):
    """CamelCase, alphanumeric schema name of an endpoint (``res.partner`` -> ``ResPartner``)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", endpoint) if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Resource"


def _operation_prefix(endpoint):
    return re.sub(r"[^A-Za-z0-9_]", "_", endpoint)


def _unique(candidate, used, suffixes=("",), sep=""):
    """Return ``candidate``, else ``candidate<sep>2``, ``<sep>3``..., the first name
    for which no ``name + suffix`` is in ``used``; reserve those in ``used``."""
    name, number = candidate, 1
    while any(name + s in used for s in suffixes):
        number += 1
        name = f"{candidate}{sep}{number}"
    used.update(name + s for s in suffixes)
    return name


# -- field schemas ------------------------------------------------------------------


def _selection_schema(desc):
    keys = [item[0] for item in desc.get("selection") or []]
    if keys and all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        schema = {"type": "integer"}
    else:
        schema = {"type": "string"}
    if keys:
        schema["enum"] = list(keys)
    return schema


def _record_id_schema():
    return {"type": "integer", "minimum": 1, "maximum": INT4_MAX}


def _many2one_ref_schema():
    return {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": _record_id_schema(),
            "name": {"type": "string"},
        },
    }


def _base_schema(desc, mode):
    """Schema of one field without nullability; ``mode`` is "output" or "input"."""
    ftype = desc.get("type")
    if ftype in ("char", "text", "html", "reference"):
        schema = {"type": "string"}
        size = desc.get("size")
        if ftype == "char" and isinstance(size, int) and size > 0:
            schema["maxLength"] = size
        if mode == "input":
            schema["pattern"] = NO_NUL_PATTERN
        return schema
    if ftype == "selection":
        return _selection_schema(desc)
    if ftype in ("integer", "many2one_reference"):
        # PostgreSQL int4: the API refuses what the column cannot hold.
        return {"type": "integer", "minimum": INT4_MIN, "maximum": INT4_MAX}
    if ftype in ("float", "monetary"):
        return {"type": "number"}
    if ftype == "boolean":
        return {"type": "boolean"}
    if ftype == "date":
        return {"type": "string", "format": "date"}
    if ftype == "datetime":
        return {"type": "string", "format": "date-time"}
    if ftype == "binary":
        return {"type": "string", "format": "byte"}
    if ftype == "many2one":
        if mode == "output":
            return {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string", "nullable": True},
                },
            }
        return {"oneOf": [_record_id_schema(), _many2one_ref_schema()]}
    if ftype in _X2MANY:
        if mode == "output":
            return {"type": "array", "items": {"type": "integer"}}
        # OpenAPI 3.0 has no tuple schemas: the ORM commands, which the API
        # also takes, cannot be described exactly, so only the id list is.
        return {
            "type": "array",
            "description": "Record ids (replace the whole set). ORM commands are "
            "accepted too: [0, 0, {values}], [1, id, {values}], [2, id], [3, id], "
            "[4, id], [5], [6, 0, [ids]].",
            "items": _record_id_schema(),
        }
    # json, properties and types this module does not know: any JSON value.
    return {}


def _nullable(desc, mode):
    """Whether a field may be null, matching what mapping_in accepts and serialize emits."""
    ftype = desc.get("type")
    if ftype in ("boolean", "json") or ftype in _X2MANY:
        return False
    if mode == "output" and ftype in _NUMERIC:
        return False  # serialize_value answers 0 for an empty number
    if desc.get("required"):
        # Mapped keys answer null for empty text, which a required char holds.
        return mode == "output" and ftype in ("char", "text", "html")
    return ftype is not None


def _field_schema(desc, mode):
    schema = _base_schema(desc, mode)
    label = desc.get("string")
    if _nullable(desc, mode) and schema:
        schema["nullable"] = True
        if "enum" in schema:
            # In 3.0.3 nullable does not widen an enum: null is listed explicitly.
            schema["enum"].append(None)
    if mode == "output" and desc.get("readonly"):
        schema["readOnly"] = True
    if label:
        if "description" in schema:
            schema["description"] = f"{label}. {schema['description']}"
        else:
            schema["description"] = str(label)
    return schema


def key_conflict(keys):
    """Return why dotted ``keys`` cannot nest (a key both a value and an object), or None."""
    try:
        _key_tree(dict.fromkeys(keys, {}))
    except ValueError as exc:
        return str(exc)
    return None


def _key_tree(fields):
    """Nest dotted external keys: ``{"a.b": d}`` -> ``{"a": {"b": d}}``."""
    tree = {}
    for key in sorted(fields):
        parts = key.split(".")
        node = tree
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if last:
                if part in node:
                    raise ValueError(f"key {key!r} is also a prefix of another key")
                node[part] = ("leaf", fields[key])
            else:
                child = node.setdefault(part, {})
                if isinstance(child, tuple):
                    raise ValueError(
                        f"key {'.'.join(parts[: depth + 1])!r} is both a value and "
                        "an object"
                    )
                node = child
    return tree


def _object_schema(tree, mode, required_mode):
    """Schema of one (possibly nested) object of the tree.

    ``required_mode`` lists required keys; the Update variant of the input
    schema is partial and lists none. Returns ``None`` for an input object
    with nothing writable in it.
    """
    properties = {}
    required = []
    for key, node in tree.items():
        if isinstance(node, tuple):
            desc = node[1]
            if mode == "input" and desc.get("readonly"):
                continue
            properties[key] = _field_schema(desc, mode)
            # A required field with a default may be left out of a create.
            if required_mode and desc.get("required") and not desc.get("has_default"):
                required.append(key)
        else:
            sub = _object_schema(node, mode, required_mode)
            if sub is None:
                continue
            properties[key] = sub
            if sub.get("required"):
                required.append(key)
    if mode == "input" and not properties:
        return None
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if mode == "input":
        # Unknown and read-only keys are refused (400): the object is closed.
        schema["additionalProperties"] = False
    return schema


def _resource_schemas(resource, schema_name):
    fields = resource.get("fields") or {}
    tree = _key_tree(fields)
    output = _object_schema(tree, "output", False)
    output["properties"] = {"id": {"type": "integer", "readOnly": True},
                            **output["properties"]}
    output["description"] = f"{resource.get('name') or resource['endpoint']} " \
        f"(model {resource.get('model') or resource['endpoint']})"
    empty = {"type": "object", "properties": {}, "additionalProperties": False}
    create = _object_schema(tree, "input", True) or dict(empty)
    update = _object_schema(tree, "input", False) or dict(empty)
    identifier = resource.get("identifier")
    create["description"] = "Values of a new record."
    if identifier:
        create["description"] += (
            f" When '{identifier}' matches an existing record, that record is "
            "updated instead (upsert)."
        )
    update["description"] = "Values to change; keys left out are not touched."
    return {schema_name: output, f"{schema_name}Input": create,
            f"{schema_name}Update": update}


# -- shared components ------------------------------------------------------------


def _error_schema():
    return {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {
                "type": "object",
                "required": ["code", "message", "details", "trace_id"],
                "properties": {
                    "code": {"type": "string", "enum": list(STATUS_BY_CODE)},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                    "trace_id": {"type": "string", "pattern": "^req_[A-Za-z0-9_-]{8,64}$"},
                },
            },
        },
    }


def _pagination_schema():
    return {
        "type": "object",
        "required": ["total", "page", "per_page", "pages", "next", "previous"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 0},
            "next": {"type": "string", "nullable": True},
            "previous": {"type": "string", "nullable": True},
        },
    }


def _batch_result_schema():
    return {
        "type": "object",
        "required": ["index", "success"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "success": {"type": "boolean"},
            "id": {"type": "integer", "nullable": True},
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            },
        },
    }


def _string_list():
    return {"type": "array", "items": {"type": "string"}}


def _domain_schema():
    return {
        "type": "array",
        "description": "Odoo domain, e.g. [[\"customer_rank\", \">\", 0]]",
        "items": {"oneOf": [
            {"type": "string", "enum": ["&", "|", "!"]},
            {"type": "array", "minItems": 3, "maxItems": 3, "items": {}},
        ]},
    }


def _webhook_authentication_schema():
    return {
        "type": "object",
        "description": "How Odoo authenticates when it calls the webhook URL.",
        "properties": {
            "type": {"type": "string", "enum": ["none", "basic", "bearer", "custom"]},
            "token": {"type": "string", "description": "bearer: the token"},
            "username": {"type": "string", "description": "basic: the login"},
            "password": {"type": "string", "description": "basic: the password",
                         "format": "password"},
            "header_name": {"type": "string", "description": "custom: header name"},
            "header_value": {"type": "string", "description": "custom: header value"},
        },
    }


def _signing_schema():
    return {
        "type": "boolean", "default": False,
        "description": "Sign every delivery the Standard Webhooks way (headers webhook-id, "
        "webhook-timestamp, webhook-signature); the answer then returns the signing "
        "secret, once.",
    }


def _webhook_input_schema():
    return {
        "type": "object",
        "required": ["url", "events", "model"],
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "events": {
                "type": "array", "minItems": 1, "items": {"type": "string"},
                "description": "create, update, delete, or record.created, "
                "record.updated, record.deleted, state.changed",
            },
            "model": {"type": "string", "example": "res.partner"},
            "fields": _string_list(),
            "conditions": _domain_schema(),
            "authentication": _ref("schemas", "WebhookAuthentication"),
            "signing": _signing_schema(),
        },
    }


def _event_subscription_input_schema():
    return {
        "type": "object",
        "required": ["events", "model", "callback_url"],
        "properties": {
            "events": {
                "type": "array", "minItems": 1,
                "items": {"type": "string", "enum": list(SUBSCRIBE_EVENTS)},
            },
            "model": {"type": "string", "example": "res.partner"},
            "callback_url": {"type": "string", "format": "uri"},
            "fields": _string_list(),
            "filters": {
                "type": "object",
                "description": "field -> [operator, value], e.g. "
                "{\"customer_rank\": [\">\", 0]}",
                "additionalProperties": {"type": "array", "minItems": 2,
                                         "maxItems": 2, "items": {}},
            },
            "authentication": _ref("schemas", "WebhookAuthentication"),
            "signing": _signing_schema(),
        },
    }


def _webhook_schema():
    return {
        "type": "object",
        "properties": {
            "webhook_id": {"type": "string"},
            "url": {"type": "string"},
            "events": _string_list(),
            "model": {"type": "string"},
            "fields": _string_list(),
            "status": {"type": "string"},
        },
    }


def _webhook_created_schema():
    return {
        "type": "object",
        "required": ["success", "webhook_id", "status"],
        "properties": {
            "success": {"type": "boolean"},
            "webhook_id": {"type": "string", "example": "wh_123456"},
            "status": {"type": "string", "example": "active"},
            "signing_secret": {
                "type": "string", "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "description": "With \"signing\": true only, and only in this answer: "
                "the secret that verifies the deliveries' webhook-signature.",
            },
        },
    }


def _shared_schemas():
    """The schemas every document has, whatever its resources (in document order)."""
    return {
        "Error": _error_schema(),
        "Pagination": _pagination_schema(),
        "BatchResult": _batch_result_schema(),
        "WebhookAuthentication": _webhook_authentication_schema(),
        "WebhookInput": _webhook_input_schema(),
        "EventSubscriptionInput": _event_subscription_input_schema(),
        "Webhook": _webhook_schema(),
        "WebhookCreated": _webhook_created_schema(),
    }


def _parameters():
    def query(name, schema, description, example=None):
        param = {"name": name, "in": "query", "required": False,
                 "description": description, "schema": schema}
        if example is not None:
            param["example"] = example
        return param

    return {
        "RecordId": {"name": "id", "in": "path", "required": True,
                     "description": "Database id of the record",
                     "schema": {"type": "integer", "minimum": 1}},
        "WebhookId": {"name": "id", "in": "path", "required": True,
                      "description": "Id of the webhook",
                      "schema": {"type": "string"}},
        "RequestId": {"name": "X-Request-Id", "in": "header", "required": False,
                      "description": "Optional trace id: a value of req_ + 8-64 of "
                      "A-Za-z0-9_- is reused as the answer's X-Request-Id, any other "
                      "value is replaced by a new trace id",
                      "schema": {"type": "string"}},
        "limit": query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                       "Maximum number of records (with offset; not with page/per_page)"),
        "offset": query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                        "Records to skip (with limit; not with page/per_page)"),
        "page": query("page", {"type": "integer", "minimum": 1, "maximum": max_page()},
                      "Page number, 1-based (with per_page; not with limit/offset)"),
        "archive_instead": query("archive_instead", {"type": "boolean"},
                                 "true: archive the record instead of deleting it"),
        "per_page": query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                          "Records per page (with page; not with limit/offset)"),
        "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "Optional: send the request again with the same key and get the "
            "first answer back (24 hours, per caller) with Idempotent-Replayed: true, "
            "instead of writing twice. 1-255 printable ASCII characters, e.g. a UUID.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                       "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$"},
        },
    }


def _responses_components():
    responses = {}
    for status, name, description, extra in _ERROR_RESPONSES:
        code = next(c for c, s in STATUS_BY_CODE.items() if str(s) == status)
        headers = _common_headers()
        headers.update({h: _ref("headers", h) for h in extra})
        responses[name] = {
            "description": description,
            "headers": headers,
            "content": {"application/json": {
                "schema": _ref("schemas", "Error"),
                "example": {"success": False, "error": {
                    "code": code, "message": description, "details": {},
                    "trace_id": "req_0123456789abcdef01234567"}},
            }},
        }
    for _status, name, description, code in _IDEMPOTENCY_RESPONSES:
        responses[name] = {
            "description": description,
            "headers": _common_headers(),
            "content": {"application/json": {
                "schema": _ref("schemas", "Error"),
                "example": {"success": False, "error": {
                    "code": code, "message": description,
                    "details": {"header": "Idempotency-Key"},
                    "trace_id": "req_0123456789abcdef01234567"}},
            }},
        }
    return responses


def _common_headers():
    return {h: _ref("headers", h) for h in _COMMON_HEADERS}


def _error_refs():
    return {status: _ref("responses", name) for status, name, _d, _e in _ERROR_RESPONSES}


def _json_body(schema, description=None, required=True):
    body = {"required": required, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def _success(status, description, schema):
    return {status: {
        "description": description,
        "headers": _common_headers(),
        "content": {"application/json": {"schema": schema}},
    }}


def _envelope(properties, required=None):
    schema = {
        "type": "object",
        "properties": {"success": {"type": "boolean", "enum": [True]}, **properties},
    }
    schema["required"] = ["success", *(required or properties)]
    return schema


def _operation(op_id, summary, tags, security, responses, *, body=None, params=(),
               idempotent=False):
    error_refs = _error_refs()
    if idempotent:
        # A write: it takes an Idempotency-Key, its success may be a replay.
        params = [*params, _ref("parameters", "IdempotencyKey")]
        responses = copy.deepcopy(responses)
        for status, answer in responses.items():
            if status.startswith("2"):
                answer["headers"]["Idempotent-Replayed"] = _ref("headers", "Idempotent-Replayed")
        error_refs.update({status: _ref("responses", name)
                       for status, name, _d, _c in _IDEMPOTENCY_RESPONSES})
        error_refs = dict(sorted(error_refs.items()))
    operation = {
        "operationId": op_id,
        "summary": summary,
        "tags": tags,
        "parameters": [_ref("parameters", "RequestId"), *params],
        "security": security,
        "responses": {**responses, **error_refs},
    }
    if body is not None:
        operation["requestBody"] = body
    return operation


# -- resources ----------------------------------------------------------------------


def _security_for(resource, schemes):
    """Security requirements of a resource's operations (``[]``: no authentication)."""
    auth = resource.get("auth_type") or "none"
    if auth == "bearer":
        return [{"bearerAuth": []}]
    if auth == "basic":
        return [{"basicAuth": []}]
    if auth == "custom":
        names = [schemes[h.lower()] for h in resource.get("custom_headers") or []]
        # All headers of the config are required together: one requirement.
        return [{name: [] for name in names}] if names else []
    return []


_EXAMPLE_TYPES = frozenset({"char", "text", "selection", "integer", "float", "monetary",
                            "boolean", "date", "datetime", "many2one"})


def _selectable(resource):
    """Names ``fields`` / ``return_fields`` accept: ``selectable`` or the keys of ``fields``."""
    names = resource.get("selectable")
    if names is None:
        names = list(resource.get("fields") or {})
    return sorted({"id", *names})


def _domain_example(resource):
    """A domain the resource accepts: its first searchable simple key, else ``id``."""
    for key, desc in (resource.get("fields") or {}).items():
        if "." not in key and desc.get("type") in _EXAMPLE_TYPES and desc.get(
            "searchable", True
        ) and desc.get("store", True):
            return json.dumps([[key, "!=", False]])
    return json.dumps([["id", ">", 0]])


_UNSORTABLE = frozenset({"one2many", "many2many", "binary", "json", "html", "properties"})


def _order_example(resource):
    """An order the resource accepts: its first sortable simple key, then ``id``."""
    for key, desc in (resource.get("fields") or {}).items():
        if "." not in key and desc.get("type") not in _UNSORTABLE and desc.get(
            "store", True
        ):
            return f"{key} asc, id desc"
    return "id desc"


def _query_parameter(name, description, schema, example, **extra):
    """An optional query parameter (``extra``: serialisation keys such as ``style``)."""
    return {"name": name, "in": "query", "required": False, "description": description,
            **extra, "schema": schema, "example": example}


def _resource_parameters(resource, schema_name):
    """The ``domain`` and ``fields`` parameters of one resource, with its own names."""
    selectable = set(_selectable(resource))
    keys = [k for k in (resource.get("fields") or {}) if k in selectable]
    return {
        f"{schema_name}.domain": _query_parameter(
            "domain",
            "Odoo domain as JSON (or a Python literal): a list of "
            "[key, operator, value] terms and '&', '|', '!'; keys are the resource's "
            "keys without a dot, or the mapped field names",
            {"type": "string"}, _domain_example(resource),
        ),
        f"{schema_name}.order": _query_parameter(
            "order",
            "key [asc|desc] [nulls first|nulls last], comma-separated "
            "(keys without a dot, mapped field names, id)",
            {"type": "string"}, _order_example(resource),
        ),
        f"{schema_name}.fields": _query_parameter(
            "fields",
            "Comma-separated names to return: the resource's keys "
            "(or the field names the caller may read); empty: the default set",
            _selection_schema_of(resource), keys[:2] or ["id"],
            style="form", explode=False,
        ),
    }


#: Query names of the search operation itself: a filter with one of them is ignored.
SEARCH_PARAMETERS = frozenset({"domain", "fields", "limit", "offset", "order", "page",
                               "per_page"})


def _filter_value_schema(ftype):
    """Schema of one ``?key=value`` filter value (see inbound_rules.param_term)."""
    if ftype in ("integer", "many2one", "many2one_reference"):
        return {"type": "integer", "minimum": -INT4_MAX, "maximum": INT4_MAX}
    if ftype in ("float", "monetary"):
        return {"type": "number"}
    if ftype == "boolean":
        return {"type": "boolean"}
    return {"type": "string"}


def _filter_parameters(resource):
    """The config's parameter filters (``?key=value``) of the search operation."""
    params = []
    for item in resource.get("filters") or ():
        name = item["name"]
        if name in SEARCH_PARAMETERS:
            continue
        operator = item.get("operator") or "="
        schema = _filter_value_schema(item.get("type"))
        param = {"name": name, "in": "query", "required": False,
                 "description": f"Filter: {item.get('field') or name} {operator} value",
                 "schema": schema}
        if operator == "in":
            param.update(style="form", explode=False,
                         schema={"type": "array", "items": schema})
        params.append(param)
    return params


def _selection_schema_of(resource):
    return {"type": "array", "items": {"type": "string", "enum": _selectable(resource)}}


# -- a resource's operations, one builder per verb ------------------------------


class _ResourceOperations:
    """What the operations of one resource share: names, tag, security, schemas."""

    def __init__(self, resource, schema_name, prefix, security):
        self.resource = resource
        self.endpoint = resource["endpoint"]
        self.schema_name = schema_name
        self.prefix = prefix
        self.security = security

    def schema(self, suffix=""):
        """Reference to the resource's output schema, or to its ``Input``/``Update`` one."""
        return _ref("schemas", f"{self.schema_name}{suffix}")

    def parameter(self, name):
        """Reference to one of the resource's own parameters (``domain``, ``fields``...)."""
        return _ref("parameters", f"{self.schema_name}.{name}")

    def operation(self, action, summary, responses, **kwargs):
        """An operation ``<prefix>_<action>`` tagged with the endpoint."""
        return _operation(f"{self.prefix}_{action}", summary, [self.endpoint],
                          self.security, responses, **kwargs)


def _create_operation(ops):
    body = _json_body({
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": ops.schema("Input"),
            "options": {"type": "object", "nullable": True, "properties": {
                "return_fields": {**_selection_schema_of(ops.resource), "nullable": True},
            }},
        },
    })
    return ops.operation(
        "create", f"Create (or upsert) a {ops.endpoint} record",
        _success("201", "Record created",
                 _envelope({"id": {"type": "integer"}, "data": ops.schema()})),
        body=body, idempotent=True,
    )


def _batch_operation_schemas(schema_name):
    """One closed schema per batch method: what each needs and takes."""
    record_id = {**_record_id_schema(), "description": "The record"}

    def operation(method, required, properties):
        return {"type": "object", "required": ["method", *required],
                "additionalProperties": False,
                "properties": {"method": {"type": "string", "enum": [method]}, **properties}}

    return [
        operation("create", ["data"], {"data": _ref("schemas", f"{schema_name}Input")}),
        operation("update", ["id", "data"], {
            "id": record_id, "data": _ref("schemas", f"{schema_name}Update")}),
        operation("delete", ["id"], {"id": record_id}),
    ]


def _batch_options_schema():
    return {
        "type": "object", "nullable": True, "properties": {
            "transaction": {"type": "boolean", "default": False,
                            "description": "all or nothing"},
            "continue_on_error": {"type": "boolean", "default": False},
        },
        # The two modes contradict each other: not both true.
        "not": {"type": "object", "required": ["transaction", "continue_on_error"],
                "properties": {"transaction": {"enum": [True]},
                               "continue_on_error": {"enum": [True]}}},
    }


def _batch_operation(ops):
    body = _json_body({
        "type": "object",
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array", "minItems": 1, "maxItems": MAX_BATCH_OPERATIONS,
                "items": {"oneOf": _batch_operation_schemas(ops.schema_name)},
            },
            "options": _batch_options_schema(),
        },
    })
    return ops.operation(
        "batch", f"Create, update and delete {ops.endpoint} records in one call",
        _success("200", "Per-operation results", _envelope({
            "results": {"type": "array", "items": _ref("schemas", "BatchResult")},
        })),
        body=body, idempotent=True,
    )


def _search_operation(ops):
    params = [
        ops.parameter("domain"),
        ops.parameter("fields"),
        *(_ref("parameters", n) for n in ("limit", "offset")),
        ops.parameter("order"),
        *(_ref("parameters", n) for n in ("page", "per_page")),
        *_filter_parameters(ops.resource),
    ]
    return ops.operation(
        "search", f"Search {ops.endpoint} records",
        _success("200", "Matching records", _envelope({
            "count": {"type": "integer", "minimum": 0},
            "records": {"type": "array", "items": ops.schema()},
            "pagination": _ref("schemas", "Pagination"),
        })),
        params=params,
    )


def _read_operation(ops):
    return ops.operation(
        "read", f"Read one {ops.endpoint} record",
        _success("200", "The record",
                 _envelope({"id": {"type": "integer"}, "data": ops.schema()})),
        params=[ops.parameter("fields")],
    )


def _update_operation(ops):
    body = _json_body({
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": ops.schema("Update"),
            "options": {"type": "object", "nullable": True, "additionalProperties": True},
        },
    })
    return ops.operation(
        "update", f"Update one {ops.endpoint} record",
        _success("200", "Record updated", _envelope({
            "id": {"type": "integer"},
            "updated_fields": {"type": "array", "items": {"type": "string"}},
            "write_date": {"type": "string", "format": "date-time"},
        })),
        body=body, idempotent=True,
    )


def _delete_operation(ops):
    body = _json_body({
        "type": "object",
        "properties": {"options": {"type": "object", "nullable": True, "properties": {
            "archive_instead": {"type": "boolean", "default": False},
        }}},
    }, required=False)
    return ops.operation(
        "delete", f"Delete (or archive) one {ops.endpoint} record",
        _success("200", "Record deleted or archived", _envelope({
            "message": {"type": "string"}, "id": {"type": "integer"},
        })),
        body=body,
        params=[_ref("parameters", "archive_instead")], idempotent=True,
    )


#: Operations on ``<base>/{id}``, in document order: (verb, builder).
_ITEM_OPERATIONS = (("GET", _read_operation), ("PUT", _update_operation),
                    ("DELETE", _delete_operation))


def _resource_paths(resource, schema_name, prefix, security):
    """The routes of one resource that its verbs enable: POST gives the collection
    (create) and batch routes, GET the search route; GET, PUT and DELETE each give
    one operation on the record route."""
    ops = _ResourceOperations(resource, schema_name, prefix, security)
    methods = {str(m).upper() for m in resource.get("methods") or ()}
    base = f"{API_BASE}/{ops.endpoint}"
    paths = {}
    if "POST" in methods:
        paths[base] = {"post": _create_operation(ops)}
        paths[f"{base}/batch"] = {"post": _batch_operation(ops)}
    if "GET" in methods:
        paths[f"{base}/search"] = {"get": _search_operation(ops)}
    item = {verb.lower(): build(ops) for verb, build in _ITEM_OPERATIONS if verb in methods}
    if item:
        item["parameters"] = [_ref("parameters", "RecordId")]
        paths[f"{base}/{{id}}"] = item
    return paths


def _webhook_paths():
    tags = ["webhooks"]
    created = _success("201", "Webhook registered", _ref("schemas", "WebhookCreated"))
    return {
        f"{API_BASE}/webhooks": {
            "post": _operation(
                "webhooks_create", "Register an outbound webhook", tags,
                _WEBHOOK_SECURITY, created,
                body=_json_body(_ref("schemas", "WebhookInput")),
            ),
            "get": _operation(
                "webhooks_list", "List the caller's webhooks", tags, _WEBHOOK_SECURITY,
                _success("200", "Webhooks", _envelope({
                    "webhooks": {"type": "array", "items": _ref("schemas", "Webhook")},
                })),
            ),
        },
        f"{API_BASE}/webhooks/{{id}}": {
            "parameters": [_ref("parameters", "WebhookId")],
            "delete": _operation(
                "webhooks_delete", "Remove a webhook", tags, _WEBHOOK_SECURITY,
                _success("200", "Webhook removed", _envelope({
                    "message": {"type": "string"}, "webhook_id": {"type": "string"},
                })),
            ),
        },
        f"{API_BASE}/events/subscribe": {
            "post": _operation(
                "events_subscribe", "Subscribe a callback URL to record events", tags,
                _WEBHOOK_SECURITY, created,
                body=_json_body(_ref("schemas", "EventSubscriptionInput")),
            ),
        },
        f"{API_BASE}/openapi.json": {
            "get": _operation(
                "openapi_document", "This document, for the caller's resources",
                ["meta"], _WEBHOOK_SECURITY,
                _success("200", "OpenAPI 3.0.3 document", {"type": "object"}),
            ),
        },
    }


# -- the document ------------------------------------------------------------------


def _check_endpoints(resources):
    """Raise ``ValueError`` for a duplicate, empty, nested or reserved endpoint."""
    endpoints = [r["endpoint"] for r in resources]
    for endpoint in endpoints:
        if endpoints.count(endpoint) > 1:
            raise ValueError(f"duplicate endpoint {endpoint!r}")
        if endpoint in RESERVED_ENDPOINTS or not endpoint or "/" in endpoint:
            raise ValueError(f"endpoint {endpoint!r} cannot be published")


def _security_schemes(resources):
    """Return the document's security schemes and, per lower-cased custom header,
    the name of its scheme (for ``_security_for``)."""
    schemes = {
        "bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "The configuration's bearer token, or an Odoo API key",
        },
        "basicAuth": {
            "type": "http", "scheme": "basic",
            "description": "The configuration's login/password, or an Odoo login "
            "with an API key as password",
        },
    }
    # Custom headers are keyed case-insensitively: HTTP header names are.
    header_schemes = {}
    used_names = set(schemes)
    for resource in resources:
        for header in resource.get("custom_headers") or ():
            if header.lower() in header_schemes:
                continue
            name = _unique("header_" + re.sub(r"[^A-Za-z0-9_]", "_", header.lower()),
                           used_names, sep="_")
            header_schemes[header.lower()] = name
            schemes[name] = {
                "type": "apiKey", "in": "header", "name": header,
                "description": f"Custom header {header} (auth type custom)",
            }
    return schemes, header_schemes


def _resource_tag(resource):
    endpoint = resource["endpoint"]
    return {
        "name": endpoint,
        "description": f"{resource.get('name') or endpoint} "
        f"(model {resource.get('model') or endpoint})",
    }


def _describe_resources(resources, header_schemes, schemas, parameters):
    """Add each resource's schemas and parameters to ``schemas`` and ``parameters``
    (names made unique against what is there), return its paths and tags."""
    used_schema_names = set(schemas)
    used_operation_prefixes = {"webhooks", "events", "openapi"}
    paths = {}
    tags = []
    for resource in resources:
        endpoint = resource["endpoint"]
        schema_name = _unique(_schema_name(endpoint), used_schema_names,
                              ("", "Input", "Update"))
        schemas.update(_resource_schemas(resource, schema_name))
        parameters.update(_resource_parameters(resource, schema_name))
        prefix = _unique(_operation_prefix(endpoint), used_operation_prefixes, sep="_")
        security = _security_for(resource, header_schemes)
        paths.update(_resource_paths(resource, schema_name, prefix, security))
        tags.append(_resource_tag(resource))
    return paths, tags


def _fixed_tags():
    return [{"name": "webhooks", "description": "Outbound webhooks and event "
             "subscriptions"}, {"name": "meta", "description": "API description"}]


def _skeleton(title, version, server_url):
    """The document's header, with empty tags and paths."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Inbound REST API of bj_api_sync. Errors always use the "
            "Error envelope; every response carries X-Request-Id and, when a "
            "rate limit applies, X-RateLimit-Limit/Remaining/Reset.",
        },
        "servers": [{"url": server_url}],
        "tags": [],
        "paths": {},
    }


def build_document(resources, *, title="bj_api_sync", version="17.0", server_url="/"):
    """Return the OpenAPI 3.0.3 document (a dict) describing ``resources``.

    A resource is ``{"endpoint", "model", "name", "methods", "fields",
    "identifier", "auth_type", "custom_headers"}`` where ``fields`` maps
    external keys (dotted keys become nested objects) to ``fields_get()``
    descriptions (plus ``has_default``: a create may leave the field out), and
    the optional ``selectable`` lists the names ``fields``/``return_fields``
    accept (default: the keys of ``fields``), the optional ``filters`` the
    config's parameter filters of the search (``{"name", "field", "type",
    "operator"}``). Examples of ``domain``, ``order``
    and ``fields`` use the resource's own keys. Each resource gets
    ``components.schemas`` ``<Name>``
    (output), ``<Name>Input`` (create: read-only fields left out, required
    fields listed) and ``<Name>Update`` (the same, all optional), ``<Name>``
    being the CamelCase endpoint (``res.partner`` -> ``ResPartner``), and the
    operations its verbs allow: POST -> ``<ep>_create`` and ``<ep>_batch``,
    GET -> ``<ep>_search`` and ``<ep>_read``, PUT -> ``<ep>_update``, DELETE
    -> ``<ep>_delete`` (``<ep>``: endpoint with non-alphanumerics as ``_``;
    names that collide get a number). The webhook, event subscription and
    document routes are always described. Every operation documents the
    error responses 400-500 with the ``Error`` envelope and the
    ``X-Request-Id``/``X-RateLimit-*`` headers, and the security of its
    resource's ``auth_type``.

    Raises ``ValueError`` for a duplicate or reserved endpoint, or for
    external keys that are both a value and a nested object.
    """
    resources = sorted(resources, key=lambda r: r["endpoint"])
    _check_endpoints(resources)
    security_schemes, header_schemes = _security_schemes(resources)
    schemas = _shared_schemas()
    parameters = _parameters()
    paths, tags = _describe_resources(resources, header_schemes, schemas, parameters)

    document = _skeleton(title, version, server_url)
    document["tags"] = tags + _fixed_tags()
    document["paths"] = {**paths, **_webhook_paths()}
    document["components"] = {
        "schemas": schemas,
        "responses": _responses_components(),
        "parameters": parameters,
        "headers": copy.deepcopy(_HEADER_COMPONENTS),
        "securitySchemes": security_schemes,
    }
    return document
