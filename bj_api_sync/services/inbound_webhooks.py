"""Webhook registration through the inbound API.

``POST /webhooks`` (seed shape: ``url``, ``events``, ``model``, ``fields``,
``conditions``, ``authentication``) and ``POST /events/subscribe``
(``callback_url``, ``events`` among record.created / record.updated /
record.deleted / state.changed, ``filters``) both create a ``bj.api.webhook``:
an outbound config (URL, POST, authentication, one line per field, the
conditions as filter domain) and one ``base.automation`` rule per event whose
server action calls ``bj.api.webhook._bj_fire``. Only BJ API managers, or
users who may read the model, may subscribe; ``GET /webhooks`` lists the
caller's own webhooks and ``DELETE /webhooks/{id}`` removes one.

With ``"signing": true`` the webhook's config gets a Standard Webhooks signing
secret (every delivery then carries ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature``); the 201 answer returns it as ``signing_secret``, the only
time it is shown (``GET /webhooks`` never does).
"""
from urllib.parse import urlparse

from ..engine import mapping_in, openapi, query, signing
from ..engine.errors import ApiError
from ..engine.url_guard import ALLOW_INTERNAL_PARAM, allows_internal, internal_host
from ..models.bj_api_webhook import EVENT_TRIGGERS

_WEBHOOK_KEYS = ("url", "events", "model", "fields", "conditions", "authentication",
                 "signing")
_SUBSCRIBE_KEYS = ("callback_url", "events", "model", "fields", "filters", "authentication",
                   "signing")
_AUTH_KEYS = ("type", "token", "username", "password", "header_name", "header_value")


def _url(infra, value, name):
    if not isinstance(value, str) or len(value) > 2048:
        raise ApiError.validation(f"'{name}' must be an absolute http(s) URL", parameter=name)
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApiError.validation(f"'{name}' must be an absolute http(s) URL", parameter=name)
    # Off by default: a webhook may not target this machine or a private network.
    allow = allows_internal(infra["ir.config_parameter"].get_param(ALLOW_INTERNAL_PARAM))
    host = None if allow else internal_host(value)
    if host:
        raise ApiError.validation(
            f"'{name}' points to {host}, an address on this server or a private network; "
            f"an administrator may allow such targets with the system parameter "
            f"{ALLOW_INTERNAL_PARAM}",
            parameter=name,
        )
    return value.strip()


def _events(value, style):
    allowed = openapi.SUBSCRIBE_EVENTS if style == "subscribe" else tuple(EVENT_TRIGGERS)
    if not isinstance(value, list) or not value:
        raise ApiError.validation(
            "'events' must be a non-empty list of event names", parameter="events")
    unknown = [e for e in value if not isinstance(e, str) or e not in allowed]
    if unknown:
        raise ApiError.validation(
            "Unknown event(s): " + ", ".join(map(str, unknown))
            + " (supported: " + ", ".join(allowed) + ")",
            parameter="events", unknown=[str(e) for e in unknown],
        )
    return list(dict.fromkeys(value))


def _filters_domain(filters):
    """``{"field": [operator, value]}`` (or ``{"field": value}``) -> domain list."""
    if filters is None:
        return []
    if isinstance(filters, list):
        return filters
    if not isinstance(filters, dict):
        raise ApiError.validation("'filters' must be an object {field: [operator, value]}",
                   parameter="filters")
    domain = []
    for name, spec in filters.items():
        if isinstance(spec, list) and len(spec) == 2 and isinstance(spec[0], str):
            domain.append([name, spec[0], spec[1]])
        else:
            domain.append([name, "=", spec])
    return domain


def _authentication(value):
    """Return the outbound config values for the ``authentication`` object."""
    if value is None:
        return {"auth_type": "none"}
    mapping_in.require_object(value, "authentication")
    extra = sorted(k for k in value if k not in _AUTH_KEYS)
    if extra:
        raise ApiError.validation("Unknown authentication key(s): " + ", ".join(extra),
                   parameter="authentication", unknown=extra)
    kind = value.get("type") or "none"
    for key in _AUTH_KEYS:
        if key in value and not isinstance(value[key], str):
            raise ApiError.validation(f"'authentication.{key}' must be a string",
                       parameter=f"authentication.{key}")
    if kind == "none":
        return {"auth_type": "none"}
    if kind == "bearer":
        if not value.get("token"):
            raise ApiError.validation(
                "Bearer authentication needs a 'token'", parameter="authentication")
        return {"auth_type": "bearer", "bearer_token": value["token"]}
    if kind == "basic":
        if not value.get("username"):
            raise ApiError.validation(
                "Basic authentication needs a 'username'", parameter="authentication")
        return {"auth_type": "basic", "auth_login": value["username"],
                "auth_password": value.get("password") or ""}
    if kind == "custom":
        if not value.get("header_name"):
            raise ApiError.validation(
                "Custom authentication needs 'header_name'", parameter="authentication")
        return {"auth_type": "custom", "header_ids": [(0, 0, {
            "key": value["header_name"], "value": value.get("header_value") or "",
        })]}
    raise ApiError.validation("'authentication.type' must be none, basic, bearer or custom",
               parameter="authentication.type")


