"""Read the rows of an :class:`..engine.row_mapping.RowPlan` the way the ORM does.

The ORM's own ``fetch()`` reads columns with the query of a search (access
rights and record rules applied, translated columns in the user's language),
then stores the values in its cache. These functions run the same query
(:func:`.orm_internals.rows_of_ids`) and hand the rows to the engine instead of
the cache: same access checks, same values, a fraction of the per-field cost.
Anything unusual (a record that vanished or that a rule hides) makes them
return None, so the caller uses the ORM path and its errors.
"""

from ..engine import row_mapping
from . import orm_internals


def schema_of(env):
    """Return the engine's ``schema(model, field)`` for ``env``'s user.

    A field qualifies when it is a stored column of a type the engine converts,
    and the user may read it and its model; otherwise the ORM path is used.
    """
    readable = {}
    if env.context.get("edit_translations") or env.context.get("check_translations"):
        return lambda model_name, field_name: None  # the ORM decorates such values

    def schema(model_name, field_name):
        model = env[model_name]
        if model_name not in readable:
            readable[model_name] = orm_internals.reads_like_base(
                model
            ) and model.check_access_rights("read", raise_exception=False)
        if not readable[model_name]:
            return None
        if field_name == "id":
            return ("integer", None)
        field = model._fields.get(field_name)
        if (
            field is None
            or not field.store
            or not field.column_type
            or field.type not in row_mapping.ROW_TYPES
            or (field.groups and not env.su and not model.user_has_groups(field.groups))
        ):
            return None
        return (field.type, field.comodel_name if field.type == "many2one" else None)

    return schema


def plan_for(env, model_name, lines):
    """Return the RowPlan of ``lines`` on ``model_name`` for ``env``, or None."""
    return row_mapping.plan(lines, model_name, schema_of(env))


def _read(model, ids, columns):
    """Return ``{id: row}`` for ``ids`` of ``model`` (a row: ``columns`` values),
    or None when some id is missing or not readable."""
    if not ids:
        return {}
    fields = [name for name in columns if name != "id"]
    # Pending writes and recomputations must reach the table first, as the ORM
    # would compute them before reading.
    model.flush_model(fields)
    rows = {row[0]: row for row in orm_internals.rows_of_ids(model, ids, fields)}
    if len(rows) != len(set(ids)):
        return None
    return rows


# Rows of related records kept between the chunks of one run, per source: a
# run sends many records pointing at the same few (countries, companies...).
# Past this many, a source's rows are read again for each chunk instead.
KEEP_RELATED_ROWS = 10_000


def payloads(row_plan, records, known=None):
    """Return one payload per record of ``records`` (in order), or None when the
    ORM path must build them (a record was deleted or hidden by a rule).

    ``known`` (a dict the caller keeps between calls of one transaction) holds
    the rows of related records already read, so each is read once per run.
    """
    if not all(type(rid) is int for rid in records._ids):
        return None  # new records: the ORM has their values, the table does not
    known = {} if known is None else known
    ids = records.ids  # a property that rebuilds the list on each access
    tables = {}
    for source in row_plan.sources:
        model = records.env[source.model]
        if source.parent is None:
            rows = _read(model, ids, source.columns)
        else:
            cached = known.setdefault(source.path, {})
            wanted = row_plan.referenced_ids(source, tables)
            fresh = _read(model, [rid for rid in wanted if rid not in cached], source.columns)
            if fresh is None:
                return None
            rows = {rid: fresh[rid] if rid in fresh else cached[rid] for rid in wanted}
            if len(cached) + len(fresh) > KEEP_RELATED_ROWS:
                cached.clear()  # bounded memory: read them again next time
            else:
                cached.update(fresh)
        if rows is None:
            return None
        tables[source.path] = rows
    return row_plan.build(ids, tables)
