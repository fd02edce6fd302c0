"""Two-way sync around each outbound request (CONTRACT section 4).

Before a request: the records unchanged since their last delivery are
skipped (``only_changed``), the URL's placeholders are filled (the binding's
``{external_id}``, the record's ``{field}``), the request script may change
the body, and the envelope wraps it. After the answer: the bindings record
the other side's ids, the response lines write the answer back onto the
records (as the user who triggered the sync) and the response script runs.

Bindings are read and written with plain SQL in bulk: one query per chunk of
records to read them, one statement per hundred requests to write them, so
that keeping them costs little next to the HTTP exchange.
"""
import logging
from dataclasses import dataclass, field

from odoo import _
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import masking, sync_state, url_template
from ..engine.errors import ApiError
from . import inbound_crud, inbound_spec, odoo_mapping

_logger = logging.getLogger(__name__)

#: Context key of the writes that put an answer back onto a record: the
#: configs (and the owner of their bindings) whose own triggers must not fire
#: again for that write.
WRITEBACK_KEY = "bj_api_sync_writeback"

LOOKUP_SQL = """
    SELECT res_id, external_id, state, last_payload_hash FROM bj_api_sync_binding
     WHERE config_id = %s AND res_model = %s AND res_id = ANY(%s)
"""
# One statement per flush, the values as one array per column: cheaper to
# send than a VALUES list, whose rows psycopg2 would quote one by one.
UPSERT_SQL = """
    INSERT INTO bj_api_sync_binding (config_id, res_model, res_id, external_id, state,
        last_sync_at, last_payload_hash, last_error)
    SELECT %s, u.res_model, u.res_id, u.external_id, u.state, %s, u.digest, u.error
      FROM unnest(%s::varchar[], %s::int[], %s::varchar[], %s::varchar[], %s::varchar[],
                  %s::text[]) AS u(res_model, res_id, external_id, state, digest, error)
    ON CONFLICT (config_id, res_model, res_id) DO UPDATE SET
        external_id = COALESCE(EXCLUDED.external_id, bj_api_sync_binding.external_id),
        state = EXCLUDED.state,
        last_sync_at = EXCLUDED.last_sync_at,
        last_payload_hash = COALESCE(EXCLUDED.last_payload_hash,
                                     bj_api_sync_binding.last_payload_hash),
        last_error = EXCLUDED.last_error
"""


class Refusal(Exception):
    """A unit that cannot be sent (no external id, a failing request script): the
    message names the configuration and the record."""


class MissingExternalId(Refusal):
    """``{external_id}`` cannot be filled: the record has no binding with an id."""


@dataclass
class Prepared:
    """One request ready to go: the records kept, their mapped payloads and
    hashes, the URL and the body; ``skipped``: ids left out as unchanged."""

    ids: list
    payloads: list
    hashes: list
    url: str
    body: object
    skipped: list = field(default_factory=list)


def _utc_now():
    from .outbound import utc_now  # outbound imports this module

    return utc_now()


def field_values(record, paths):
    """Return ``{path: value}`` of ``record`` for the URL's field paths (a record
    value gives its id, several give their ids joined by commas)."""
    values = {}
    for path in paths:
        value = record
        for name in path.split("."):
            value = value[name] if value else False
        if hasattr(value, "_name") and hasattr(value, "ids"):
            value = ",".join(map(str, value.ids)) if len(value) != 1 else value.id
        values[path] = value
    return values


def queued_url(config, record):
    """Return the URL a delivery of ``record`` queued now keeps: the record's
    fields filled in while it still exists, ``{external_id}`` left for the
    delivery (the id may only arrive with an earlier delivery). False when the
    config's URL has no field placeholder."""
    paths = url_template.field_paths(config.url)
    if not paths or len(record) != 1:
        return False
    return url_template.render(config.url.strip(), field_values(record, paths),
                               keep_external_id=True)


