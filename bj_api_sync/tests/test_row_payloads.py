"""The row fast path of payload building against the ORM path, on real Odoo data."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..engine import mapping_out
from ..services import odoo_mapping, odoo_rows
from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestRowPayloads(BjApiSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.belgium = cls.env.ref("base.be")
        cls.parent = cls.env["res.partner"].create({
            "name": "Parent Co", "is_company": True, "country_id": cls.belgium.id,
        })
        Partner = cls.env["res.partner"]
        cls.partners = Partner.create([
            {"name": "Alice", "email": "alice@example.com", "parent_id": cls.parent.id,
             "color": 3, "partner_latitude": 50.85, "date": "2024-02-03", "type": "invoice",
             "comment": "<p>Hello</p>", "country_id": cls.belgium.id},
            {"name": "Bob"},  # NULLs everywhere
            {"name": "Carol", "active": False, "country_id": cls.env.ref("base.fr").id},
        ])
        cls.config = cls.make_out_config(line_ids=[
            (0, 0, {"external_key": key, "field_id": cls._field("res.partner", field).id,
                    "value_type": kind, "related_path": path})
            for key, field, kind, path in [
                ("id", "id", "plain", False),
                ("name", "name", "plain", False),
                ("contact.email", "email", "plain", False),
                ("contact.phone", "phone", "plain", False),
                ("color", "color", "plain", False),
                ("lat", "partner_latitude", "plain", False),
                ("since", "date", "plain", False),
                ("changed", "write_date", "plain", False),
                ("type", "type", "plain", False),
                ("active", "active", "plain", False),
                ("note", "comment", "plain", False),
                ("parent", "parent_id", "plain", False),
                ("country", "country_id", "relational", "code"),
                ("country_name", "country_id", "relational", "name"),
                ("parent_country", "parent_id", "relational", "country_id.code"),
                ("parent_currency", "parent_id", "relational", "country_id.currency_id.name"),
            ]
        ])

    def orm_payloads(self, records):
        """The payloads of the generic builder over records (the reference)."""
        return mapping_out.build_payloads(
            records, odoo_mapping.line_specs(self.config), odoo_mapping.ACCESS,
            run_script=odoo_mapping.run_script, config_name=self.config.name,
        )

    def builder(self, env=None):
        return odoo_mapping.PayloadBuilder(self.config, env or self.env)

    def test_row_path_gives_the_orm_payloads(self):
        builder = self.builder()
        self.assertIsNotNone(builder.row_plan, "these lines read plain columns only")
        records = self.partners | self.parent | self.partners[0]
        fast = odoo_rows.payloads(builder.row_plan, records)
        self.assertIsNotNone(fast)
        self.assertEqual(fast, self.orm_payloads(records))
        alice = fast[0]
        self.assertEqual(alice["contact"], {"email": "alice@example.com", "phone": None})
        self.assertEqual((alice["since"], alice["country"], alice["parent_country"]),
                         ("2024-02-03", "BE", "BE"))
        self.assertEqual(alice["parent_currency"], "EUR")
        self.assertEqual(fast[1]["parent_country"], None)
        self.assertEqual([p["id"] for p in fast], records.ids)

    def test_pending_changes_are_read(self):
        # A write still in the ORM's cache (not flushed) must be what is sent.
        alice = self.partners[0]
        alice.write({"name": "Alice v2", "color": 7})
        self.belgium.write({"code": "BX"})
        payload = self.builder().build(alice)[0]
        self.assertEqual((payload["name"], payload["color"], payload["country"]),
                         ("Alice v2", 7, "BX"))

    def test_translated_field_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.belgium.with_context(lang="fr_FR").name = "Belgique"
        alice = self.partners[0]
        french = self.builder().build(alice.with_context(lang="fr_FR"))[0]
        english = self.builder().build(alice.with_context(lang="en_US"))[0]
        self.assertEqual((french["country_name"], english["country_name"]),
                         ("Belgique", "Belgium"))

    def test_deleted_record_falls_back_to_the_orm_and_its_error(self):
        gone = self.env["res.partner"].create({"name": "Gone"})
        gone.unlink()
        records = self.partners[0] | gone
        self.assertIsNone(odoo_rows.payloads(self.builder().row_plan, records))
        with self.assertRaises(mapping_out.MappingError):
            self.builder().build(records)

    def test_record_rules_apply(self):
        # A user who may not read Carol's country: the ORM refuses, so must we.
        user = self.bj_user
        self.env["ir.rule"].create({
            "name": "no France", "model_id": self.country_model.id,
            "domain_force": "[('code', '!=', 'FR')]",
        })
        env = self.env(user=user)
        readable = self.partners[:2].with_env(env)
        builder = self.builder(env)
        self.assertIsNotNone(builder.row_plan)
        self.assertEqual(builder.build(readable), self.orm_payloads(readable))
        carol = self.partners[2].with_env(env)
        self.assertIsNone(odoo_rows.payloads(builder.row_plan, carol))
        with self.assertRaises(mapping_out.MappingError) as caught:
            builder.build(carol)
        self.assertIsInstance(caught.exception.cause, AccessError)

    def test_field_groups_and_other_lines_use_the_orm(self):
        # A field the user may not read, and a script line: no row plan.
        env = self.env(user=self.bj_user)
        restricted = self.make_out_config(name="Restricted", line_ids=[
            (0, 0, {"external_key": "signup", "field_id":
                    self._field("res.partner", "signup_type").id})
        ])
        self.assertIsNotNone(odoo_mapping.PayloadBuilder(restricted, self.env).row_plan)
        builder = odoo_mapping.PayloadBuilder(restricted, env)
        self.assertIsNone(builder.row_plan)
        with self.assertRaises(mapping_out.MappingError) as caught:
            builder.build(self.partners[0].with_env(env))
        self.assertIsInstance(caught.exception.cause, AccessError)
        scripted = self.make_out_config(name="Scripted", line_ids=[
            (0, 0, {"external_key": "n", "field_id": self._field("res.partner", "name").id,
                    "value_type": "python", "python_code": "value.upper()"}),
        ])
        builder = odoo_mapping.PayloadBuilder(scripted, self.env)
        self.assertIsNone(builder.row_plan)
        self.assertEqual(builder.build(self.partners[0])[0], {"n": "ALICE"})

    def test_related_rows_are_read_once_per_run(self):
        builder = self.builder()
        builder.build(self.partners[0])
        # Bob has no link, Alice's country and parent are known: one query
        # (the partners themselves) for the second chunk of the run.
        with self.assertQueryCount(1):
            payloads = builder.build(self.partners[:2])
        self.assertEqual(payloads, self.orm_payloads(self.partners[:2]))
        # A fresh run reads them again: partners, their countries, parents,
        # parents' countries and those countries' currencies.
        with self.assertQueryCount(5):
            self.builder().build(self.partners[0])

    def test_models_that_change_reads_use_the_orm(self):
        # res.users masks private fields in _fetch_query: never read its rows.
        users = self.make_out_config(
            name="Users", model_id=self.env["ir.model"]._get("res.users").id,
            line_ids=[(0, 0, {"external_key": "login",
                              "field_id": self._field("res.users", "login").id})])
        self.assertIsNone(odoo_mapping.PayloadBuilder(users, self.env).row_plan)
        via_user = self.make_out_config(name="Via user", line_ids=[
            (0, 0, {"external_key": "login", "field_id": self._field("res.partner", "user_id").id,
                    "value_type": "relational", "related_path": "login"})])
        self.assertIsNone(odoo_mapping.PayloadBuilder(via_user, self.env).row_plan)

    def test_new_records_and_other_models_use_the_orm(self):
        # New records (onchange, drafts) hold values the table does not have.
        alice = self.partners[0]
        draft = alice.new({"name": "Alice (draft)"}, origin=alice)
        fresh = self.env["res.partner"].new({"name": "Nobody yet"})
        row_plan = self.builder().row_plan
        self.assertIsNone(odoo_rows.payloads(row_plan, draft))
        self.assertIsNone(odoo_rows.payloads(row_plan, fresh | alice))
        named = self.make_out_config(name="Names", line_ids=[
            (0, 0, {"external_key": "name", "field_id": self._field("res.partner", "name").id})])
        builder = odoo_mapping.PayloadBuilder(named, self.env)
        self.assertEqual(builder.build(draft | fresh), [{"name": "Alice (draft)"},
                                                        {"name": "Nobody yet"}])
        # Countries handed to a partner mapping are not read from the partner
        # table (id 1 exists in both): the ORM path refuses them.
        country = self.env["res.country"].browse(1)
        self.assertTrue(country.exists() and self.env["res.partner"].browse(1).exists())
        with self.assertRaises(mapping_out.MappingError):
            self.builder().build(country)

    def test_each_environment_gets_its_own_rows(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.belgium.with_context(lang="fr_FR").name = "Belgique"
        alice = self.partners[0]
        builder = self.builder(alice.with_context(lang="fr_FR").env)
        self.assertEqual(builder.build(alice.with_context(lang="fr_FR"))[0]["country_name"],
                         "Belgique")
        self.assertEqual(builder.build(alice.with_context(lang="en_US"))[0]["country_name"],
                         "Belgium")

    def test_pages_keep_their_size_across_reads(self):
        from unittest import mock

        from ..services import outbound

        partners = self.env["res.partner"].create([{"name": f"Page {i}"} for i in range(70)])
        config = self.make_out_config(name="Pages", is_paginated=True, page_size=30)
        with mock.patch.object(outbound, "READ_CHUNK", 50):
            sizes = [len(recs) for recs, _body in outbound.units_of(config, partners)]
        self.assertEqual(sizes, [30, 30, 10])
