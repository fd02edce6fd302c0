"""The life of one inbound API call, from raw request to JSON answer and log row.

The controller hands a :class:`Call` (what it read from the HTTP request) to
:func:`serve_resource` / :func:`serve_openapi`; this module resolves the
config, authenticates, applies the rate limit (first, so that every answer
to an authenticated caller carries its ``X-RateLimit-*`` headers), checks
the verb, reads the body, claims the ``Idempotency-Key`` of a write (or
answers its kept answer instead, see :mod:`.inbound_idempotency`), runs the
operation as the caller and maps every failure to the contract's error
envelope. On failure the request transaction is rolled back *before* the
answer is built, so that nothing of a failed call is kept (but its kept
error answer, if any); the ``bj.api.log`` row is then written on the same
cursor, in a savepoint of its own (a failing log INSERT loses neither the
answer nor the call's writes), and committed with the response.
PostgreSQL concurrency errors are re-raised so that Odoo retries the request.
"""
import json
import logging
import re
import time
from dataclasses import dataclass, field

import psycopg2

from odoo import SUPERUSER_ID, api

from ..engine import (
    errors,
    http_client,
    idempotency,
    inbound_rules,
    masking,
    openapi,
    ratelimit,
    routes,
)
from ..engine.errors import ApiError
from . import (
    inbound_auth,
    inbound_crud,
    inbound_errors,
    inbound_idempotency,
    inbound_openapi,
    inbound_ratelimit,
    inbound_webhooks,
)

_logger = logging.getLogger(__name__)

MAX_BODY_PARAM = "bj_api_sync.max_body_bytes"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
# Limits of the routes that belong to no config (openapi.json, webhooks).
DEFAULT_PER_MINUTE = 100
DEFAULT_PER_HOUR = 1000


@dataclass
class Call:
    """What the controller read from the HTTP request."""

    method: str
    path: str
    url: str
    subpath: str
    headers: object  # case-insensitive mapping
    args: object  # MultiDict of the query string
    remote_addr: str
    content_length: int | None
    read_body: object  # callable(limit) -> the body, at most limit + 1 bytes of it
    trace_id: str = ""
    raw_body: bytes = b""


@dataclass
class Answer:
    """What the controller sends back: ``text`` is ``body`` as compact JSON."""

    status: int
    body: dict
    headers: dict = field(default_factory=dict)
    text: str = ""


def dumps(body):
    """Serialise an answer once, for both the response and the log."""
    return http_client.to_json(body)


# Anything that may need masking in a JSON text: names of sensitive keys and
# credential schemes. When none appears (and no config secret does), the text
# is logged as it is instead of walking the whole structure.
_MAYBE_SENSITIVE = re.compile(
    r"(?i)pass|secret|token|api.?key|authori[sz]|pwd|bearer|basic|cookie|private"
)


def _log_body(text, body, secrets, limit):
    if _MAYBE_SENSITIVE.search(text) or any(s in text for s in secrets):
        return masking.mask_body(body, secrets, limit)
    return masking.truncate(text.replace("\x00", ""), limit)


def trace_id_for(headers):
    """Reuse a valid client ``X-Request-Id``, else make a new trace id."""
    client = headers.get("X-Request-Id")
    return client if errors.is_valid_trace_id(client) else errors.new_trace_id()


def max_body(env):
    """Return the largest request body accepted, in bytes (ir.config_parameter)."""
    value = env["ir.config_parameter"].sudo().get_param(MAX_BODY_PARAM)
    try:
        return max(int(value), 1) if value else DEFAULT_MAX_BODY
    except ValueError:
        return DEFAULT_MAX_BODY


def _read_body(call, env):
    """Read the body, refusing more than the configured maximum (413)."""
    limit = max_body(env)
    too_large = ApiError(
        "PAYLOAD_TOO_LARGE",
        f"The request body is larger than {limit} bytes",
        {"maximum": limit},
    )
    if call.content_length is not None and call.content_length > limit:
        raise too_large
    data = call.read_body(limit)
    if len(data) > limit:
        raise too_large
    call.raw_body = data
    return data