class SyncPlan:
    """The two-way sync of one config's run of requests."""

    def __init__(self, config, factory, *, track=True):
        """Read the config's sync settings once. Without ``track`` (webhook
        events) no binding is read or written."""
        self.config = config
        self.factory = factory
        self.track = track
        self.owner_id = config._bj_binding_owner().id
        self.template = factory.url
        self.paths = url_template.field_paths(self.template)
        self.needs_external_id = url_template.uses_external_id(self.template)
        self.only_changed = bool(config.only_changed) and track
        self.envelope = (config.body_envelope or "").strip()
        self.request_script = (config.request_script or "").strip()
        self.response_script = (config.response_script or "").strip()
        self.id_path = (config.response_id_path or "id").strip()
        self.deleting = factory.method == "DELETE"
        self.response_spec = (inbound_spec.build_spec(config, lines=config.response_line_ids)
                              if config.response_line_ids else None)
        self.cr = config.env.cr
        self.known = {}  # (res_model, res_id) -> (external_id, state, hash)
        self.pending = {}  # (res_model, res_id) -> upsert row

    # ----------------------------------------------------------------- bindings
    def prefetch(self, res_model, ids):
        """Read the bindings of ``ids`` (when this run needs them) in one query."""
        if not (self.track and (self.only_changed or self.needs_external_id)):
            return
        missing = [i for i in ids if (res_model, i) not in self.known]
        if not missing:
            return
        for rid in missing:
            self.known[(res_model, rid)] = (None, None, None)
        self.cr.execute(LOOKUP_SQL, (self.owner_id, res_model, missing))
        for rid, external_id, state, digest in self.cr.fetchall():
            self.known[(res_model, rid)] = (external_id, state, digest)

    def binding(self, res_model, rid):
        """Return ``(external_id, state, hash)`` of one record's binding."""
        self.prefetch(res_model, [rid])
        return self.known.get((res_model, rid), (None, None, None))

    def _remember(self, res_model, rid, external_id, state, digest, error):
        old_id, _old_state, old_hash = self.known.get((res_model, rid), (None, None, None))
        self.known[(res_model, rid)] = (external_id or old_id, state, digest or old_hash)
        self.pending[(res_model, rid)] = (res_model, rid, external_id, state, digest, error)

    def flush(self):
        """Write the bindings of the requests answered so far."""
        if not self.pending:
            return
        columns = list(zip(*self.pending.values()))
        # Emptied in place: the plans of one outbox group may share it.
        self.pending.clear()
        self.cr.execute(UPSERT_SQL, (self.owner_id, _utc_now(), *map(list, columns)))
        self.config.env["bj.api.sync.binding"].invalidate_model()

    # ------------------------------------------------------------------ before
    def prepare(self, res_model, ids, payloads, records, paginated, url=None):
        """Return the :class:`Prepared` request of one unit (a record, or a page).

        ``url``: the URL kept when the delivery was queued (else the config's).
        Raises :class:`Refusal` when the unit cannot be sent.
        """
        ids, payloads = list(ids), list(payloads)
        hashes = ([sync_state.payload_hash(p) for p in payloads] if self.track
                  else [None] * len(ids))
        skipped = []
        if self.only_changed:
            self.prefetch(res_model, ids)
            keep = []
            for index, (rid, digest) in enumerate(zip(ids, hashes)):
                _ext, state, last = self.known.get((res_model, rid), (None, None, None))
                if state == "synced" and last == digest:
                    skipped.append(rid)
                else:
                    keep.append(index)
            if skipped:
                ids = [ids[i] for i in keep]
                payloads = [payloads[i] for i in keep]
                hashes = [hashes[i] for i in keep]
                if records is not None:
                    records = records.browse(ids)
        if not ids:
            return Prepared([], [], [], "", None, skipped)
        target = self._url(res_model, ids, records, url)
        body = payloads if paginated else payloads[0]
        if self.request_script:
            body = self._run_request_script(body, records, res_model, ids)
        body = sync_state.wrap(body, self.envelope)
        return Prepared(ids, payloads, hashes, target, body, skipped)

    def _url(self, res_model, ids, records, url):
        template = (url or self.template or "").strip()
        if "{" not in template:
            return template
        if url_template.field_paths(template):
            record = records.exists() if records is not None else None
            if not record:
                raise Refusal(_("%(config)s: %(model)s(%(ids)s) no longer exists, so the "
                                "URL's fields cannot be filled; not sent.",
                                config=self.config.name, model=res_model,
                                ids=",".join(map(str, ids))))
            template = url_template.render(template, field_values(record, url_template.
                                                                  field_paths(template)),
                                           keep_external_id=True)
        if url_template.uses_external_id(template):
            external_id = self.binding(res_model, ids[0])[0] if self.track else None
            if not external_id:
                owner = self.config.browse(self.owner_id)
                raise MissingExternalId(_(
                    "%(config)s: %(model)s(%(id)s) has no external id yet (no binding of "
                    "%(owner)s holds one; it is stored when a delivery's answer carries "
                    "it at %(path)s), so {external_id} cannot be filled; not sent.",
                    config=self.config.name, model=res_model, id=ids[0], owner=owner.name,
                    path=owner.response_id_path or "id"))
            template = url_template.render(template, external_id=external_id)
        return template

    def awaits_binding(self, res_model, res_id):
        """Return when the waiting delivery of the binding owner config for this
        record is due (it may bring the external id this delivery lacks), or None."""
        if self.owner_id == self.config.id:
            return None
        self.cr.execute("""
            SELECT min(next_attempt_at) FROM bj_api_outbox
             WHERE config_id = %s AND res_model = %s AND state IN ('pending', 'retrying')
               AND %s = ANY(string_to_array(res_ids, ',')::int[])
        """, (self.owner_id, res_model, res_id))
        return self.cr.fetchone()[0]

    def _script_context(self, records, res_model, extra):
        env = records.env if records is not None else self.config.env
        context = odoo_mapping.script_context(env, res_model)
        records = records if records is not None else env[res_model].browse()
        context.update(records=records, record=records[:1] if len(records) == 1 else
                       records.browse(), config=self.config, **extra)
        return context

    def _run_request_script(self, body, records, res_model, ids):
        context = self._script_context(records, res_model, {"request_data": body})
        try:
            value = odoo_mapping.run_script(self.request_script, "evaluate", context)
        except Exception as exc:  # the script is the user's: stop this unit only
            raise Refusal(_("The request script of %(config)s failed for %(model)s(%(ids)s): "
                            "%(error)s; not sent.", config=self.config.name, model=res_model,
                            ids=",".join(map(str, ids)), error=exc)) from None
        return context["request_data"] if value is None else value

    # ------------------------------------------------------------------- after
    def settle(self, res_model, prepared, result, records, user_env):
        """Record the answer to ``prepared`` in the bindings; on success write the
        answer back and run the response script. Returns the problems met
        afterwards (refused write-back, failing script) as text, or ''."""
        if not self.track:
            return ""
        ids = prepared.ids
        if not result.ok:
            error = masking.mask_text(result.error or _("HTTP %s", result.status_code),
                                      self.factory.secrets)
            for rid in ids:
                self._remember(res_model, rid, None, "failed", None, error)
            return ""
        data = result.json()
        answers = sync_state.answer_items(data, len(ids), self.factory.identifier,
                                          prepared.payloads)
        state = "deleted" if self.deleting else "synced"
        for rid, answer, digest in zip(ids, answers, prepared.hashes):
            external_id = sync_state.external_id_of(answer, self.id_path) if answer else None
            self._remember(res_model, rid, external_id, state, digest, None)
        problems = []
        if self.response_spec and not self.deleting and user_env is not None:
            problems += self._write_back(res_model, ids, answers, user_env)
        if self.response_script:
            problems += self._run_response_script(res_model, ids, result, data, user_env)
        return "\n".join(problems)

    def _write_back(self, res_model, ids, answers, user_env):
        """Write each record's answer through the response lines, as ``user_env``'s user."""
        problems = []
        env = user_env(context=dict(user_env.context,
                                    **{WRITEBACK_KEY: (self.config.id, self.owner_id)}))
        resource = inbound_crud.Resource(env, self.response_spec)
        for rid, answer in zip(ids, answers):
            if not isinstance(answer, dict):
                continue
            record = env[res_model].browse(rid)
            try:
                with env.cr.savepoint():
                    if not record.exists():
                        continue
                    values = resource.to_values(answer, record, ignore_unknown=True)
                    if values:
                        record.write(values)
            except (AccessError, UserError, ValidationError, ApiError) as exc:
                message = exc.message if isinstance(exc, ApiError) else str(exc)
                if isinstance(exc, ApiError) and exc.details:
                    message = f"{message} {exc.details}"
                problems.append(_("The answer was not written onto %(model)s(%(id)s): "
                                  "%(error)s", model=res_model, id=rid, error=message))
                _logger.warning("bj_api_sync: write-back of config %s refused for %s(%s): %s",
                                self.config.id, res_model, rid, message)
        return problems

    def _run_response_script(self, res_model, ids, result, data, user_env):
        self.flush()
        env = user_env if user_env is not None else self.config.env
        records = env[res_model].browse(ids).exists()
        bindings = env["bj.api.sync.binding"].sudo().search([
            ("config_id", "=", self.owner_id), ("res_model", "=", res_model),
            ("res_id", "in", ids)])
        response = {"status_code": result.status_code,
                    "headers": dict(result.response_headers or {}),
                    "data": data, "text": result.response_text}
        context = self._script_context(records, res_model,
                                       {"response": response, "binding": bindings})
        try:
            with env.cr.savepoint():
                odoo_mapping.run_script(self.response_script, "execute", context)
        except Exception as exc:  # the script is the user's: the delivery stands
            _logger.warning("bj_api_sync: response script of config %s failed: %s",
                            self.config.id, exc)
            return [_("The response script of %(config)s failed for %(model)s(%(ids)s): "
                      "%(error)s", config=self.config.name, model=res_model,
                      ids=",".join(map(str, ids)), error=exc)]
        return []
