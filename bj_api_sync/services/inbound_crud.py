"""The operations of the inbound API on one resource, as the calling user.

A :class:`Resource` binds a config snapshot (``ResourceSpec``) to the caller's
environment. Every read, update and delete is bounded by the config's filter
domain; ``data`` keys are the config lines' external keys (or, with no lines,
the field names the caller may write); values are checked and converted by
:mod:`..engine.mapping_in`; queries are validated by :mod:`..engine.query`. The
ORM runs as the caller, so access rights and record rules apply. Each method
returns a :class:`Result`; failures raise (``ApiError`` or Odoo exceptions,
mapped by :mod:`.inbound_errors`).
"""
import logging
from dataclasses import dataclass, field

from odoo.exceptions import AccessError, UserError
from odoo.osv import expression

from ..engine import (
    batch_request,
    inbound_rules,
    mapping_in,
    mapping_out,
    openapi,
    query,
    serialize,
)
from ..engine.errors import ApiError
from . import inbound_errors, odoo_mapping, orm_internals

_logger = logging.getLogger(__name__)

MAX_LIMIT = query.MAX_LIMIT
_SEARCH_KEYS = openapi.SEARCH_PARAMETERS


@dataclass
class Result:
    """What an operation answers: HTTP status, JSON body and the record ids involved."""

    status: int
    body: dict
    res_ids: list = field(default_factory=list)


class BatchOperationError(Exception):
    """Operation ``index`` of an all-or-nothing batch failed with ``error``."""

    def __init__(self, index, method, error):
        """Remember the failing operation and its exception."""
        super().__init__(f"operation {index} failed")
        self.index = index
        self.method = method
        self.error = error


def _not_found(resource, record_id):
    return ApiError(
        "NOT_FOUND",
        f"No {resource} record with id {record_id}",
        {"resource": resource, "id": record_id},
    )