def parse_json(raw, required=True):
    """Parse a JSON body; ``None`` when empty and not required. 400 when malformed."""
    if not raw or not raw.strip():
        if required:
            raise ApiError(
                "VALIDATION_ERROR", "The request body must be a JSON object",
                {"parameter": "body", "received": "nothing"},
            )
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError("VALIDATION_ERROR", "The request body is not UTF-8 text",
                       {"parameter": "body"}) from None
    except (ValueError, RecursionError) as exc:
        raise ApiError("VALIDATION_ERROR", f"Malformed JSON: {exc}",
                       {"parameter": "body"}) from None


def _delete_options(call, raw):
    body = parse_json(raw, required=False)
    options = {}
    if body is not None:
        if not isinstance(body, dict):
            raise ApiError("VALIDATION_ERROR", "The request body must be a JSON object",
                           {"parameter": "body"})
        extra = sorted(k for k in body if k != "options")
        if extra:
            raise ApiError("VALIDATION_ERROR",
                           "Unknown top-level key(s): " + ", ".join(extra),
                           {"parameter": "body", "unknown": extra})
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ApiError("VALIDATION_ERROR", "'options' must be a JSON object",
                           {"parameter": "options"})
        options = dict(options)
    if "archive_instead" in call.args and "archive_instead" not in options:
        options["archive_instead"] = call.args.get("archive_instead")
    return options


class _Outcome:
    """Mutable facts gathered along the call, for the answer and the log."""

    def __init__(self):
        self.spec = None
        self.res_ids = []
        self.res_model = None
        self.headers = {}
        self.error = None
        self.claim = None  # inbound_idempotency.Claim this call owns
        self.replay = None  # inbound_idempotency.Replay answered instead of running
        self.summary = None


def _count_failure(call, env, spec=None):
    """Return the callable counting a failed authentication of this call's address.

    With the config's limits, or the default ones where no config applies.
    """
    per_minute, per_hour = ((spec.rate_minute, spec.rate_hour) if spec
                            else (DEFAULT_PER_MINUTE, DEFAULT_PER_HOUR))
    return inbound_ratelimit.failure_counter(env.cr.dbname, call.remote_addr, per_minute,
                                             per_hour)


def _limit(env, outcome, bucket, per_minute, per_hour):
    """Count the call in ``bucket``; its ``X-RateLimit-*`` go to every answer (429 when over)."""
    decision = inbound_ratelimit.check(env.cr.dbname, bucket, per_minute, per_hour)
    outcome.headers.update(ratelimit.headers(decision))


def _limit_without_config(call, env, infra, outcome):
    """Count a call no config applies to with the default limits; return its caller or None.

    The caller is an Odoo API key's user, counted in the key's bucket; a call
    without one is counted by its address. Wrong credentials count as a
    failed authentication, and then as an anonymous call.
    """
    try:
        caller = inbound_auth.apikey_caller(infra, call.headers,
                                            on_failure=_count_failure(call, env))
    except ApiError as exc:
        if exc.code != "AUTHENTICATION_ERROR":
            raise
        caller = None  # maybe a config's own token: checked per resource
    bucket = caller.key if caller else ratelimit.caller_key("ip", call.remote_addr or "0.0.0.0")  # noqa: S104
    _limit(env, outcome, bucket, DEFAULT_PER_MINUTE, DEFAULT_PER_HOUR)
    return caller


