"""Outbound delivery on top of the engine: requests from configs, logs, outbox.

The models call these functions; the HTTP work and the rules (retry policy,
masking, mapping) are in :mod:`..engine`. Everything here runs with the
config in sudo (its secrets are manager-only fields) and writes logs and outbox
items in sudo, while records are read in the caller's environment.
"""

import dataclasses
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

from odoo import _
from odoo.exceptions import UserError

from ..engine import auth_headers, batching, http_client, masking, oauth2, policy, url_template
from ..engine.mapping_out import MappingError, get_dotted
from . import oauth2 as oauth2_tokens
from . import odoo_mapping, orm_internals, outbound_sync

_logger = logging.getLogger(__name__)

# Records read per query (or per page when pages are larger): bounds memory
# while keeping the number of queries small.
READ_CHUNK = 1000
# Delivery cap on Retry-After / backoff: a server asking for more than this is
# retried later by the outbox anyway.
MAX_RETRY_DELAY = 3600.0
# A delivery that needs the external id a queued delivery of its binding owner
# will bring waits this long, then looks again (no attempt is counted).
AWAIT_BINDING_SECONDS = 1.0


class OutboundResult(dict):
    """What ``_make_outbound_http_request`` returns: a dict with attribute access.

    Keys: ``success`` (bool), ``state`` (success / failed / retrying / pending),
    ``status_code``, ``body`` (response text), ``data`` (parsed JSON or None),
    ``error``, ``log_id``, ``log_ids``, ``outbox_ids``, ``requests`` (how many
    were sent), ``skipped`` (records not sent because unchanged, Only Changed)
    and ``results`` (one small dict per request when several were sent).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


# ---------------------------------------------------------------- request parts
def config_secrets(config):
    """Return the values that must never appear in a log for this config."""
    secrets = [config.auth_password, config.bearer_token, config.auth_login,
               config.sudo().signing_secret, config.sudo().oauth2_client_secret]
    if config.auth_type == "custom":
        secrets += config.header_ids.mapped("value")
    return tuple(s for s in secrets if s)


def base_headers(config):
    """Return the config's authentication and custom headers (custom ones win).

    An oauth2 config has no authentication header here: its token is added to
    each attempt by ``RequestFactory.dispatch``.
    """
    headers = auth_headers.build_auth_headers(
        config.auth_type,
        login=config.auth_login,
        password=config.auth_password,
        token=config.bearer_token,
    )
    for header in config.header_ids:
        if header.key:
            headers[header.key.strip()] = header.value or ""
    return headers


def base_params(config):
    """Return the config's URL parameters as (key, value) pairs."""
    return [(p.key, p.value or "") for p in config.param_ids if p.key]


def identifier_key(config):
    """Return the external key of the config's Record Identifier line, or None."""
    line = config.line_ids.filtered("is_identifier")[:1]
    return line.external_key if line else None


def method_of(config):
    """Return the config's single HTTP verb."""
    method = config.http_method_ids[:1].name
    if not method:
        raise UserError(_("Configuration %s has no HTTP method.", config.name))
    return method.upper()


