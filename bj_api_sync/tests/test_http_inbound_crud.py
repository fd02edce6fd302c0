from urllib.parse import urlencode

from odoo.tests import tagged

from .http_common import BjApiHttpCase


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundCrud(BjApiHttpCase):
    """Create, read, update, delete and search through /api/sync/v1 (no lines)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.partner = cls.env["res.partner"].create({"name": f"Existing {cls.tag}"})

    def test_create_returns_201_and_return_fields(self):
        response = self.call("POST", "res.partner", {
            "data": {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"},
            "options": {"return_fields": ["id", "name", "create_date"]},
        })
        body = self.assertJson(response, 201)
        partner = self.env["res.partner"].browse(body["id"])
        self.assertEqual(partner.name, "John Doe")
        self.assertEqual(partner.email, "john@example.com")
        self.assertEqual(set(body["data"]), {"id", "name", "create_date"})
        self.assertEqual(body["data"]["name"], "John Doe")
        self.assertRegex(body["data"]["create_date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # The request ran as the API key's user, not as superuser.
        self.assertEqual(partner.create_uid, self.api_user)

    def test_create_without_return_fields_answers_sent_keys(self):
        body = self.assertJson(self.call("POST", "res.partner", {"data": {"name": "Short"}}), 201)
        self.assertEqual(body["data"], {"id": body["id"], "name": "Short"})

    def test_create_accepts_many2one_shapes_and_x2many_commands(self):
        belgium = self.env.ref("base.be")
        category = self.env["res.partner.category"].create({"name": f"Tag {self.tag}"})
        body = self.assertJson(self.call("POST", "res.partner", {"data": {
            "name": "Shapes",
            "country_id": {"id": belgium.id, "name": "whatever"},
            "category_id": [[6, 0, [category.id]]],
        }, "options": {"return_fields": ["country_id", "category_id"]}}), 201)
        self.assertEqual(body["data"]["country_id"], {"id": belgium.id, "name": belgium.name})
        self.assertEqual(body["data"]["category_id"], [category.id])
        body = self.assertJson(self.call("POST", "res.partner", {"data": {
            "name": "Plain ids", "country_id": belgium.id, "category_id": [category.id],
        }}), 201)
        partner = self.env["res.partner"].browse(body["id"])
        self.assertEqual(partner.country_id, belgium)
        self.assertEqual(partner.category_id, category)

    def test_create_refuses_unknown_and_readonly_fields(self):
        body = self.assertJson(self.call("POST", "res.partner", {
            "data": {"name": "X", "nme": "typo", "colour": 1},
        }), 400, "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["unknown_fields"], ["colour", "nme"])
        body = self.assertJson(self.call("POST", "res.partner", {
            "data": {"name": "X", "create_uid": 1},
        }), 400, "VALIDATION_ERROR")
        self.assertIn("read-only", body["error"]["message"])
        body = self.assertJson(self.call("POST", "res.partner", {
            "data": {"name": "X", "commercial_company_name": "computed"},
        }), 400, "VALIDATION_ERROR")
        self.assertFalse(self.env["res.partner"].search([("name", "=", "X")]))

    def test_create_refuses_wrong_types_and_bad_shapes(self):
        body = self.assertJson(self.call("POST", "res.partner", {
            "data": {"name": 3, "email": ["a"]},
        }), 400, "VALIDATION_ERROR")
        self.assertEqual({e["field"] for e in body["error"]["details"]["errors"]},
                         {"name", "email"})
        self.assertJson(self.call("POST", "res.partner", {"name": "no data wrapper"}),
                        400, "VALIDATION_ERROR")
        self.assertJson(self.call("POST", "res.partner", [1, 2]), 400, "VALIDATION_ERROR")
        self.assertJson(self.call("POST", "res.partner", {"data": {"name": "x"},
                                                          "options": {"return_fields": "name"}}),
                        400, "VALIDATION_ERROR")

    def test_read_one(self):
        body = self.assertJson(self.call("GET", f"res.partner/{self.partner.id}"), 200)
        self.assertEqual(body["id"], self.partner.id)
        self.assertEqual(body["data"]["name"], self.partner.name)
        self.assertIn("email", body["data"])
        body = self.assertJson(
            self.call("GET", f"res.partner/{self.partner.id}?fields=name,email"), 200
        )
        self.assertEqual(body["data"], {"id": self.partner.id, "name": self.partner.name,
                                        "email": None})
        body = self.assertJson(self.call("GET", f"res.partner/{self.partner.id}?fields=id"), 200)
        self.assertEqual(body["data"], {"id": self.partner.id})
        body = self.assertJson(
            self.call("GET", f"res.partner/{self.partner.id}?fields=name,nope"), 400,
            "VALIDATION_ERROR",
        )
        self.assertEqual(body["error"]["details"]["unknown"], ["nope"])

    def test_read_unknown_record_is_404(self):
        self.assertJson(self.call("GET", "res.partner/999999999"), 404, "NOT_FOUND")
        self.assertJson(self.call("GET", "res.partner/abc"), 404, "NOT_FOUND")
        self.assertJson(self.call("GET", "res.partner/99999999999999"), 404, "NOT_FOUND")

    def test_update(self):
        response = self.call("PUT", f"res.partner/{self.partner.id}", {
            "data": {"email": "new@example.com", "phone": "+9876543210"},
            "options": {"partial_update": True},
        })
        body = self.assertJson(response, 200)
        self.assertEqual(body["id"], self.partner.id)
        self.assertEqual(body["updated_fields"], ["email", "phone"])
        self.assertRegex(body["write_date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.email, "new@example.com")
        self.assertEqual(self.partner.phone, "+9876543210")

    def test_update_errors(self):
        self.assertJson(self.call("PUT", "res.partner/999999999", {"data": {"name": "x"}}),
                        404, "NOT_FOUND")
        self.assertJson(self.call("PUT", f"res.partner/{self.partner.id}", raw="{bad json"),
                        400, "VALIDATION_ERROR")
        body = self.assertJson(
            self.call("PUT", f"res.partner/{self.partner.id}", {"data": {"name": False}}),
            400, "VALIDATION_ERROR",
        )
        self.assertTrue(body["error"]["message"])
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.name, f"Existing {self.tag}")

    def test_delete_and_archive(self):
        partner = self.env["res.partner"].create({"name": "To archive"})
        body = self.assertJson(self.call("DELETE", f"res.partner/{partner.id}",
                                         {"options": {"archive_instead": True}}), 200)
        self.assertEqual(body, {"success": True, "message": "Record archived successfully",
                                "id": partner.id})
        partner.invalidate_recordset()
        self.assertTrue(partner.exists())
        self.assertFalse(partner.active)
        other = self.env["res.partner"].create({"name": "To delete"})
        body = self.assertJson(self.call("DELETE", f"res.partner/{other.id}"), 200)
        self.assertEqual(body["message"], "Record deleted successfully")
        self.assertFalse(other.exists())
        self.assertJson(self.call("DELETE", f"res.partner/{other.id}"), 404, "NOT_FOUND")

    def test_search_domain_fields_order_and_pagination(self):
        names = [f"Srch {self.tag} {i}" for i in range(5)]
        self.env["res.partner"].create([{"name": n, "email": f"{i}@s.example"}
                                        for i, n in enumerate(names)])
        domain = f'[["name", "like", "Srch {self.tag}"]]'
        response = self.opener.get(
            self.base_url() + "/api/sync/v1/res.partner/search",
            params={"domain": domain, "fields": "name,email", "order": "name desc",
                    "page": 2, "per_page": 2},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        body = self.assertJson(response, 200)
        self.assertEqual(body["count"], 5)
        self.assertEqual([r["name"] for r in body["records"]], [names[2], names[1]])
        self.assertEqual(set(body["records"][0]), {"id", "name", "email"})
        pagination = body["pagination"]
        self.assertEqual((pagination["total"], pagination["page"], pagination["per_page"],
                          pagination["pages"]), (5, 2, 2, 3))
        self.assertIn("page=3", pagination["next"])
        self.assertIn("page=1", pagination["previous"])
        self.assertTrue(pagination["next"].startswith("/api/sync/v1/res.partner/search?"))
        # limit/offset style
        response = self.opener.get(
            self.base_url() + "/api/sync/v1/res.partner/search",
            params={"domain": domain, "fields": "name", "order": "name", "limit": 2,
                    "offset": 4},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        body = self.assertJson(response, 200)
        self.assertEqual([r["name"] for r in body["records"]], [names[4]])
        self.assertIsNone(body["pagination"]["next"])

    def test_search_links_with_offset_do_not_overlap(self):
        names = [f"Offs {self.tag} {i}" for i in range(5)]
        self.env["res.partner"].create([{"name": n} for n in names])
        url = (self.base_url() + "/api/sync/v1/res.partner/search?"
               + urlencode({"domain": f'[["name", "like", "Offs {self.tag}"]]',
                            "fields": "name", "order": "name", "limit": 2, "offset": 1}))
        seen = []
        while url:
            response = self.opener.get(url, headers={"Authorization": f"Bearer {self.api_key}"})
            body = self.assertJson(response, 200)
            seen += [r["name"] for r in body["records"]]
            link = body["pagination"]["next"]
            url = self.base_url() + link if link else None
        self.assertEqual(seen, names[1:])

    def test_search_validation_errors(self):
        for query, parameter in (
            ("domain=[[\"name\",\"=\"]]", "domain"),
            ("domain=not a domain", "domain"),
            ("domain=[[\"nope\",\"=\",1]]", "domain"),
            # computed, not stored, no search method: Odoo would ignore the term
            ("domain=[[\"contact_address\",\"=\",\"x\"]]", "domain"),
            ("domain=[[\"name\",\"exec\",1]]", "domain"),
            ("order=name;drop table res_partner", "order"),
            ("order=nope", "order"),
            ("limit=100000", "limit"),
            ("limit=abc", "limit"),
            ("fields=nope", "fields"),
        ):
            with self.subTest(query=query):
                body = self.assertJson(self.call("GET", f"res.partner/search?{query}"), 400,
                                       "VALIDATION_ERROR")
                self.assertEqual(body["error"]["details"]["parameter"], parameter)

    def test_get_collection_is_not_a_route(self):
        response = self.call("GET", "res.partner?limit=1&fields=name")
        self.assertJson(response, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(response.headers["Allow"], "POST")


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundBatch(BjApiHttpCase):
    """The three batch modes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_config()
        cls.partner = cls.env["res.partner"].create({"name": f"Batch target {cls.tag}"})

    def _count(self, prefix):
        return self.env["res.partner"].search_count([("name", "like", prefix)])

    def test_transaction_all_or_nothing(self):
        prefix = f"Tx {self.tag}"
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [
                {"method": "create", "data": {"name": f"{prefix} 1"}},
                {"method": "update", "id": self.partner.id, "data": {"phone": "+1"}},
                {"method": "create", "data": {"name": f"{prefix} 2"}},
                {"method": "create", "data": {"name": False}},
            ],
            "options": {"transaction": True},
        }), 400, "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["index"], 3)
        self.assertEqual(self._count(prefix), 0)
        self.partner.invalidate_recordset()
        self.assertFalse(self.partner.phone)

    def test_transaction_success(self):
        prefix = f"TxOk {self.tag}"
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [
                {"method": "create", "data": {"name": f"{prefix} 1"}},
                {"method": "create", "data": {"name": f"{prefix} 2"}},
                {"method": "update", "id": self.partner.id, "data": {"phone": "+2"}},
            ],
            "options": {"transaction": True},
        }), 200)
        self.assertEqual([r["index"] for r in body["results"]], [0, 1, 2])
        self.assertTrue(all(r["success"] for r in body["results"]))
        self.assertEqual(body["results"][2]["id"], self.partner.id)
        self.assertEqual(self._count(prefix), 2)
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.phone, "+2")

    def test_continue_on_error_reports_each_index(self):
        prefix = f"Coe {self.tag}"
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [
                {"method": "create", "data": {"name": f"{prefix} 1"}},
                {"method": "update", "id": 999999999, "data": {"name": "x"}},
                {"method": "create", "data": {"name": f"{prefix} 3", "nope": 1}},
                {"method": "create", "data": {"name": f"{prefix} 4"}},
            ],
            "options": {"continue_on_error": True},
        }), 200)
        results = body["results"]
        self.assertEqual([r["index"] for r in results], [0, 1, 2, 3])
        self.assertEqual([r["success"] for r in results], [True, False, False, True])
        self.assertEqual(results[1]["error"]["code"], "NOT_FOUND")
        self.assertEqual(results[2]["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(body["summary"], {"total": 4, "succeeded": 2, "failed": 2})
        self.assertEqual(self._count(prefix), 2)

    def test_default_mode_stops_at_first_error(self):
        prefix = f"Stop {self.tag}"
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [
                {"method": "create", "data": {"name": f"{prefix} 1"}},
                {"method": "create", "data": {"name": False}},
                {"method": "create", "data": {"name": f"{prefix} 3"}},
            ],
        }), 200)
        self.assertEqual([r["success"] for r in body["results"]], [True, False, False])
        self.assertTrue(body["results"][2]["skipped"])
        self.assertEqual(self._count(prefix), 1)

    def test_batch_validation(self):
        self.assertJson(self.call("POST", "res.partner/batch", {"operations": []}), 400,
                        "VALIDATION_ERROR")
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [{"method": "explode"}],
        }), 400, "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["errors"][0]["index"], 0)
        self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [{"method": "create", "data": {"name": "x"}}],
            "options": {"transaction": True, "continue_on_error": True},
        }), 400, "VALIDATION_ERROR")

    def test_batch_delete(self):
        partner = self.env["res.partner"].create({"name": "batch delete"})
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [{"method": "delete", "id": partner.id}],
            "options": {"transaction": True},
        }), 200)
        self.assertEqual(body["results"], [{"index": 0, "success": True, "id": partner.id}])
        self.assertFalse(partner.exists())


    def test_batch_operations_need_the_verbs_of_the_config(self):
        # A resource open to GET and POST only: a batch may not update or delete.
        self.config.http_method_ids = [(6, 0, [self.methods["GET"].id, self.methods["POST"].id])]
        partner = self.env["res.partner"].create({"name": "batch guarded"})
        body = self.assertJson(self.call("POST", "res.partner/batch", {
            "operations": [{"method": "create", "data": {"name": "batch guarded 2"}},
                           {"method": "delete", "id": partner.id}],
            "options": {"continue_on_error": True},
        }), 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(body["error"]["details"]["index"], 1)
        self.assertTrue(partner.exists())
        self.assertFalse(self.env["res.partner"].search([("name", "=", "batch guarded 2")]))


@tagged("post_install", "-at_install", "bj_api_sync_http")
class TestInboundMappings(BjApiHttpCase):
    """Config lines: external keys, identifier upsert, scripts, mapped many2one, params,
    filter domain."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        field = cls.env["ir.model.fields"]._get
        cls.country_config = cls.make_config(
            model=cls.country_model, endpoint="countries", methods=("GET",),
            line_ids=[(0, 0, {"external_key": "iso", "field_id": field("res.country", "code").id,
                              "is_identifier": True})],
        )
        cls.config = cls.make_config(
            endpoint="customers",
            filter_domain="[('is_company', '=', True)]",
            line_ids=[
                (0, 0, {"external_key": "ext_ref", "field_id": field("res.partner", "ref").id,
                        "is_identifier": True}),
                (0, 0, {"external_key": "full_name",
                        "field_id": field("res.partner", "name").id}),
                (0, 0, {"external_key": "contact.mail",
                        "field_id": field("res.partner", "email").id}),
                (0, 0, {"external_key": "company",
                        "field_id": field("res.partner", "is_company").id}),
                (0, 0, {"external_key": "phone", "field_id": field("res.partner", "phone").id,
                        "value_type": "python",
                        "python_code": "value.replace(' ', '') if value else value"}),
                (0, 0, {"external_key": "country", "value_type": "relational",
                        "field_id": field("res.partner", "country_id").id,
                        "mapping_config_id": cls.country_config.id}),
            ],
            param_ids=[(0, 0, {"key": "mail", "field_id": field("res.partner", "email").id,
                               "operator": "="})],
        )

    def _create(self, **data):
        return self.call("POST", "customers", {"data": {"company": True, **data}})

    def test_external_keys_scripts_and_mapped_many2one(self):
        body = self.assertJson(self._create(
            ext_ref=f"R-{self.tag}", full_name="ACME", contact={"mail": "acme@example.com"},
            phone="+32 470 12 34", country="BE",
        ), 201)
        partner = self.env["res.partner"].browse(body["id"])
        self.assertEqual(partner.name, "ACME")
        self.assertEqual(partner.email, "acme@example.com")
        self.assertEqual(partner.phone, "+324701234")
        self.assertEqual(partner.country_id, self.env.ref("base.be"))
        self.assertEqual(partner.ref, f"R-{self.tag}")
        self.assertEqual(body["data"]["full_name"], "ACME")
        self.assertEqual(body["data"]["contact"], {"mail": "acme@example.com"})

    def test_upsert_through_identifier(self):
        first = self.assertJson(self._create(ext_ref=f"U-{self.tag}", full_name="One"), 201)
        second = self.call("POST", "customers",
                           {"data": {"ext_ref": f"U-{self.tag}", "full_name": "Two"}})
        body = self.assertJson(second, 200)
        self.assertEqual(body["id"], first["id"])
        self.assertEqual(self.env["res.partner"].browse(first["id"]).name, "Two")
        self.assertEqual(
            self.env["res.partner"].search_count([("ref", "=", f"U-{self.tag}")]), 1
        )

    def test_return_fields_take_keys_and_readable_field_names(self):
        # The seed's example on a config whose lines map name to full_name.
        body = self.assertJson(self.call("POST", "customers", {
            "data": {"company": True, "full_name": "Seed", "contact": {"mail": "s@example.com"}},
            "options": {"return_fields": ["id", "name", "create_date"]},
        }), 201)
        self.assertEqual(set(body["data"]), {"id", "name", "create_date"})
        self.assertEqual(body["data"]["name"], "Seed")
        self.assertRegex(body["data"]["create_date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        partner = self.env["res.partner"].browse(body["id"])
        # Keys and field names mix; each answers under the name asked for.
        body = self.assertJson(self.call("POST", "customers", {
            "data": {"company": True, "full_name": "Mixed", "contact": {"mail": "m@x.example"}},
            "options": {"return_fields": ["full_name", "email", "contact.mail"]},
        }), 201)
        self.assertEqual(body["data"], {"id": body["id"], "full_name": "Mixed",
                                        "email": "m@x.example",
                                        "contact": {"mail": "m@x.example"}})
        body = self.assertJson(self.call("GET", f"customers/{partner.id}?fields=name,ext_ref"),
                               200)
        self.assertEqual(body["data"], {"id": partner.id, "name": "Seed", "ext_ref": None})
        body = self.assertJson(self.call(
            "GET", f'customers/search?domain=[["id","=",{partner.id}]]&fields=full_name,email'),
            200)
        self.assertEqual(body["records"], [{"id": partner.id, "full_name": "Seed",
                                            "email": "s@example.com"}])

    def test_config_credentials_select_the_published_keys_only(self):
        # A config token is no Odoo user of its own: the lines are all that the
        # configuration publishes, whatever its run-as user may read.
        self.config.bearer_token = f"cfg-token-{self.tag}"
        token = {"Authorization": f"Bearer cfg-token-{self.tag}"}
        partner = self.env["res.partner"].create({"name": "Published", "is_company": True,
                                                  "vat": "BE0477472701"})
        body = self.assertJson(self.call("GET", f"customers/{partner.id}?fields=full_name",
                                         headers=token), 200)
        self.assertEqual(body["data"], {"id": partner.id, "full_name": "Published"})
        body = self.assertJson(self.call("GET", f"customers/{partner.id}?fields=full_name,vat",
                                         headers=token), 400, "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["unknown"], ["vat"])
        body = self.assertJson(self.call("POST", "customers", {
            "data": {"company": True, "full_name": f"Never {self.tag}"},
            "options": {"return_fields": ["id", "name"]},
        }, headers=token), 400, "VALIDATION_ERROR")
        self.assertFalse(self.env["res.partner"].search([("name", "=", f"Never {self.tag}")]))
        # The same user's own API key may select any field it may read.
        body = self.assertJson(self.call("GET", f"customers/{partner.id}?fields=vat"), 200)
        self.assertEqual(body["data"], {"id": partner.id, "vat": "BE0477472701"})

    def test_unknown_return_field_is_400_before_anything_is_written(self):
        body = self.assertJson(self.call("POST", "customers", {
            "data": {"company": True, "full_name": f"Never {self.tag}"},
            "options": {"return_fields": ["id", "nope"]},
        }), 400, "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"],
                         {"parameter": "options.return_fields", "unknown": ["nope"]})
        self.assertFalse(self.env["res.partner"].search([("name", "=", f"Never {self.tag}")]))
        body = self.assertJson(self.call("GET", "customers/search?fields=full_name,nope"), 400,
                               "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["unknown"], ["nope"])

    def test_unknown_keys_listed(self):
        body = self.assertJson(self._create(full_name="X", name="raw field", zz=1), 400,
                               "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["unknown_fields"], ["name", "zz"])

    def test_unknown_mapped_identifier_is_400(self):
        body = self.assertJson(self._create(full_name="X", country="ZZ"), 400,
                               "VALIDATION_ERROR")
        self.assertIn("country", body["error"]["message"])

    def test_read_uses_external_keys(self):
        partner = self.env["res.partner"].create({
            "name": "Mapped", "is_company": True, "email": "m@example.com", "ref": "M1",
        })
        body = self.assertJson(self.call("GET", f"customers/{partner.id}"), 200)
        self.assertEqual(body["data"]["full_name"], "Mapped")
        self.assertEqual(body["data"]["contact"], {"mail": "m@example.com"})
        self.assertEqual(body["data"]["ext_ref"], "M1")
        self.assertNotIn("name", body["data"])

    def test_filter_domain_bounds_everything(self):
        person = self.env["res.partner"].create({"name": "Not a company", "is_company": False})
        self.assertJson(self.call("GET", f"customers/{person.id}"), 404, "NOT_FOUND")
        self.assertJson(self.call("PUT", f"customers/{person.id}",
                                  {"data": {"full_name": "hacked"}}), 404, "NOT_FOUND")
        self.assertJson(self.call("DELETE", f"customers/{person.id}"), 404, "NOT_FOUND")
        person.invalidate_recordset()
        self.assertEqual(person.name, "Not a company")
        body = self.assertJson(self.call("GET", "customers/search?per_page=1000"), 200)
        self.assertNotIn(person.id, [r["id"] for r in body["records"]])

    def test_param_filter_and_key_domain(self):
        self.env["res.partner"].create([
            {"name": "P1", "is_company": True, "email": f"p1{self.tag}@example.com"},
            {"name": "P2", "is_company": True, "email": f"p2{self.tag}@example.com"},
        ])
        body = self.assertJson(
            self.call("GET", f"customers/search?mail=p1{self.tag}@example.com"), 200
        )
        self.assertEqual([r["full_name"] for r in body["records"]], ["P1"])
        body = self.assertJson(self.call(
            "GET", 'customers/search?domain=[["full_name","=","P2"]]&fields=full_name'), 200)
        self.assertEqual(body["records"], [{"id": body["records"][0]["id"], "full_name": "P2"}])
        # Unmapped fields are not searchable through a config with lines.
        self.assertJson(self.call("GET", 'customers/search?domain=[["comment","=","x"]]'),
                        400, "VALIDATION_ERROR")