def _run_resource(call, env, outcome):
    infra = api.Environment(env.cr, SUPERUSER_ID, {})
    route = inbound_rules.split_path(call.subpath)
    spec = infra["bj.api.sync.config"]._bj_inbound_spec(route[0]) if route else None
    if spec is None:
        # Counted too, so that an authenticated caller's 404 carries its limits.
        _limit_without_config(call, env, infra, outcome)
        if route is None:
            raise ApiError("NOT_FOUND", f"No such path: {call.path}", {"path": call.path})
        raise ApiError("NOT_FOUND", f"Unknown resource {route[0]!r}", {"resource": route[0]})
    resource, shape, id_text = route
    outcome.spec = spec
    outcome.res_model = spec.model
    # Authenticated and counted first: every answer to the caller, a 405, a 404
    # or a 413 too, carries its X-RateLimit-* headers. Failed attempts count per
    # client address, with the config's limits: guessing credentials gets a 429
    # once the window is full, before the hash a wrong key would cost.
    caller = inbound_auth.authenticate(infra, spec, call.headers, call.remote_addr,
                                       on_failure=_count_failure(call, env, spec))
    _limit(env, outcome, caller.key, spec.rate_minute, spec.rate_hour)
    operation, allow = inbound_rules.resolve_operation(shape, call.method, spec.methods)
    if operation is None:
        raise inbound_rules.method_not_allowed(call.method, allow)
    record_id = None
    if shape == "record":
        record_id = inbound_rules.parse_record_id(id_text)
        if record_id is None:
            raise ApiError("NOT_FOUND", f"No {resource} record with id {id_text!r}",
                           {"resource": resource, "id": id_text})
    raw = _read_body(call, env) if operation in ("create", "update", "batch", "delete") else b""
    if operation in idempotency.WRITE_OPERATIONS:
        # After the limits (a replay is a call like any other: counted, and
        # refused with 429 once over) and after the checks that answer the
        # same whatever the key (401, 405, 404 of a malformed id, 413).
        replay = _claim_key(call, env, spec, caller, raw, outcome)
        if replay is not None:
            return replay.status, replay.body
    user_env = env(user=caller.uid, su=False)
    res = inbound_crud.Resource(user_env, spec, own_user=caller.method == "apikey")
    if operation == "create":
        result = res.do_create(parse_json(raw))
    elif operation == "update":
        result = res.do_update(record_id, parse_json(raw))
    elif operation == "delete":
        result = res.do_delete(record_id, _delete_options(call, raw))
    elif operation == "read":
        result = res.do_read(record_id, call.args)
    elif operation == "search":
        result = res.do_search(call.args, f"{routes.API_BASE}/{spec.endpoint}/search")
    else:
        result = res.do_batch(parse_json(raw))
    user_env.flush_all()
    outcome.res_ids = result.res_ids
    return result.status, result.body


def _claim_key(call, env, spec, caller, raw, outcome):
    """Claim the call's ``Idempotency-Key`` (if any); return the kept answer to replay or None."""
    key = idempotency.validate_key(call.headers.get(idempotency.HEADER))
    if key is None:
        return None
    items = call.args.items(multi=True) if hasattr(call.args, "getlist") else call.args.items()
    found = inbound_idempotency.claim(
        env,
        caller=idempotency.caller_identity(spec.config_id, caller.method, caller.key, caller.uid),
        key=key,
        fingerprint=idempotency.fingerprint(call.method, call.path, items, raw),
        config_id=spec.config_id, uid=caller.uid, method=call.method, path=call.path,
        trace_id=call.trace_id,
    )
    if isinstance(found, inbound_idempotency.Replay):
        outcome.replay = found
        outcome.summary = f"Idempotent replay of {found.trace_id or 'an earlier call'}: " \
                          "nothing was written"
        return found
    outcome.claim = found
    return None


def _error_answer(exc, call):
    """Return ``(ApiError, body)`` for ``exc`` (batch failures name their operation)."""
    if isinstance(exc, inbound_crud.BatchOperationError):
        inner = inbound_errors.to_api_error(exc.error, call.trace_id)
        error = ApiError(
            inner.code,
            f"Operation #{exc.index} ({exc.method}) failed: {inner.message}; "
            "the batch was rolled back, nothing was saved",
            {"index": exc.index, "method": exc.method, **inner.details},
            status=inner.status,
            headers=inner.headers,
        )
    else:
        error = inbound_errors.to_api_error(exc, call.trace_id)
    return error, error.to_body(call.trace_id)