def _check_keys(body, style):
    """Refuse a body that is not an object, has unknown keys or lacks a required one."""
    mapping_in.require_object(body)
    keys = _SUBSCRIBE_KEYS if style == "subscribe" else _WEBHOOK_KEYS
    extra = sorted(k for k in body if k not in keys)
    if extra:
        raise ApiError.validation(
            "Unknown key(s): " + ", ".join(extra), parameter="body", unknown=extra)
    url_key = "callback_url" if style == "subscribe" else "url"
    for key in (url_key, "events", "model"):
        if body.get(key) is None:
            raise ApiError.validation(f"'{key}' is required", parameter=key)
    return url_key


def _model_name(env, value):
    if not isinstance(value, str) or value not in env.registry \
            or env[value]._abstract or env[value]._transient:
        raise ApiError.validation(f"Unknown model {value!r}", parameter="model")
    return value


def _authorize(user_env, model_name):
    """Refuse a caller who may neither manage BJ API nor read ``model_name``."""
    if user_env.user.has_group("bj_api_sync.group_bj_api_manager"):
        return
    if not user_env[model_name].check_access_rights("read", raise_exception=False):
        raise ApiError("PERMISSION_DENIED",
                       f"You may not read {model_name} records, so you cannot subscribe "
                       "to their events", {"model": model_name})


def _field_names(value, fsets):
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError.validation("'fields' must be a list of field names", parameter="fields")
    return [n for n in query.parse_fields(value, fsets.readable) if n != "id"]


def _parse(env, infra, caller, body, style):
    """Return the subscription that ``body`` asks for, checked for ``caller``."""
    url_key = _check_keys(body, style)
    url = _url(infra, body[url_key], url_key)
    events = _events(body["events"], style)
    model_name = _model_name(env, body["model"])
    user_env = env(user=caller.uid, su=False)
    _authorize(user_env, model_name)
    fsets = user_env["bj.api.sync.config"]._bj_field_sets(model_name)
    names = _field_names(body.get("fields"), fsets)
    if style == "subscribe":
        raw_domain = _filters_domain(body.get("filters"))
    else:
        raw_domain = body.get("conditions")
    domain = query.parse_domain(raw_domain, fsets.readable)
    if "state.changed" in events and "state" not in fsets.readable:
        raise ApiError.validation(
            f"Model {model_name} has no 'state' field: 'state.changed' cannot be "
            "subscribed", parameter="events")
    signed = body.get("signing", False)
    if not isinstance(signed, bool):
        raise ApiError.validation("'signing' must be true or false", parameter="signing")
    auth_values = _authentication(body.get("authentication"))
    if signed:
        auth_values["signing_secret"] = signing.generate_secret()
    return {"url": url, "events": events, "model_name": model_name, "field_names": names,
            "domain": domain, "auth_values": auth_values}


def register(env, infra, caller, body, style):
    """Create a webhook for ``caller`` from ``body``; return ``(status, answer)``.

    ``env`` is the request environment, ``infra`` a superuser environment,
    ``style`` "webhooks" or "subscribe".
    """
    subscription = _parse(env, infra, caller, body, style)
    webhook = infra["bj.api.webhook"]._bj_subscribe(caller.uid, **subscription)
    answer = {"success": True, "webhook_id": webhook.public_id, "status": "active"}
    secret = subscription["auth_values"].get("signing_secret")
    if secret:
        # Shown this once: the caller keeps it to verify the deliveries.
        answer["signing_secret"] = secret
    return 201, answer


def list_own(infra, caller):
    """``GET /webhooks``: the caller's webhooks."""
    webhooks = infra["bj.api.webhook"].with_context(active_test=False).search(
        [("user_id", "=", caller.uid)]
    )
    return 200, {"success": True, "webhooks": [w._bj_describe() for w in webhooks]}


def delete(env, infra, caller, public_id):
    """``DELETE /webhooks/{id}``: remove one of the caller's webhooks (any, for managers)."""
    domain = [("public_id", "=", public_id)]
    is_manager = env(user=caller.uid, su=False).user.has_group(
        "bj_api_sync.group_bj_api_manager"
    )
    if not is_manager:
        domain.append(("user_id", "=", caller.uid))
    webhook = infra["bj.api.webhook"].with_context(active_test=False).search(domain, limit=1)
    if not webhook:
        raise ApiError("NOT_FOUND", f"No webhook {public_id!r}", {"webhook_id": public_id})
    webhook.unlink()
    return 200, {"success": True, "message": "Webhook deleted", "webhook_id": public_id}
