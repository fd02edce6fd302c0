"""The private Odoo internals of services.orm_internals still do what it relies on.

An Odoo update that renames, re-signs or changes one of them fails here, by
name, instead of silently in the outbound row path, the inbound search page
or the log's bulk insert.
"""
import inspect

import psycopg2.extensions

from odoo import models
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL

from ..services import orm_internals


@tagged("post_install", "-at_install")
class TestOrmInternals(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.partners = Partner.create([{"name": f"Internals {i}", "color": i} for i in range(3)])
        cls.archived = Partner.create({"name": "Internals archived", "active": False})
        cls.env.flush_all()

    def test_signatures(self):
        for name, expected in orm_internals.SIGNATURES.items():
            with self.subTest(method=name):
                method = getattr(models.BaseModel, name, None)
                self.assertIsNotNone(method, f"BaseModel.{name} is gone")
                self.assertEqual(tuple(inspect.signature(method).parameters), expected,
                                 f"BaseModel.{name} changed its signature")

    def test_search_query(self):
        Partner = self.env["res.partner"]
        domain = [("name", "=like", "Internals %")]
        query = orm_internals.search_query(Partner, domain, limit=2, order="id")
        self.assertFalse(query.is_empty())
        self.assertEqual((query.limit, query.offset), (2, 0))
        self.env.cr.execute(query.select(SQL.identifier(Partner._table, "id")))
        self.assertEqual([row[0] for row in self.env.cr.fetchall()], self.partners.ids[:2])
        self.assertTrue(orm_internals.search_query(Partner, [("id", "in", [])]).is_empty())
        # Once the page was fetched (ids only, as a search by lines does), the query
        # remembers the page's ids: the count must still be of every match.
        orm_internals.fetch_page(Partner, query, ["id"])
        self.assertEqual(orm_internals.count_query(query), 3)  # archived ones not counted

    def test_rows_of_ids_apply_record_rules(self):
        Partner = self.env["res.partner"]
        ids = [*self.partners.ids, self.archived.id]
        rows = orm_internals.rows_of_ids(Partner, ids, ["name", "color"])
        self.assertEqual(sorted(rows), sorted(
            (p.id, p.name, p.color) for p in self.partners | self.archived))
        self.env["ir.rule"].create({
            "name": "hide one", "model_id": self.env["ir.model"]._get_id("res.partner"),
            "domain_force": f"[('id', '!=', {self.partners[0].id})]",
        })
        user = new_test_user(self.env, login="bj_internals_user", groups="base.group_user")
        rows = orm_internals.rows_of_ids(Partner.with_user(user), self.partners.ids, ["name"])
        self.assertEqual(sorted(r[0] for r in rows), self.partners.ids[1:])

    def test_fetch_page_loads_the_cache(self):
        Partner = self.env["res.partner"]
        self.env.invalidate_all()
        query = orm_internals.search_query(Partner, [("id", "in", self.partners.ids)], order="id")
        records = orm_internals.fetch_page(Partner, query, ["name", "color"])
        self.assertEqual(records, self.partners)
        for record in records:
            self.assertTrue(self.env.cache.contains(record, Partner._fields["name"]))
            self.assertTrue(self.env.cache.contains(record, Partner._fields["color"]))
        with self.assertQueryCount(0):
            rows = orm_internals.read_cached(records, ["name", "color"])
        self.assertEqual(rows, records.read(["name", "color"]))

    def test_reads_like_base(self):
        self.assertTrue(orm_internals.reads_like_base(self.env["res.partner"]))
        # res.users masks private fields in _fetch_query: never read as rows.
        self.assertFalse(orm_internals.reads_like_base(self.env["res.users"]))

    def test_insert_values_on_the_raw_cursor(self):
        self.assertIsInstance(self.env.cr._obj, psycopg2.extensions.cursor)
        self.env.cr.execute("CREATE TEMPORARY TABLE bj_internals_t (id serial, v int)")
        ids = orm_internals.insert_values(
            self.env.cr, "INSERT INTO bj_internals_t (v) VALUES %s RETURNING id",
            [(i,) for i in range(5)], page_size=2)
        self.assertEqual(len(ids), 5)
        self.env.cr.execute("SELECT v FROM bj_internals_t WHERE id = ANY(%s) ORDER BY v", [ids])
        self.assertEqual([r[0] for r in self.env.cr.fetchall()], list(range(5)))


@tagged("post_install", "-at_install")
class TestLogStatusCode(TransactionCase):
    def _stored(self, log):
        self.env.flush_all()
        self.env.cr.execute("SELECT status_code, duration_ms FROM bj_api_log WHERE id = %s",
                            [log.id])
        return self.env.cr.fetchone()

    def test_no_response_is_stored_as_zero_by_both_writers(self):
        """A status code of 0 ("no response") is 0 in the table, whether the log
        row came from create() or from the bulk insert of the outbound path."""
        Log = self.env["bj.api.log"]
        values = {"direction": "out", "http_method": "POST", "url": "http://127.0.0.1:9/x",
                  "status_code": 0, "duration_ms": 0.0, "state": "failed", "attempt": 1}
        created = Log.create(dict(values))
        [inserted] = Log._insert_many([dict(values)])
        self.assertEqual(self._stored(created), (0, 0.0))
        self.assertEqual(self._stored(inserted), (0, 0.0))