class RequestFactory:
    """Builds the requests of one config once its fixed parts are known."""

    def __init__(self, config, timeout=None):
        config.ensure_one()
        if config.request_type != "out":
            raise UserError(_("Configuration %s is not an outbound configuration.", config.name))
        self.config = config
        # Read once: every request and log row of the run repeats them.
        self.config_id = config.id
        self.url = (config.url or "").strip()
        self.method = method_of(config)
        try:
            self.headers = base_headers(config)
        except auth_headers.AuthConfigError as exc:
            raise UserError(
                _("Authentication of %(name)s is incomplete: %(error)s", name=config.name,
                  error=exc)
            ) from exc
        self.params = base_params(config)
        self.config_secrets = config_secrets(config)
        # A manager-only field; every delivery of the config is signed with it.
        self.signing_secret = config.sudo().signing_secret or None
        self.identifier = identifier_key(config)
        try:
            self.timeout = http_client.normalise_timeout(
                timeout, default=(config.connection_timeout, config.read_timeout)
            )
        except ValueError as exc:
            raise UserError(_("Invalid timeout %(timeout)r: %(error)s", timeout=timeout,
                              error=exc)) from exc
        self.session = http_client.get_session(("bj_api_sync", config.env.cr.dbname, config.id))
        self.body_limit = config.env["bj.api.log"]._get_body_limit()
        # Checked again for every delivery: the name of a webhook's target
        # may resolve to another address than when it was registered.
        Webhook = config.env["bj.api.webhook"]
        self.guard_internal = Webhook._bj_guards_target(config)
        self.refusal = Webhook._bj_target_refusal(config) if self.guard_internal else None
        # OAuth2: the token of the moment, shared with the other workers through
        # the database, is added to every attempt by dispatch().
        self.oauth2 = None
        if config.auth_type == "oauth2":
            self.oauth2 = oauth2_tokens.TokenSource(
                config, session=self.session, timeout=self.timeout,
                refuse_internal=self.guard_internal)

    @property
    def secrets(self):
        """The values masked in this run's logs: the config's secrets and the OAuth2
        access tokens the run has used."""
        if self.oauth2 is None or not self.oauth2.seen:
            return self.config_secrets
        return self.config_secrets + self.oauth2.secrets()

    def request(self, body, idempotency_key, url=None):
        """Return the OutboundRequest that sends ``body`` (a dict or a list of dicts)
        to ``url`` (default: the config's).

        GET sends no body; GET and DELETE carry the record identifier (when the
        config has one and a single record is sent) in the query string.
        """
        params = list(self.params)
        if self.identifier and isinstance(body, dict) and self.method in ("GET", "DELETE"):
            value = get_dotted(body, self.identifier)
            if value not in (None, False, ""):
                params.append((self.identifier, str(value)))
        return http_client.OutboundRequest(
            method=self.method,
            url=url or self.url,
            params=params,
            headers=self.headers,
            json_body=None if self.method == "GET" else body,
            timeout=self.timeout,
            idempotency_key=idempotency_key,
            refuse_internal=self.guard_internal,
            signing_secret=self.signing_secret,
        )

    def send(self, body, idempotency_key, url=None):
        """Send ``body`` once; return the ``AttemptResult``."""
        return self.dispatch(self.request(body, idempotency_key, url))

    def unsent(self, message, url=None):
        """Return the failed ``AttemptResult`` of a request that was not sent."""
        return http_client.AttemptResult(outcome=policy.FAIL, error=message,
                                         url=url or self.url)

    def dispatch(self, request):
        """Send ``request`` once, unless its target is refused; return the ``AttemptResult``.

        A refused target gives a failed result carrying the reason; nothing is sent.
        """
        if self.refusal:
            return http_client.AttemptResult(outcome=policy.FAIL, error=self.refusal,
                                             url=request.url)
        if self.oauth2 is not None:
            return self._dispatch_oauth2(request)
        return http_client.send_once(request, session=self.session)

    def _dispatch_oauth2(self, request):
        """Send ``request`` with the OAuth2 token; after a 401, once more with a new
        token (same Idempotency-Key). A token that cannot be had fails the attempt
        (retryable when the token server is unreachable or answers 5xx / 429)."""
        try:
            token = self.oauth2.access_token()
        except oauth2.TokenError as exc:
            return self._token_failure(request, exc)
        result = http_client.send_once(self._with_token(request, token), session=self.session)
        if result.status_code != 401:
            return self._token_masked(result)
        _logger.info("bj_api_sync: %s answered 401 to the OAuth2 token of configuration %s "
                     "(id %s): fetching a new token and sending again once",
                     masking.mask_url(request.url, self.secrets), self.config.name,
                     self.config_id)
        try:
            token = self.oauth2.access_token(refused=token)
        except oauth2.TokenError as exc:
            return self._token_failure(request, exc)
        return self._token_masked(
            http_client.send_once(self._with_token(request, token), session=self.session))

    def _token_masked(self, result):
        """``result`` with the tokens masked in its error (an excerpt of the answer, which
        may echo the token): it goes to queue items and to the caller as it is."""
        if result.error:
            result.error = masking.mask_text(result.error, self.oauth2.secrets())
        return result

    @staticmethod
    def _with_token(request, token):
        """``request`` with ``Authorization: Bearer <token>`` (replacing any other
        Authorization header, e.g. one of the Headers tab)."""
        headers = {key: value for key, value in (request.headers or {}).items()
                   if str(key).strip().lower() != "authorization"}
        headers.update(auth_headers.build_auth_headers("oauth2", token=token))
        return dataclasses.replace(request, headers=headers)

    def _token_failure(self, request, exc):
        """The AttemptResult of a request not sent for want of a token: nothing went
        to the API; retried like a connection error when the token server may
        answer later."""
        outcome = policy.RETRY if exc.retryable else policy.FAIL
        return http_client.AttemptResult(
            outcome=outcome, error=masking.mask_text(str(exc), self.secrets), url=request.url,
            retry_after=exc.retry_after)

    def attempt_log_values(self, result, *, state, attempt, res_model, res_ids, outbox_id=False):
        """Return the bj.api.log values of one attempt, with secrets masked."""
        error = result.error
        return {
            "config_id": self.config_id,
            "direction": "out",
            "http_method": self.method,
            "url": masking.mask_url(result.url or self.url, self.secrets),
            "request_headers": masking.dumps_headers(result.sent_headers, self.secrets),
            # Our own compact JSON: masked as text (sensitive keys and secret
            # values), which is linear, instead of being parsed again.
            "request_body": masking.truncate(
                masking.mask_text(result.sent_body or "", self.secrets), self.body_limit
            ),
            "status_code": result.status_code or 0,
            "response_headers": masking.dumps_headers(result.response_headers, self.secrets),
            "response_body": masking.mask_body(
                result.response_text, self.secrets, self.body_limit
            ),
            "duration_ms": result.duration_ms,
            "state": state,
            "error_message": masking.mask_text(error, self.secrets) if error else False,
            "attempt": attempt,
            "res_model": res_model,
            "res_ids": ",".join(map(str, res_ids)),
            "outbox_id": outbox_id,
        }


