"""Pull: import records from an external API's answers, page by page (CONTRACT section 4).

Items are mapped by the config's lines exactly as the inbound API maps
``data`` (:meth:`.inbound_crud.Resource.to_values`: external keys to fields,
relational lines by the mapping config's identifier), upserted by the Record
Identifier within the filter domain, as the config's Run As User (or the
calling user), so access rights and record rules apply. New records of a page
go to the ORM in one ``create()``; a bad item is logged with its identifier
and skipped. Each page is one log row; the ORM cache is emptied after each
page so that memory stays flat however many pages there are.
"""
import logging
import time

import psycopg2

from odoo import _
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression

from ..engine import masking, pagination, policy
from ..engine.errors import ApiError
from ..engine.mapping_out import get_dotted
from . import inbound_crud, inbound_spec

_logger = logging.getLogger(__name__)

#: Longest wait between two attempts at one page: a run may be an HTTP
#: request (Import Now), which must not hang on a long Retry-After.
MAX_PAGE_RETRY_DELAY = 10.0
#: Failed items named in a page's log row; the count gives the rest.
LISTED_FAILURES = 20
ITEM_ERRORS = (ApiError, AccessError, UserError, ValidationError, ValueError, TypeError,
               psycopg2.IntegrityError)


def pager_of(config):
    """Return the :class:`..engine.pagination.Pager` of an import config."""
    return pagination.Pager(
        style=config.import_pagination or "none",
        size=max(config.page_size, 1),
        page_param=(config.import_page_param or "").strip(),
        size_param=(config.import_size_param or "").strip(),
        cursor_path=(config.import_cursor_path or "").strip(),
        cursor_param=(config.import_cursor_param or "").strip(),
        next_path=(config.import_next_path or "").strip(),
        max_pages=max(config.import_max_pages, 1),
    )


def _message(exc):
    if isinstance(exc, ApiError):
        details = exc.details.get("errors") or exc.details
        return f"{exc.message} {details}" if details else exc.message
    return str(exc.args[0]) if getattr(exc, "args", None) else str(exc)