def _answer_call(call, env, runner):
    started = time.monotonic()
    outcome = _Outcome()
    headers = {"X-Request-Id": call.trace_id}
    text = None
    try:
        status, body = runner(call, env, outcome)
        if outcome.replay is not None:
            text = outcome.replay.text
            headers.update(outcome.replay.headers)
            headers[idempotency.REPLAYED_HEADER] = "true"
        elif outcome.claim is not None:
            # What runs at commit (precommit hooks: mail tracking, ...) runs
            # now, so that its errors are answered here as any other.
            env.cr.flush()
            # In the call's transaction: its writes and the answer that
            # replays them are committed together.
            text = dumps(body)
            limit = inbound_idempotency.max_kept_chars(env)  # 0: no limit
            if limit and len(text) > limit:
                # Too big to keep 24 hours (a record's binaries): not kept,
                # a retry with the key runs again, as for an unkept error.
                inbound_idempotency.release(env.registry, outcome.claim)
                outcome.summary = "Answer too large to keep for its Idempotency-Key: not kept"
            else:
                inbound_idempotency.keep(env, outcome.claim, status, text, {})
    except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON answer
        if inbound_errors.is_retryable(exc):
            if outcome.claim is not None:
                # Odoo runs the call again: its claim must not answer it 409.
                inbound_idempotency.release(env.registry, outcome.claim)
            raise
        env.cr.rollback()
        error, body = _error_answer(exc, call)
        status = error.status
        outcome.error = error
        headers.update(error.headers)
        text = dumps(body)
        if outcome.claim is not None:
            if idempotency.should_keep(status):
                inbound_idempotency.keep_error(env, outcome.claim, status, text, error.headers)
            else:
                inbound_idempotency.release(env.registry, outcome.claim)
    headers.update({k: v for k, v in outcome.headers.items() if k not in headers})
    if text is None:
        text = dumps(body)
    duration_ms = (time.monotonic() - started) * 1000.0
    try:
        write_log(env, call, outcome, status, (body, text), headers, duration_ms)
    except Exception:  # noqa: BLE001 - never lose the answer because of the log
        _logger.exception("Could not write the inbound API log (trace %s)", call.trace_id)
    return Answer(status, body, headers, text)


def serve_resource(call, env):
    """Serve a call under ``/api/sync/v1/{resource}...``; return an :class:`Answer`."""
    return _answer_call(call, env, _run_resource)


def serve_openapi(call, env):
    """Serve ``GET /api/sync/v1/openapi.json`` for the resources this caller reaches."""
    return _answer_call(call, env, _run_openapi)


def _run_openapi(call, env, outcome):
    infra = api.Environment(env.cr, SUPERUSER_ID, {})
    caller = _limit_without_config(call, env, infra, outcome)
    if call.method not in ("GET", "HEAD"):
        raise inbound_rules.method_not_allowed(call.method, ["GET", "HEAD"])
    resources = inbound_openapi.reachable_resources(env, infra, call, caller)
    document = openapi.build_document(resources, server_url="/")
    return 200, inbound_openapi.close_request_bodies(document)


_LOG_COLUMNS = (
    "config_id", "direction", "http_method", "url", "request_headers", "request_body",
    "status_code", "response_headers", "response_body", "duration_ms", "state",
    "error_message", "attempt", "res_model", "res_ids", "trace_id", "summary",
)
# One plain INSERT: the log row is written on every call, and the ORM's create()
# (defaults, access checks, cache, precompute) costs several times more. The
# model has no business logic on create; create_uid is the superuser, as for
# any infrastructure row. It runs inside a savepoint, sent with it in one
# round trip: a failing INSERT must not abort the request's transaction, which
# still holds the call's data write and is committed after the log.
_LOG_SQL = """
    SAVEPOINT bj_api_sync_log;
    INSERT INTO bj_api_log (
        config_id, direction, http_method, url, request_headers, request_body,
        status_code, response_headers, response_body, duration_ms, state,
        error_message, attempt, res_model, res_ids, trace_id, summary,
        create_uid, write_uid, create_date, write_date)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
            now() at time zone 'UTC', now() at time zone 'UTC');
    RELEASE SAVEPOINT bj_api_sync_log
"""