def retry_delay(config, attempts_made, result):
    """Return the seconds to wait before retrying after ``attempts_made`` attempts."""
    return policy.backoff_delay(
        attempts_made,
        config.retry_backoff,
        retry_after=result.retry_after,
        cap=MAX_RETRY_DELAY,
    )


def utc_now():
    """Return the current UTC time as a naive datetime, to the microsecond.

    Due times are kept this precisely (``fields.Datetime.now()`` drops the
    fraction of a second), so that a retry is never sent before its time.
    """
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_key():
    """Return a fresh Idempotency-Key for one delivery."""
    return uuid.uuid4().hex


# ------------------------------------------------------------------ direct path
def units_of(config, records, plan=None):
    """Yield ``(records, body)`` per request: chunks of page_size when paginated,
    else one record at a time; records are read in chunks so memory stays flat.
    ``plan`` (a ``SyncPlan``) reads the bindings of each chunk in one query."""
    size = config.page_size if config.is_paginated else 1
    builder = odoo_mapping.PayloadBuilder(config, records.env)
    # Without a row plan the ORM reads the records: fetch just the mapped
    # columns, in one query per chunk, instead of every prefetchable column.
    names = builder.top_level_fields() if builder.row_plan is None else []
    # A whole number of pages per read, so that pages keep their size.
    for ids in batching.chunk_ids(records.ids, size * max(1, READ_CHUNK // size)):
        chunk = records.browse(ids)
        if plan is not None:
            plan.prefetch(records._name, ids)
        if names:
            chunk.fetch(names)
        payloads = builder.build(chunk)
        if config.is_paginated:
            for start in range(0, len(ids), size):
                yield chunk[start:start + size], payloads[start:start + size]
        else:
            yield from zip(chunk, payloads)
        if names:
            chunk.invalidate_recordset(names)


def send_now(config, records, timeout=None):
    """Send ``records`` to the config's API now (one attempt per request).

    A retryable failure is queued in the outbox for the next attempts; a final
    failure is queued as failed so it can be retried from the UI. Returns an
    :class:`OutboundResult`; external failures never raise.
    """
    factory = RequestFactory(config, timeout)
    plan = outbound_sync.SyncPlan(config, factory)
    run = _SendRun(config, factory, records._name, plan)
    units = units_of(config, records, plan)
    while True:
        try:
            recs, body = next(units)
        except StopIteration:
            break
        except MappingError as exc:
            _logger.warning("bj_api_sync: %s", exc)
            raise UserError(str(exc)) from exc
        payloads = body if config.is_paginated else [body]
        try:
            prepared = plan.prepare(recs._name, recs.ids, payloads, recs, config.is_paginated)
        except outbound_sync.Refusal as exc:
            run.refused(recs, str(exc))
            continue
        run.skipped += prepared.skipped
        if not prepared.ids:
            continue
        if prepared.skipped:
            recs = recs.browse(prepared.ids)
        key = new_key()
        result = factory.send(prepared.body, key, prepared.url)
        run.record(recs, prepared, key, result)
    return run.summary()


class _SendRun:
    """The bookkeeping of one :func:`send_now`: outbox items for failures, log
    rows written 100 at a time, and the per-request results."""

    def __init__(self, config, factory, res_model, plan):
        self.config = config
        self.factory = factory
        self.res_model = res_model
        self.plan = plan
        self.Log = config.env["bj.api.log"].sudo()
        self.Outbox = config.env["bj.api.outbox"].sudo()
        self.results, self.log_ids, self.outbox_ids, self.pending_logs = [], [], [], []
        self.skipped = []
        self.last = None

    def record(self, recs, prepared, key, result):
        """Account for the answer to the request ``prepared`` for ``recs``."""
        state = policy.SUCCESS
        outbox_id = False
        if not result.ok:
            mapped = prepared.payloads if self.config.is_paginated else prepared.payloads[0]
            item = self.Outbox._create_from_attempt(self.config, recs, mapped, key, result,
                                                    url=prepared.url)
            state, outbox_id = ITEM_TO_LOG_STATE[item.state], item.id
            self.outbox_ids.append(outbox_id)
        ids = recs.ids
        values = self.factory.attempt_log_values(
            result, state=state, attempt=1, res_model=self.res_model, res_ids=ids,
            outbox_id=outbox_id,
        )
        problems = self.plan.settle(self.res_model, prepared, result, recs, recs.env)
        if problems:
            values["error_message"] = masking.mask_text(problems, self.factory.secrets)
        self.pending_logs.append(values)
        self.results.append({"status_code": result.status_code, "state": state,
                             "error": result.error, "res_ids": ids})
        self.last = result
        if len(self.pending_logs) >= 100:
            self._flush_logs()

    def refused(self, recs, message):
        """Account for a unit that was not sent (``message`` says why)."""
        result = self.factory.unsent(message)
        self.pending_logs.append(self.factory.attempt_log_values(
            result, state="failed", attempt=1, res_model=self.res_model, res_ids=recs.ids))
        self.results.append({"status_code": None, "state": "failed", "error": message,
                             "res_ids": recs.ids})
        self.last = result

    def _flush_logs(self):
        self.plan.flush()
        self.log_ids += self.Log._insert_many(self.pending_logs).ids
        self.pending_logs = []

    def summary(self):
        """Write the remaining log rows; return the run's OutboundResult (with one
        more log row, last, for the records left out as unchanged)."""
        if self.pending_logs:
            self._flush_logs()
        for entry, log_id in zip(self.results, self.log_ids):
            entry["log_id"] = log_id
        result = summarize(self.results, self.last, self.log_ids, self.outbox_ids)
        result["skipped"] = len(self.skipped)
        if self.skipped:
            skipped = self.Log._insert_many(
                [skipped_log_values(self.factory, self.res_model, self.skipped)]).id
            result["log_ids"] = [*self.log_ids, skipped]
            result["log_id"] = result["log_id"] or skipped
        return result


def skipped_log_values(factory, res_model, ids, outbox_id=False):
    """Return the log row of records not sent because they did not change."""
    message = _("%(count)s record(s) unchanged since their last successful delivery: not "
                "sent (Only Changed).", count=len(ids))
    values = factory.attempt_log_values(
        http_client.AttemptResult(outcome=policy.SUCCESS, url=factory.url), state="skipped",
        attempt=1, res_model=res_model, res_ids=ids, outbox_id=outbox_id)
    values["summary"] = message
    return values


def empty_result(state="success", outbox_ids=()):
    """Return the OutboundResult of a call that sent nothing (no record, or queued)."""
    return OutboundResult(
        success=state == "success", state=state, status_code=None, body="", data=None,
        error=None, log_id=False, log_ids=[], outbox_ids=list(outbox_ids), requests=0,
        results=[], skipped=0,
    )


def summarize(results, last, log_ids, outbox_ids):
    """Return the OutboundResult of a run of requests."""
    if not results:
        return empty_result()
    states = {r["state"] for r in results}
    state = "failed" if "failed" in states else "retrying" if "retrying" in states else "success"
    errors = [r["error"] for r in results if r["error"]]
    return OutboundResult(
        success=state == "success",
        state=state,
        status_code=last.status_code,
        body=last.response_text,
        data=last.json(),
        error=errors[-1] if errors else None,
        log_id=log_ids[-1] if log_ids else False,
        log_ids=log_ids,
        outbox_ids=outbox_ids,
        requests=len(results),
        results=results if len(results) > 1 else [],
    )


# ------------------------------------------------------------------ outbox path
# The log row's state of an attempt, by the state its outbox item is left in.
ITEM_TO_LOG_STATE = {"done": "success", "retrying": "retrying", "failed": "failed"}


def item_values(config, event, res_model, res_ids, **values):
    """Return the values of one bj.api.outbox item of ``config`` for ``res_ids``.

    The item is pending and due now, with a new Idempotency-Key and the
    config's number of attempts, unless ``values`` says otherwise (``payload``:
    the JSON text to send; without it the payload is built at delivery).
    """
    return {
        "config_id": config.id,
        "event": event,
        "res_model": res_model,
        "res_ids": ",".join(map(str, res_ids)),
        "payload": False,
        "idempotency_key": new_key(),
        "max_attempts": policy.max_attempts(config.max_retries),
        "state": "pending",
        "next_attempt_at": utc_now(),
        **values,
    }


def outcome_values(config, result, attempt, max_attempts, secrets):
    """Return the values an outbox item gets once attempt ``attempt`` answered ``result``:
    done, retrying (due after the backoff or ``Retry-After``) or failed."""
    now = utc_now()
    values = {"attempt_count": attempt, "last_attempt_at": now,
              "last_status_code": result.status_code or 0}
    if result.ok:
        return dict(values, state="done", last_error=False)
    values["last_error"] = masking.mask_text(result.error or "", secrets)
    if policy.should_retry(result.outcome, attempt, max_attempts):
        # From the moment the answer came: never earlier than asked.
        delay = retry_delay(config, attempt, result)
        return dict(values, state="retrying", next_attempt_at=now + timedelta(seconds=delay))
    return dict(values, state="failed")


def enqueue_values(config, records, event, payloads=None):
    """Return the bj.api.outbox values that deliver ``records`` later.

    Payloads are built now (so a deletion still has its data), one item per
    record, or one per chunk of page_size when the config is paginated and the
    payloads are the config's own. A mapping error gives a failed item that
    names the problem instead of blocking the user's transaction.
    """
    try:
        if payloads is None:
            payloads = odoo_mapping.payloads_of(config, records)
            grouped = config.is_paginated
        else:
            grouped = False
    except MappingError as exc:
        _logger.warning("bj_api_sync: %s", exc)
        return [item_values(config, event, records._name, records.ids, state="failed",
                            last_error=str(exc))]
    pairs = list(zip(records.ids, payloads))
    size = config.page_size if grouped else 1
    # The record's fields in the URL are read now: a deleted record is gone
    # when the delivery goes out ({external_id} is filled then, from its binding).
    templated = size == 1 and bool(url_template.field_paths(config.url))
    values = []
    for chunk in batching.chunked(pairs, size):
        body = [p for _id, p in chunk] if grouped else chunk[0][1]
        extra = {}
        if templated:
            extra["request_url"] = outbound_sync.queued_url(config, records.browse(chunk[0][0]))
        values.append(item_values(config, event, records._name, [i for i, _p in chunk],
                                  payload=http_client.to_json(body), **extra))
    return values


def _item_body(item, config, records):
    """Return ``(payloads, paginated)`` of an outbox item: its stored payload, or
    the records' payloads built now; raises MappingError."""
    if item.payload:
        body = json.loads(item.payload)
        paginated = isinstance(body, list) and (config.is_paginated or len(records) != 1)
        return (body if paginated else [body]), paginated
    payloads = odoo_mapping.payloads_of(config, records.exists())
    return payloads, config.is_paginated


# The columns of an outbox item that an attempt writes, in the order of
# SETTLE_SQL's VALUES rows.
OUTCOME_COLUMNS = ("state", "attempt_count", "last_attempt_at", "last_status_code",
                   "last_error", "next_attempt_at")
# Stored as 0 when empty, as the ORM does; the others as NULL.
INTEGER_COLUMNS = ("attempt_count", "last_status_code")
# One statement for the outcomes of a whole group of items: the VALUES rows
# are typed by the first one (the casts), which psycopg2 would otherwise leave
# to PostgreSQL's guess.
SETTLE_SQL = """
    UPDATE bj_api_outbox o
       SET state = v.state, attempt_count = v.attempt_count,
           last_attempt_at = v.last_attempt_at, last_status_code = v.last_status_code,
           last_error = v.last_error, next_attempt_at = v.next_attempt_at,
           write_uid = %s, write_date = now() at time zone 'UTC'
      FROM (VALUES %%s) AS v(id, state, attempt_count, last_attempt_at, last_status_code,
                             last_error, next_attempt_at)
     WHERE o.id = v.id
"""
VALUES_TEMPLATE = ("(%s::int, %s::varchar, %s::int, %s::timestamp, %s::int, %s::text, "
                   "%s::timestamp)")
# "Retrying" is for the log rows of deliveries that are still waiting: once a
# delivery is done or failed, its earlier attempts' rows say failed.
SETTLE_EARLIER_SQL = """
    UPDATE bj_api_log SET state = 'failed'
     WHERE outbox_id = ANY(%s) AND state = 'retrying'
"""


def _settle_earlier_attempts(item):
    """Mark the earlier attempts of a finished delivery as failed: "Retrying" is
    for the log rows of deliveries that are still waiting."""
    Log = item.env["bj.api.log"]
    Log.flush_model(["state"])
    item.env.cr.execute(SETTLE_EARLIER_SQL, (item.ids,))
    Log.invalidate_model(["state"])


class RunCache:
    """What one worker run keeps from a group of outbox items to the next: per
    config, its RequestFactory (or the error building it) and its sync plans'
    settings, which cost several queries to read again after each commit.

    Only settings are kept: a plan's knowledge of the bindings is read again for
    every group (``_GroupRun.plan``).
    """

    def __init__(self):
        self.factories = {}  # config id -> RequestFactory (or the exception building it)
        self.plans = {}  # (config id, track) -> SyncPlan


class _GroupRun:
    """The bookkeeping of one group of outbox items delivered in one transaction.

    Every item's outcome, log row and binding is kept in memory while the group
    is sent, then written in a few statements (:meth:`save`): one UPDATE for
    the items, one INSERT for the log rows, one for the earlier attempts, one
    upsert of bindings per configuration. Factories and sync plans are built
    once per configuration of the group (of the worker run, with a
    :class:`RunCache`); plans of configurations that share
    their bindings (``binding_config_id``) share what they know of them, so an
    update sent after the create that brought the external id finds it.
    """

    def __init__(self, items, cache=None):
        self.items = items
        self.env = items.env
        # Given by the caller to keep factories and plans for several groups.
        self.cache = RunCache() if cache is None else cache
        # config id -> RequestFactory (or the exception building it)
        self.factories = self.cache.factories
        self.plans = {}  # (config id, track) -> SyncPlan of this group
        self.shared = {}  # (owner id, track) -> (known, pending) of the plans of one owner
        self.outcomes = {}  # item id -> values (OUTCOME_COLUMNS)
        self.logs = []  # (item id, log values)
        self.finished = []  # ids of items done or failed: their earlier attempts settle

    def factory(self, config):
        """Return the config's RequestFactory (raises what building it raised)."""
        factory = self.factories.get(config.id)
        if factory is None:
            try:
                factory = RequestFactory(config)
            except Exception as exc:  # the same error for every item of the config
                factory = exc
            self.factories[config.id] = factory
        if isinstance(factory, Exception):
            raise factory
        return factory

    def plan(self, config, factory, track):
        """Return the config's SyncPlan of this group (one per config and ``track``)."""
        key = (config.id, track)
        plan = self.plans.get(key)
        if plan is None:
            plan = self.cache.plans.get(key)
            if plan is None or plan.factory is not factory:
                plan = self.cache.plans[key] = outbound_sync.SyncPlan(config, factory,
                                                                      track=track)
            self.plans[key] = plan
            # This group's view of the bindings starts empty, as with a new plan:
            # they are read again (another worker may have changed them).
            plan.known, plan.pending = {}, {}
            known, pending = self.shared.setdefault((plan.owner_id, track),
                                                    (plan.known, plan.pending))
            plan.known, plan.pending = known, pending
        return plan

    def prefetch(self):
        """Read the bindings of every item of the group, one query per config."""
        wanted = {}
        for item in self.items:
            if not item.res_model:
                continue
            track = not (item.event or "").startswith("webhook")
            wanted.setdefault((item.config_id, track, item.res_model), []).extend(
                item._res_id_list())
        for (config, track, res_model), ids in wanted.items():
            try:
                factory = self.factory(config.sudo())
            except Exception:  # noqa: S112  (reported with each item of the config)
                continue
            self.plan(config.sudo(), factory, track).prefetch(res_model, ids)

    def outcome(self, item, values, finished=None):
        """Keep the values ``item`` gets; ``finished``: done or failed (default:
        from the state)."""
        # Only the columns ``values`` leaves as they are are read from the item.
        row = {col: values[col] if col in values else item[col] for col in OUTCOME_COLUMNS}
        self.outcomes[item.id] = row
        if finished is None:
            finished = row["state"] in ("done", "failed")
        if finished:
            self.finished.append(item.id)

    def log(self, item, values):
        """Keep the log row of an attempt of ``item``."""
        self.logs.append((item.id, values))

    def save(self):
        """Write the group's outcomes, bindings and log rows; return
        ``{item id: log}`` (an empty log for an item that wrote none)."""
        for plan in self.plans.values():
            plan.flush()
        Outbox = self.env["bj.api.outbox"]
        Log = self.env["bj.api.log"].sudo()
        Outbox.flush_model()
        cr = self.env.cr
        if self.outcomes:
            rows = [(item_id, *(row[col] if col in INTEGER_COLUMNS else row[col] or None
                                for col in OUTCOME_COLUMNS))
                    for item_id, row in self.outcomes.items()]
            orm_internals.execute_values_once(
                cr, SETTLE_SQL % int(self.env.uid), rows, template=VALUES_TEMPLATE)
            Outbox.browse(list(self.outcomes)).invalidate_recordset(
                [*OUTCOME_COLUMNS, "write_uid", "write_date"])
        if self.finished:
            Log.flush_model(["state"])
            cr.execute(SETTLE_EARLIER_SQL, (self.finished,))
            Log.invalidate_model(["state"])
        logs = Log._insert_many([values for _id, values in self.logs])
        if logs:
            # Inserted beside the ORM: the items' cached lists of logs are stale.
            self.items.invalidate_recordset(["log_ids"])
        by_item = {item_id: Log.browse() for item_id in self.items.ids}
        for (item_id, _values), log in zip(self.logs, logs):
            by_item[item_id] = log
        return by_item


def deliver(item):
    """Make the next attempt of one outbox item and record its outcome.

    Returns the log written. The item ends done, retrying (with its next attempt
    time) or failed; done without a request when its records did not change
    since their last delivery (Only Changed).
    """
    return deliver_group(item)[item.id]


def deliver_group(items, cache=None):
    """Make the next attempt of each outbox item of ``items`` (locked by the
    caller), in their order, and write the outcomes in bulk.

    ``cache``: a :class:`RunCache` the caller keeps for several groups of one
    worker run, filled as needed; without it the factories and plans are built
    for this group only.
    Returns ``{item id: log written}``. An item whose attempt raises is failed
    with the (masked) error, and the others go on; an error of the database
    itself propagates (the caller rolls the group back).
    """
    run = _GroupRun(items, cache)
    run.prefetch()
    for item in items:
        try:
            _attempt(item, run)
        except Exception as exc:  # a bad item must not stop the group
            _logger.exception("bj_api_sync: delivery of outbox item %s failed", item.id)
            config = item.config_id.sudo()
            # The run's factory knows the OAuth2 tokens it used, beside the config's secrets.
            factory = run.factories.get(config.id)
            secrets = (factory.secrets if isinstance(factory, RequestFactory)
                       else config_secrets(config))
            run.outcome(item, {"state": "failed", "attempt_count": item.attempt_count + 1,
                               "last_error": masking.mask_text(str(exc), secrets)})
    return run.save()


def _attempt(item, run):
    """Make the next attempt of one item of ``run``'s group; keep its outcome in ``run``."""
    config = item.config_id.sudo()
    factory = run.factory(config)
    attempt = item.attempt_count + 1
    records = item._records()
    ids = item._res_id_list()
    try:
        payloads, paginated = _item_body(item, config, records)
    except MappingError as exc:
        run.outcome(item, {"state": "failed", "last_error": str(exc), "attempt_count": attempt},
                    finished=False)
        return
    if not item.payload:
        ids = records.exists().ids
        if not payloads:
            run.outcome(item, {"state": "done", "last_error": _("The records no longer exist."),
                               "attempt_count": attempt}, finished=False)
            return
    plan = run.plan(config, factory, not (item.event or "").startswith("webhook"))
    try:
        prepared = plan.prepare(item.res_model, ids, payloads, records.browse(ids), paginated,
                                url=item.request_url or None)
    except outbound_sync.MissingExternalId as exc:
        due = plan.awaits_binding(item.res_model, ids[0])
        if due is not None:
            # The POST that brings the id is still queued (a rule queued this
            # update while the record was being created): after it, not before.
            wait = timedelta(seconds=AWAIT_BINDING_SECONDS)
            run.outcome(item, {"state": "retrying", "next_attempt_at": max(utc_now(), due) + wait,
                               "last_error": _("Waiting for the delivery that brings the "
                                               "external id: %s", exc)})
            return
        _refused(item, run, factory, attempt, ids, exc)
        return
    except outbound_sync.Refusal as exc:
        _refused(item, run, factory, attempt, ids, exc)
        return
    if not prepared.ids:
        run.outcome(item, {"state": "done", "attempt_count": attempt,
                           "last_attempt_at": utc_now(), "last_error": False})
        run.log(item, skipped_log_values(factory, item.res_model, prepared.skipped,
                                         outbox_id=item.id))
        return
    _send_item(item, run, config, factory, plan, prepared, attempt)


def _refused(item, run, factory, attempt, ids, exc):
    """Fail an outbox item whose request could not be built, with its log."""
    result = factory.unsent(str(exc))
    run.outcome(item, {"state": "failed",
                       "last_error": masking.mask_text(str(exc), factory.secrets),
                       "attempt_count": attempt, "last_attempt_at": utc_now(),
                       "last_status_code": 0})
    run.log(item, factory.attempt_log_values(
        result, state="failed", attempt=attempt, res_model=item.res_model, res_ids=ids,
        outbox_id=item.id))


def _send_item(item, run, config, factory, plan, prepared, attempt):
    """Send a prepared outbox item; keep its outcome and log in ``run``."""
    result = factory.send(prepared.body, item.idempotency_key, prepared.url)
    vals = outcome_values(config, result, attempt, item.max_attempts, factory.secrets)
    state = ITEM_TO_LOG_STATE[vals["state"]]
    run.outcome(item, vals)
    log_values = factory.attempt_log_values(
        result, state=state, attempt=attempt, res_model=item.res_model,
        res_ids=prepared.ids, outbox_id=item.id,
    )
    user_env = None
    if plan.track and (plan.response_spec or plan.response_script):
        # Answers are written back as the user who queued the delivery.
        user = item.create_uid if item.create_uid.active else item.env.user
        user_env = item.env(user=user.id, su=False)
    problems = plan.settle(item.res_model, prepared, result, None, user_env)
    if problems:
        log_values["error_message"] = masking.mask_text(problems, factory.secrets)
    run.log(item, log_values)
