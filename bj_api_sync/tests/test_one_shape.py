"""One record, one JSON shape: every path that serialises a record answers the same.

Inbound answers (read and search, of a config with lines and of one without)
and webhook payloads use the ANSWER profile of ``engine.serialize`` (a
many2one is ``{"id", "name"}``); the outbound body of the same lines uses the
OUTBOUND profile, which differs in the many2one only (the bare id).
"""
import json

from odoo.tests import tagged

from ..services import inbound_crud, inbound_spec, odoo_mapping
from .common import BjApiSyncCase

NAMES = ["name", "email", "country_id", "parent_id", "category_id", "color", "active",
         "date", "write_date", "comment", "partner_latitude", "type", "phone"]


@tagged("post_install", "-at_install")
class TestOneShape(BjApiSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.company = Partner.create({"name": "Shape Co", "is_company": True})
        cls.tag = cls.env["res.partner.category"].create({"name": "Shape tag"})
        cls.partner = Partner.create({
            "name": "Shape Alice", "email": "shape@example.com",
            "country_id": cls.env.ref("base.fr").id, "parent_id": cls.company.id,
            "category_id": [(6, 0, cls.tag.ids)], "color": 4, "date": "2024-02-03",
            "comment": "<p>Hi</p>", "partner_latitude": 1.5, "type": "invoice",
        })
        lines = [(0, 0, {"external_key": name, "field_id": cls._field("res.partner", name).id,
                         "value_type": "plain"}) for name in NAMES]
        cls.plain = cls.make_in_config(name="Shape plain", endpoint="shape-plain")
        cls.mapped = cls.make_in_config(name="Shape mapped", endpoint="shape-mapped",
                                        line_ids=lines)
        cls.outbound = cls.make_out_config(name="Shape out", line_ids=lines)
        cls.env.flush_all()

    def resource(self, config):
        return inbound_crud.Resource(self.env, inbound_spec.build_spec(config))

    def answers(self):
        """The record through every inbound path and the webhook payload, by path."""
        pid = self.partner.id
        fields = {"fields": ",".join(NAMES)}
        search = {"domain": json.dumps([["id", "=", pid]]), **fields}
        out = {}
        for label, config in (("plain", self.plain), ("mapped", self.mapped)):
            res = self.resource(config)
            out[f"GET {label}"] = res.do_read(pid, fields).body["data"]
            out[f"search {label}"] = res.do_search(search, "/x").body["records"][0]
        mapped_default = self.resource(self.mapped).do_read(pid, {}).body["data"]
        out["GET mapped, default keys"] = mapped_default
        webhook = self.env["bj.api.webhook"]._bj_data(self.partner, list(NAMES))[0]
        out["webhook"] = {"id": pid, **webhook}
        return out

    def test_every_answer_is_the_same(self):
        answers = self.answers()
        reference = answers.pop("GET plain")
        self.assertEqual(reference["country_id"],
                         {"id": self.env.ref("base.fr").id, "name": "France"})
        self.assertEqual(reference["parent_id"], {"id": self.company.id, "name": "Shape Co"})
        self.assertEqual(reference["category_id"], self.tag.ids)
        self.assertEqual(reference["date"], "2024-02-03")
        self.assertRegex(reference["write_date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsNone(reference["phone"])
        for path, answer in answers.items():
            with self.subTest(path=path):
                self.assertEqual(answer, reference)

    def test_outbound_body_differs_in_many2one_only(self):
        reference = self.answers()["GET plain"]
        [body] = odoo_mapping.payloads_of(self.outbound, self.partner)
        self.assertEqual(body, {
            **{k: v for k, v in reference.items() if k != "id"},
            "country_id": self.env.ref("base.fr").id, "parent_id": self.company.id,
        })