class Resource:
    """One resource (inbound config) seen by one caller."""

    def __init__(self, env, spec, *, own_user=True):
        """Bind ``spec`` to ``env`` (the caller's environment, never sudo).

        ``own_user``: the caller authenticated as that Odoo user (an API key).
        Only such a caller may select, on a config with lines, field names
        beyond the config's keys: for config credentials or no authentication
        the lines are all that the configuration publishes.
        """
        self.env = env
        self.spec = spec
        self.own_user = own_user
        self.model = env[spec.model]
        self.configs = env["bj.api.sync.config"]
        self.fsets = self.configs._bj_field_sets(spec.model)
        self._base_domain = None

    # ------------------------------------------------------------------ domains
    def base_domain(self):
        """Return the config's filter domain evaluated for the caller (cached per call)."""
        if self._base_domain is None:
            if self.spec.filter_domain in ("[]", "()") and not self.spec.company_id:
                self._base_domain = []
            else:
                # Read the config as superuser but evaluate with the caller's uid.
                config = self.configs.with_env(self.env(su=True)).browse(self.spec.config_id)
                self._base_domain = config._get_filter_domain()
        return self._base_domain

    def find(self, record_id):
        """Return the record ``record_id`` if visible through the config, else 404."""
        domain = expression.AND([[("id", "=", record_id)], self.base_domain()])
        record = self.model.search(domain, limit=1)
        if not record:
            raise _not_found(self.spec.endpoint, record_id)
        return record

    # ------------------------------------------------------------------ fields
    def _line_fields(self):
        """Query allowlist with lines: mapped fields (by name and by simple key)."""
        readable = self.fsets.readable
        names = {}
        aliases = {}
        for line in self.spec.lines:
            if line.field and line.field in readable:
                names[line.field] = readable[line.field]
                if "." not in line.key and line.key != line.field:
                    aliases[line.key] = line.field
        allowed = dict(names)
        for key, fname in aliases.items():
            allowed.setdefault(key, readable[fname])
        return allowed, aliases

    def query_fields(self):
        """Return ``(allowed fields, key -> field aliases)`` for domains and orders."""
        if self.spec.lines:
            return self._line_fields()
        return self.fsets.readable, {}

    def _check_paths(self, domain, aliases):
        """Rename key aliases and check every segment of dotted paths as the caller."""
        checked = []
        for term in domain:
            if not isinstance(term, tuple):
                checked.append(term)
                continue
            path, operator, value = term
            segments = path.split(".")
            segments[0] = aliases.get(segments[0], segments[0])
            model_name = self.spec.model
            for position, segment in enumerate(segments):
                if segment == "id" and position == len(segments) - 1:
                    break
                fsets = self.configs._bj_field_sets(model_name)
                desc = fsets.readable.get(segment)
                if desc is None:
                    raise ApiError(
                        "VALIDATION_ERROR",
                        f"Field path {path!r}: {segment!r} is not available",
                        {"parameter": "domain", "field": path},
                    )
                if not desc.get("searchable", True):
                    # Odoo would drop the term with an error in its log and
                    # answer as if there were no filter.
                    raise ApiError(
                        "VALIDATION_ERROR",
                        f"Field path {path!r}: {segment!r} cannot be searched",
                        {"parameter": "domain", "field": path},
                    )
                if position < len(segments) - 1:
                    model_name = desc.get("relation")
                    if not model_name:
                        raise ApiError(
                            "VALIDATION_ERROR",
                            f"Field path {path!r}: {segment!r} is not relational",
                            {"parameter": "domain", "field": path},
                        )
            checked.append((".".join(segments), operator, value))
        return checked

    # ------------------------------------------------------------------ output
    def _names(self, selection):
        """Model fields to load and format for ``selection`` (without ``id``).

        With lines, only the names of the selection that are not external
        keys (the keys are built by the mapping).
        """
        if self.spec.lines:
            if selection is None:
                return []
            keys = self.spec.output_keys
            return [n for n in selection if n not in keys and n != "id"]
        names = list(selection) if selection is not None else list(self.fsets.default_read)
        return [n for n in names if n != "id"]

    def fetch(self, domain, selection=None, **kwargs):
        """Search ``domain`` and load the fields the answer needs in the same query."""
        return self.model.search_fetch(domain, self._names(selection) or ["id"], **kwargs)

    def _page(self, domain, selection, limit, offset, order):
        """Return ``(records, total)``: one page, fields loaded, and the match count.

        What ``search_count()`` + ``search_fetch()`` do, with the domain and the
        access rules turned into SQL once instead of twice, and no count query
        when the first page is not full (then the page is the whole result).
        """
        model = self.model
        names = self._names(selection) or ["id"]
        query = orm_internals.search_query(model, domain, offset=offset, limit=limit,
                                           order=order)
        if query.is_empty():
            return model.browse(), 0
        records = orm_internals.fetch_page(model, query, names)
        if offset == 0 and len(records) < limit:
            return records, len(records)
        return records, orm_internals.count_query(query)

    def _field_values(self, records, names):
        """Return one ``{"id", field: JSON value...}`` per record for plain field ``names``."""
        if not names:
            return [{"id": record.id} for record in records]
        names = records.check_field_access_rights("read", names)
        # Records come from search_fetch(): access rules are applied and the
        # values are in cache, so format them without a second access query.
        rows = orm_internals.read_cached(records, names)
        readable = self.fsets.readable
        return [serialize.serialize_record(row, readable) for row in rows]

    def _mapping_error(self, exc):
        """Turn a ``MappingError`` of the config's lines into a typed ``ApiError``.

        An Odoo business error keeps its code (a related record the caller
        may not read is a 403); anything else is the config's own fault (a
        script that fails, a path that does not exist): a 500 naming the
        config and the line, logged without a traceback.
        """
        line_id = self.spec.line_id(exc.line_label)
        details = {"config_id": self.spec.config_id, "line_id": line_id,
                   "line": exc.line_label}
        cause = exc.cause if isinstance(exc.cause, Exception) else None
        error = inbound_errors.business_error(cause) if cause is not None else None
        if error is not None:
            error.details.update(details)
            return error
        _logger.warning("Inbound API: %s (config id %s, line id %s)", exc,
                        self.spec.config_id, line_id)
        # The client learns which line failed and how (the exception's type);
        # the cause's own text, which may hold data, stays in the server log.
        kind = type(cause).__name__ if cause is not None else "an error"
        where = f" for record {exc.record_ref}" if exc.record_ref else ""
        return ApiError(
            "INTERNAL_ERROR",
            f"The configuration of {self.spec.endpoint!r} cannot build the answer: "
            f"{exc.line_label or 'a line'} failed with {kind}{where} (details in the server log)",
            details,
        )

    def serialize(self, records, selection=None):
        """Return the JSON objects of ``records`` (``selection``: field names or keys).

        With lines, ``selection`` may mix the config's external keys (built by
        the mapping) and field names the caller may read (read as they are);
        each comes back under the name asked for.
        """
        if not records:
            return []
        if not self.spec.lines:
            return self._field_values(records, self._names(selection))
        lines = self.spec.output_lines
        if selection is not None:
            wanted = set(selection)
            lines = tuple(line for line in lines if line.external_key in wanted)
        built = [{} for _record in records]
        if lines:
            try:
                built = mapping_out.build_payloads(
                    records, lines, odoo_mapping.ACCESS, run_script=odoo_mapping.run_script,
                    script_context=odoo_mapping.script_context(records.env, records._name),
                    config_name=self.spec.name, profile=serialize.ANSWER,
                )
            except mapping_out.MappingError as exc:
                raise self._mapping_error(exc) from None
        names = self._names(selection)
        if not names:
            return [{"id": record.id, **data} for record, data in zip(records, built)]
        plain = {values["id"]: values for values in self._field_values(records, names)}
        keys = self.spec.output_keys
        result = []
        for record, data in zip(records, built):
            values = plain.get(record.id, {})
            item = {"id": record.id}
            for name in selection:
                if name in keys:
                    top = name.split(".", 1)[0]
                    if top in data:
                        item.setdefault(top, data[top])
                elif name in values:
                    item.setdefault(name, values[name])
            result.append(item)
        return result

    def parse_selection(self, raw, parameter="fields"):
        """Validate a ``fields`` / ``return_fields`` selection; None: the default answer.

        With lines: the config's external keys and the field names the
        caller may read; without: field names the caller may read.
        """
        if self.spec.lines:
            names = query.parse_fields(raw, self.selectable(), default=(),
                                       parameter=parameter)
            if not names:
                return None
            return [n for n in names if n != "id"]
        return query.parse_fields(raw, self.fsets.readable, default=self.fsets.default_read,
                                  parameter=parameter)

    def selectable(self):
        """Names a selection may hold: with lines, the external keys (plus the
        readable fields for a caller using their own API key); without, the
        readable fields."""
        if not self.spec.lines:
            return self.fsets.readable
        keys = dict.fromkeys(self.spec.output_keys, True)
        return {**self.fsets.readable, **keys} if self.own_user else keys

    # ------------------------------------------------------------------ input
    def _nested(self, desc, vals):
        """Validate the values of x2many create/update commands against the comodel."""
        relation = desc.get("relation")
        if not relation:
            raise ApiError("VALIDATION_ERROR", "Nested values need a relational field")
        fsets = self.configs._bj_field_sets(relation)
        return mapping_in.convert_values(vals, fsets.inputs, convert_nested=self._nested)

    def _resolver(self, line):
        """Return the many2one resolver of ``line`` (identifier of a mapping config or
        ``related_path``), or None."""
        if line.ftype != "many2one" or not line.relation:
            return None
        if line.sub_identifier:
            _model, fname, _domain = line.sub_identifier
            path = fname
        elif line.related_path:
            parts = line.related_path.split(".")
            if parts[0] == line.field and len(parts) > 1:
                parts = parts[1:]
            path = ".".join(parts)
        else:
            return None
        comodel = self.env[line.relation]

        def resolve(_desc, value):
            if isinstance(value, (dict, list, tuple, bool)) or value is None:
                return None
            found = comodel.search([(path, "=", value)], limit=2)
            return found.id if len(found) == 1 else None

        return resolve

    def _script_value(self, line, value, data, record):
        record = self.model.browse() if record is None else record
        context = odoo_mapping.script_context(self.env, self.spec.model, request_data=data)
        context.update(record=record, records=record, value=value)
        try:
            result = odoo_mapping.run_script(line.python_code, line.python_mode, context)
        except (ApiError, AccessError, UserError):
            raise
        except Exception as exc:  # a script failure is a refusal of this input
            raise ApiError(
                "VALIDATION_ERROR",
                f"The script of mapping {line.key!r} failed: {exc}",
                {"field": line.key, "line_id": line.line_id},
            ) from None
        if hasattr(result, "_name") and hasattr(result, "ids"):
            result = result.id if line.ftype == "many2one" else list(result.ids)
        return result

    def to_values(self, data, record=None, *, ignore_unknown=False):
        """Convert a ``data`` object to ORM values; raise one VALIDATION_ERROR listing problems.

        ``ignore_unknown``: keys no line maps are left out instead of refused
        (an answer written back holds more than the lines map).
        """
        if not self.spec.lines:
            return mapping_in.convert_values(data, self.fsets.inputs, convert_nested=self._nested)
        by_key = self.spec.input_lines
        flat = mapping_in.flatten(data, by_key)
        if ignore_unknown:
            flat = {k: v for k, v in flat.items() if k in by_key}
        mapping_in.raise_unknown_fields([k for k in flat if k not in by_key])
        values = {}
        source = {}
        errors = []
        for key, value in flat.items():
            line = by_key[key]
            try:
                if line.value_type in ("python", "relational_python"):
                    value = self._script_value(line, value, data, record)
                    if line.python_mode == "execute":
                        continue
                if not line.field:
                    continue
                desc = self.fsets.inputs.get(line.field)
                if desc is None:
                    raise ApiError("VALIDATION_ERROR", f"Field {key!r} is not available")
                if desc.get("readonly"):
                    raise ApiError("VALIDATION_ERROR", f"Field {key!r} is read-only")
                if line.field in source:
                    raise ApiError(
                        "VALIDATION_ERROR",
                        f"Keys {source[line.field]!r} and {key!r} both set field {line.field!r}",
                    )
                values[line.field] = mapping_in.convert_value(
                    key, value, desc, self._resolver(line), convert_nested=self._nested
                )
                source[line.field] = key
            except ApiError as exc:
                if exc.code != "VALIDATION_ERROR":
                    raise
                errors.append({"field": key, "message": exc.message})
        mapping_in.raise_field_errors(errors)
        return values

    def _required_missing(self, values):
        keys = {line.field: line.key for line in self.spec.lines if line.field}
        missing = []
        for name in self.fsets.writable:
            desc = self.fsets.inputs[name]
            if desc.get("required") and name not in values:
                if self.spec.lines and name not in keys:
                    continue
                missing.append(keys.get(name, name))
        return sorted(missing)

    def _existing(self, values):
        """Return the record matching the identifier in ``values`` (upsert), if any."""
        ident = self.spec.identifier
        if not ident or ident.field not in values or values[ident.field] in (False, None):
            return self.model.browse()
        domain = expression.AND(
            [[(ident.field, "=", values[ident.field])], self.base_domain()]
        )
        found = self.model.search(domain, limit=2)
        if len(found) > 1:
            raise ApiError(
                "DUPLICATE_RECORD",
                f"Identifier {ident.key!r} matches several records",
                {"field": ident.key},
            )
        return found

    def _create_one(self, data):
        """Create (or, through the identifier, update) one record; return (record, created)."""
        values = self.to_values(data)
        existing = self._existing(values)
        if existing:
            existing.write(values)
            return existing, False
        return self.model.create(values), True

    # ------------------------------------------------------------------ operations
    def do_create(self, body):
        """``POST /{resource}``: create, or upsert through the Record Identifier line."""
        data, options = mapping_in.split_request(body)
        return_fields = options.get("return_fields")
        if return_fields is not None and not isinstance(return_fields, list):
            raise ApiError(
                "VALIDATION_ERROR",
                "'options.return_fields' must be a list of field names",
                {"parameter": "options.return_fields"},
            )
        selection = (self.parse_selection(return_fields, "options.return_fields")
                     if return_fields else None)
        record, created = self._create_one(data)
        self.env.flush_all()
        if selection is None:
            sent = self._sent_selection(data)
            selection = sent
        out = self.serialize(record, selection)[0]
        return Result(201 if created else 200, {"success": True, "id": record.id, "data": out},
                      [record.id])

    def _sent_selection(self, data):
        """Default answer of a create: the keys the client sent (when readable)."""
        if self.spec.lines:
            keys = {line.key for line in self.spec.lines}
            return [k for k in mapping_in.flatten(data, keys) if k in keys]
        return [k for k in data if k in self.fsets.readable]

    def do_update(self, record_id, body):
        """``PUT /{resource}/{id}``: write the given fields."""
        data, options = mapping_in.split_request(body)
        partial = inbound_rules.parse_flag(options.get("partial_update", True),
                                           "options.partial_update")
        record = self.find(record_id)
        values = self.to_values(data, record=record)
        if not partial:
            missing = self._required_missing(values)
            if missing:
                raise ApiError(
                    "VALIDATION_ERROR",
                    "A full update (partial_update: false) needs every required field; "
                    "missing: " + ", ".join(missing),
                    {"missing": missing},
                )
        if values:
            record.write(values)
        self.env.flush_all()
        updated = list(data) if not self.spec.lines else list(
            mapping_in.flatten(data, self.spec.input_lines)
        )
        write_date = record.write_date if "write_date" in record._fields else False
        return Result(200, {
            "success": True,
            "id": record.id,
            "updated_fields": updated,
            "write_date": serialize.serialize_value(write_date, {"type": "datetime"}),
        }, [record.id])

    def do_delete(self, record_id, options):
        """``DELETE /{resource}/{id}``: delete, or archive with ``archive_instead``."""
        archive = inbound_rules.parse_flag(options.get("archive_instead"),
                                           "options.archive_instead")
        record = self.find(record_id)
        if archive:
            if not self.spec.has_active:
                raise ApiError(
                    "VALIDATION_ERROR",
                    f"Records of {self.spec.endpoint} cannot be archived (the model has no "
                    "'active' field); delete them instead",
                    {"parameter": "options.archive_instead"},
                )
            record.write({"active": False})
            message = "Record archived successfully"
        else:
            record.unlink()
            message = "Record deleted successfully"
        self.env.flush_all()
        return Result(200, {"success": True, "message": message, "id": record_id}, [record_id])

    def do_read(self, record_id, args):
        """``GET /{resource}/{id}``: one record."""
        selection = self.parse_selection(args.get("fields"))
        domain = expression.AND([[("id", "=", record_id)], self.base_domain()])
        record = self.fetch(domain, selection, limit=1)
        if not record:
            raise _not_found(self.spec.endpoint, record_id)
        return Result(200, {"success": True, "id": record.id,
                            "data": self.serialize(record, selection)[0]}, [record.id])

    def do_search(self, args, base_path):
        """``GET /{resource}/search``: filter, sort and page through records."""
        paging = query.parse_paging(args, default_limit=self.spec.page_size,
                                    max_limit=MAX_LIMIT)
        allowed, aliases = self.query_fields()
        domain = self._check_paths(query.parse_domain(args.get("domain"), allowed), aliases)
        order_fields = dict(allowed)
        order_raw = args.get("order")
        if order_raw and aliases:
            order_raw = ",".join(
                " ".join([aliases.get(p.split()[0], p.split()[0]), *p.split()[1:]])
                if p.split() else p
                for p in order_raw.split(",")
            )
        order = query.parse_order(order_raw, order_fields)
        terms = []
        for key, fname, operator in self.spec.params:
            raw = args.get(key)
            if raw is None or key in _SEARCH_KEYS:
                continue
            desc = self.fsets.readable.get(fname)
            if desc is None:
                continue
            terms.append(inbound_rules.param_term(fname, desc.get("type"), operator, raw, key))
        full = expression.AND([self.base_domain(), domain, terms])
        selection = self.parse_selection(args.get("fields"))
        records, total = self._page(full, selection, paging["limit"], paging["offset"], order)
        pagination = query.pagination_block(
            total=total, limit=paging["limit"], offset=paging["offset"],
            base_path=base_path, query=args,
        )
        return Result(200, {
            "success": True,
            "count": total,
            "records": self.serialize(records, selection),
            "pagination": pagination,
        }, records.ids)

    # ------------------------------------------------------------------ batch
    def _run(self, operation):
        method = operation["method"]
        if method == "create":
            record, _created = self._create_one(operation["data"])
            return record.id
        record = self.find(operation["id"])
        if method == "update":
            values = self.to_values(operation["data"], record=record)
            if values:
                record.write(values)
        else:
            record.unlink()
        return operation["id"]

    def do_batch(self, body):
        """``POST /{resource}/batch``: several operations in one call.

        ``transaction: true``: all or nothing (the first failure aborts the
        call with its error and the index). ``continue_on_error: true``: each
        operation in its own savepoint, every result reported. Neither: run in
        order and stop at the first failure; earlier operations are kept, the
        rest reported as skipped.
        """
        operations, options = batch_request.parse_batch(body)
        inbound_rules.check_batch_verbs(operations, self.spec.methods)
        if options["transaction"]:
            results = self._batch_transaction(operations)
        else:
            results = self._batch_steps(operations, stop=not options["continue_on_error"])
        done = [r for r in results if r.get("success")]
        return Result(200, {
            "success": True,
            "results": results,
            "summary": {"total": len(results), "succeeded": len(done),
                        "failed": len(results) - len(done)},
        }, [r["id"] for r in done])

    def _fail(self, index, method, exc):
        if inbound_errors.is_retryable(exc):
            raise exc
        raise BatchOperationError(index, method, exc) from exc

    def _batch_transaction(self, operations):
        results = []
        cr = self.env.cr
        position = 0
        while position < len(operations):
            operation = operations[position]
            if operation["method"] == "create" and not self.spec.identifier:
                # Consecutive creates go to the ORM as one create() call.
                end = position
                vals_list = []
                while end < len(operations) and operations[end]["method"] == "create":
                    try:
                        vals_list.append(self.to_values(operations[end]["data"]))
                    except Exception as exc:  # noqa: BLE001 - reported with its index
                        self._fail(end, "create", exc)
                    end += 1
                try:
                    with cr.savepoint():
                        records = self.model.create(vals_list)
                        self.env.flush_all()
                except Exception as exc:  # noqa: BLE001 - find the operation at fault
                    if inbound_errors.is_retryable(exc):
                        raise
                    for offset, vals in enumerate(vals_list):
                        try:
                            with cr.savepoint():
                                self.model.create(vals)
                                self.env.flush_all()
                        except Exception as inner:  # noqa: BLE001
                            self._fail(position + offset, "create", inner)
                    self._fail(position, "create", exc)
                results += [
                    {"index": position + i, "success": True, "id": rid}
                    for i, rid in enumerate(records.ids)
                ]
                position = end
                continue
            try:
                with cr.savepoint():
                    rid = self._run(operation)
                    self.env.flush_all()
            except Exception as exc:  # noqa: BLE001 - reported with its index
                self._fail(position, operation["method"], exc)
            results.append({"index": position, "success": True, "id": rid})
            position += 1
        return results

    def _batch_steps(self, operations, stop):
        results = []
        failed = False
        cr = self.env.cr
        for operation in operations:
            index = operation["index"]
            if failed and stop:
                results.append({"index": index, "success": False, "skipped": True,
                                "id": operation["id"]})
                continue
            try:
                with cr.savepoint():
                    rid = self._run(operation)
                    self.env.flush_all()
            except Exception as exc:  # noqa: BLE001 - reported per operation
                if inbound_errors.is_retryable(exc):
                    raise
                error = inbound_errors.to_api_error(exc)
                results.append({
                    "index": index, "success": False, "id": operation["id"],
                    "error": {"code": error.code, "message": error.message,
                              "details": error.details},
                })
                failed = True
                continue
            results.append({"index": index, "success": True, "id": rid})
        return results