class ImportRun:
    """One run of ``config._run_import()``."""

    def __init__(self, config, env):
        """Bind the config (in sudo) to ``env``, the environment records are written in."""
        from .outbound import RequestFactory  # outbound imports the sync services

        self.config = config
        self.env = env
        self.factory = RequestFactory(config)
        self.pager = pager_of(config)
        self.items_path = (config.import_items_path or "").strip()
        self.spec = inbound_spec.build_spec(config)
        self.model = env[self.spec.model]
        self.Log = config.env["bj.api.log"].sudo()
        self.counts = {"created": 0, "updated": 0, "failed": 0, "pages": 0}
        self.log_ids = []
        self.error = None

    # ------------------------------------------------------------------- pages
    def run(self):
        """Import every page; return the counts, the log ids and the error that
        stopped the run (None when it went to the end)."""
        from .outbound import new_key

        url, params = self.factory.url, self.pager.first_params()
        number = 0
        while True:
            number += 1
            request = self.factory.request(None, new_key(), url)
            request.params = list(request.params) + list(params)
            result, attempt = self._fetch(request)
            if not result.ok:
                self.error = _("Page %(page)s failed: %(error)s", page=number,
                               error=result.error or _("HTTP %s", result.status_code))
                self._log(result, attempt, "failed", [], self.error)
                break
            data = result.json()
            try:
                items = pagination.items_of(data, self.items_path)
            except pagination.PageError as exc:
                self.error = _("Page %(page)s: %(error)s", page=number, error=exc)
                self._log(result, attempt, "failed", [], self.error)
                break
            ids, failures = self._import_page(items)
            self.counts["pages"] += 1
            self._log(result, attempt, "success", ids, self._page_summary(number, items, ids,
                                                                         failures))
            try:
                nxt = self.pager.next_request(number, len(items), data,
                                              result.response_headers, url, params)
            except pagination.PageError as exc:
                self.error = _("After page %(page)s: %(error)s", page=number, error=exc)
                nxt = None
            # Pages are independent: nothing of this one is kept in memory.
            self.env.flush_all()
            self.env.invalidate_all()
            del data, items
            if nxt is None:
                break
            url, params = nxt
        return {**self.counts, "log_ids": self.log_ids, "error": self.error}

    def _fetch(self, request):
        """Get one page, retried as deliveries are; return ``(result, attempts)``."""
        allowed = policy.max_attempts(self.config.max_retries)
        attempt = 0
        while True:
            attempt += 1
            result = self.factory.dispatch(request)
            if result.ok or not policy.should_retry(result.outcome, attempt, allowed):
                return result, attempt
            delay = policy.backoff_delay(attempt, self.config.retry_backoff,
                                         retry_after=result.retry_after,
                                         cap=MAX_PAGE_RETRY_DELAY)
            time.sleep(delay)

    def _page_summary(self, number, items, ids, failures):
        created, updated = ids
        parts = [_("Page %(page)s: %(items)s item(s), %(created)s created, %(updated)s "
                   "updated, %(failed)s failed.", page=number, items=len(items),
                   created=len(created), updated=len(updated), failed=len(failures))]
        parts += failures[:LISTED_FAILURES]
        if len(failures) > LISTED_FAILURES:
            parts.append(_("... and %s more.", len(failures) - LISTED_FAILURES))
        return "\n".join(parts)

    def _log(self, result, attempt, state, ids, summary):
        created, updated = ids or ([], [])
        values = self.factory.attempt_log_values(
            result, state=state, attempt=attempt, res_model=self.spec.model,
            res_ids=list(created) + list(updated))
        values["summary"] = masking.mask_text(summary, self.factory.secrets)
        if state == "failed" and not values.get("error_message"):
            values["error_message"] = values["summary"]
        self.log_ids.append(self.Log.create(values).id)

    # ------------------------------------------------------------------- items
    def _identifier_of(self, index, item):
        ident = self.spec.identifier
        value = get_dotted(item, ident.key) if ident and isinstance(item, dict) else None
        return f"{ident.key}={value!r}" if value not in (None, False, "") else f"#{index + 1}"

    def _import_page(self, items):
        """Upsert the items of one page; return ``((created ids, updated ids), failures)``."""
        resource = inbound_crud.Resource(self.env, self.spec)
        converted, failures = [], []
        for index, item in enumerate(items):
            label = self._identifier_of(index, item)
            try:
                if not isinstance(item, dict):
                    raise ValueError(_("an item is an object, not %s", type(item).__name__))
                converted.append((label, resource.to_values(item, ignore_unknown=True)))
            except ITEM_ERRORS as exc:
                failures.append(_("Item %(item)s: %(error)s", item=label, error=_message(exc)))
        existing = self._existing(resource, [values for _label, values in converted])
        ident = self.spec.identifier
        creates = {}  # identifier value (or a unique key) -> (label, values)
        updated = []
        for position, (label, values) in enumerate(converted):
            key = values.get(ident.field) if ident and ident.field in values else None
            record = existing.get(key) if key not in (None, False) else None
            if record is not None:
                try:
                    with self.env.cr.savepoint():
                        record.write(values)
                    updated.append(record.id)
                except ITEM_ERRORS as exc:
                    failures.append(_("Item %(item)s: %(error)s", item=label,
                                      error=_message(exc)))
                continue
            slot = key if key not in (None, False) else ("#", position)
            if slot in creates:  # the same record twice in one page: the last wins
                creates[slot][1].update(values)
            else:
                creates[slot] = (label, values)
        created = self._create(list(creates.values()), failures)
        self.counts["created"] += len(created)
        self.counts["updated"] += len(updated)
        self.counts["failed"] += len(failures)
        return (created, updated), failures

    def _existing(self, resource, values_list):
        """Return ``{identifier value: record}`` of the page's records that exist already."""
        ident = self.spec.identifier
        if not ident:
            return {}
        keys = {v[ident.field] for v in values_list if v.get(ident.field) not in (None, False)}
        if not keys:
            return {}
        domain = expression.AND([[(ident.field, "in", list(keys))], resource.base_domain()])
        found = {}
        for record in self.model.search(domain):
            value = record[ident.field]
            value = value.id if hasattr(value, "_name") else value
            found.setdefault(value, record)
        return found

    def _create(self, pending, failures):
        """Create the page's new records in one call; when it fails, one by one,
        so that only the bad items are left out."""
        if not pending:
            return []
        try:
            with self.env.cr.savepoint():
                return self.model.create([values for _label, values in pending]).ids
        except ITEM_ERRORS as exc:
            _logger.info("bj_api_sync: import of %s: a page's creates failed together (%s); "
                         "creating them one by one", self.spec.model, exc)
        created = []
        for label, values in pending:
            try:
                with self.env.cr.savepoint():
                    created.append(self.model.create(values).id)
            except ITEM_ERRORS as exc:
                failures.append(_("Item %(item)s: %(error)s", item=label, error=_message(exc)))
        return created


def run_import(config, env):
    """Import the config's external records into ``env``; return the run's result
    (``created``, ``updated``, ``failed``, ``pages``, ``log_ids``, ``error``)."""
    return ImportRun(config, env).run()
