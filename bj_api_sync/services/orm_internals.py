"""The private Odoo 17 internals this addon relies on, in one place.

The ORM's public API costs several times more than the work on three hot
paths (figures in README, "Performance"): outbound payloads read as plain
rows (:mod:`.odoo_rows`), inbound search pages loaded with one query and
answered without a second access check (:mod:`.inbound_crud`), and outbound
log rows inserted in bulk (``bj.api.log._insert_many``). Those paths use the
internals below, and only through this module:

* ``BaseModel._search(domain, offset, limit, order)``: the ``Query`` of a
  search with access rights and record rules applied (used by ``search()``);
  the ``Query``'s ``add_where``, ``select``, ``is_empty``, ``len()`` and its
  ``limit`` / ``offset`` / ``order`` attributes;
* ``BaseModel._field_to_sql(alias, fname, query)``: the SQL of a column as
  ``fetch()`` reads it (the language of translated fields);
* ``BaseModel._determine_fields_to_fetch(field_names)`` and
  ``BaseModel._fetch_query(query, fields)``: what ``search_fetch()`` does
  with a ``Query`` (fields in cache, records returned);
* ``BaseModel._read_format(fnames)``: what ``read()`` returns for records
  whose values are in cache, without the access query ``read()`` repeats;
* ``Cursor._obj``: the psycopg2 cursor under Odoo's cursor, which
  ``psycopg2.extras.execute_values`` needs.

``tests/test_orm_internals.py`` checks each signature and behaviour, so an
Odoo update that changes one fails there, loudly, instead of in production.
"""

from psycopg2.extras import execute_values

from odoo import models
from odoo.tools import SQL

#: Parameter names of the private methods used here, as in Odoo 17.0 (checked
#: by the tests against ``inspect.signature``).
SIGNATURES = {
    "_search": ("self", "domain", "offset", "limit", "order", "access_rights_uid"),
    "_field_to_sql": ("self", "alias", "fname", "query"),
    "_determine_fields_to_fetch": ("self", "field_names", "ignore_when_in_cache"),
    "_fetch_query": ("self", "query", "fields"),
    "_read_format": ("self", "fnames", "load"),
}


def reads_like_base(model):
    """True when ``model`` reads its columns as the ORM's base code does.

    Some models change what a read returns (res.users masks private fields for
    other users, calendar.event hides private events, mail.message checks its
    own access in fetch()): their records must take the public ORM path.
    """
    cls = type(model)
    base = models.BaseModel
    return cls._fetch_query is base._fetch_query and cls.fetch is base.fetch


def search_query(model, domain, offset=0, limit=None, order=None):
    """Return the ``Query`` of ``model.search(domain, ...)``: access rights
    checked and record rules applied, nothing run yet."""
    return model._search(domain, offset=offset, limit=limit, order=order)


def rows_of_ids(model, ids, names):
    """Return the rows ``(id, *names)`` of ``ids`` of ``model`` that the user may
    read (record rules applied, translated columns in the user's language),
    as ``fetch()`` would read them, in one query.

    The ids go as one array text parameter: PostgreSQL plans
    ``id = ANY('{...}'::int4[])`` faster than a list of a thousand values, and
    the domain parsing of a thousand ids is spared.
    """
    query = search_query(model.with_context(active_test=False), [])
    query.add_where(SQL("%s = ANY(%s::int4[])", SQL.identifier(model._table, "id"),
                        "{%s}" % ",".join(map(str, ids))))
    terms = [SQL.identifier(model._table, "id")]
    terms += [model._field_to_sql(model._table, name, query) for name in names]
    model.env.cr.execute(query.select(*terms))
    return model.env.cr.fetchall()


def fetch_page(model, query, names):
    """Return the records of ``query`` with fields ``names`` in cache (what
    ``search_fetch()`` does once it has the query)."""
    return model._fetch_query(query, model._determine_fields_to_fetch(names))


def count_query(query):
    """Return how many records ``query`` matches, whatever its page (the query
    loses its limit, offset and order)."""
    query.limit = query.offset = query.order = None
    # Not len(query): once the page was fetched, the query remembers the page's
    # ids and len() counts those.
    query._cr.execute(query.select("COUNT(*)"))
    return query._cr.fetchone()[0]


def read_cached(records, names):
    """Return ``read(names)`` of ``records`` from the cache: the records come
    from a search with access rules applied and their values are loaded, so
    the second access query of ``read()`` is spared. Access rights on the
    fields must be checked by the caller."""
    return records._read_format(fnames=names)


def insert_values(cr, query, rows, page_size=1000):
    """Run ``query`` (an ``INSERT ... VALUES %s RETURNING id``) for ``rows`` in
    pages of ``page_size`` and return the ids, with psycopg2's
    ``execute_values`` on the cursor under Odoo's (``cr._obj``)."""
    return [row[0] for row in execute_values(cr._obj, query, rows, page_size=page_size,
                                             fetch=True)]


def execute_values_once(cr, query, rows, template=None):
    """Run ``query`` (with one ``VALUES %s``) for all ``rows`` in one statement,
    with psycopg2's ``execute_values`` on the cursor under Odoo's (``cr._obj``)."""
    if rows:
        execute_values(cr._obj, query, rows, template=template, page_size=len(rows))