def call_log_values(env, call, outcome, status, body, headers, duration_ms):
    """Return the ``bj.api.log`` values of a call: masked, truncated.

    ``body`` is the answer as ``(dict, JSON text)``.
    """
    spec = outcome.spec
    secrets = spec.secrets if spec else ()
    limit = env["bj.api.log"]._get_body_limit()
    error = outcome.error
    res_ids = outcome.res_ids or []
    return {
        "config_id": spec.config_id if spec else None,
        "direction": "in",
        "http_method": call.method,
        "url": masking.mask_url(call.url, secrets),
        "request_headers": masking.dumps_headers(masking.mask_headers(call.headers, secrets)),
        "request_body": masking.mask_body(call.raw_body, secrets, limit),
        "status_code": status,
        "response_headers": masking.dumps_headers(headers),
        "response_body": _log_body(body[1], body[0], secrets, limit),
        "duration_ms": round(duration_ms, 1),
        "state": "failed" if status >= 400 else "success",
        "error_message": masking.mask_text(f"{error.code}: {error.message}", secrets)
        if error else _replayed_error(outcome, secrets),
        "attempt": 1,
        "res_model": outcome.res_model or None,
        "res_ids": ",".join(str(i) for i in res_ids[:2000]) or None,
        "trace_id": call.trace_id,
        "summary": outcome.summary,
    }


def serve_webhooks(call, env, route, webhook_id=None):
    """Serve ``/webhooks``, ``/webhooks/{id}`` and ``/events/subscribe``."""

    def runner(call, env, outcome):
        infra = api.Environment(env.cr, SUPERUSER_ID, {})
        # Limits first, as for resources: failures count per address before the
        # hash a wrong key would cost, and every answer to the caller carries
        # its X-RateLimit-*.
        count_failure = _count_failure(call, env)
        caller = inbound_auth.apikey_caller(infra, call.headers, on_failure=count_failure)
        if caller is None:
            count_failure()
            raise inbound_auth.auth_error("bearer", "An Odoo API key is required")
        _limit(env, outcome, caller.key, DEFAULT_PER_MINUTE, DEFAULT_PER_HOUR)
        allowed = {"webhooks": ["GET", "POST"], "webhook": ["DELETE"],
                   "subscribe": ["POST"]}[route]
        if call.method not in allowed:
            raise inbound_rules.method_not_allowed(call.method, allowed)
        raw = _read_body(call, env) if call.method == "POST" else b""
        outcome.res_model = "bj.api.webhook"
        if route == "webhook":
            return inbound_webhooks.delete(env, infra, caller, webhook_id)
        if call.method == "GET":
            return inbound_webhooks.list_own(infra, caller)
        style = "subscribe" if route == "subscribe" else "webhooks"
        status, body = inbound_webhooks.register(env, infra, caller, parse_json(raw), style)
        env.flush_all()
        return status, body

    return _answer_call(call, env, runner)


def _replayed_error(outcome, secrets):
    """The error message of a replayed error answer (the log row says what it was)."""
    body = outcome.replay.body if outcome.replay is not None else None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return masking.mask_text(f"{error.get('code')}: {error.get('message')}", secrets)


def _no_nul(value):
    return value.replace("\x00", "\ufffd") if type(value) is str and "\x00" in value else value


def write_log(env, call, outcome, status, body, headers, duration_ms):
    """Write the ``bj.api.log`` row of a call on the request cursor.

    A failure of the INSERT is raised after undoing the INSERT alone: the
    request's transaction stays usable, with the call's own writes.
    """
    infra = api.Environment(env.cr, SUPERUSER_ID, {})
    values = call_log_values(infra, call, outcome, status, body, headers, duration_ms)
    # PostgreSQL text cannot hold NUL; a client may send it (in the URL or a
    # header): it is shown as U+FFFD instead of losing the row.
    params = [_no_nul(values[c]) for c in _LOG_COLUMNS] + [SUPERUSER_ID, SUPERUSER_ID]
    try:
        env.cr.execute(_LOG_SQL, params)
    except psycopg2.Error:
        # The savepoint was taken before the INSERT failed.
        env.cr.execute("ROLLBACK TO SAVEPOINT bj_api_sync_log; "
                       "RELEASE SAVEPOINT bj_api_sync_log")
        raise
